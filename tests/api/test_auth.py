"""Keys, roles and tenancy: 401 without a valid key, 403 for a wrong role, 404 across tenants."""

from __future__ import annotations

import pytest

from tests.api.conftest import record

V1 = [
    ("post", "/v1/evidence", {"records": []}),
    ("post", "/v1/evidence/xapi", {"statements": []}),
    ("put", "/v1/educators/T1", {"goals": []}),
    ("get", "/v1/educators/T1", None),
    ("get", "/v1/educators/T1/mastery", None),
    ("get", "/v1/educators/T1/recommendations", None),
    ("get", "/v1/educators/T1/pathway?goal=INS.ELL", None),
    ("post", "/v1/recommendations:batch", {"educator_ids": ["T1"]}),
    ("post", "/v1/feedback", {"events": [{"educator_id": "T1", "activity_id": "ACT-001",
                                          "event": "accepted"}]}),
    ("get", "/v1/framework", None),
    ("get", "/v1/activities", None),
    ("post", "/v1/admin/model:reload", None),
    ("get", "/v1/admin/keys", None),
]


@pytest.mark.parametrize("method,path,body", V1, ids=[f"{m} {p}" for m, p, _ in V1])
def test_every_v1_endpoint_needs_a_key(api, method, path, body):
    kw = {} if body is None else {"json": body}
    for headers in ({}, {"Authorization": "Bearer pdrec_nope_nope"}, {"X-API-Key": "wrong"},
                    {"Authorization": "Basic abc"}):
        r = getattr(api.client, method)(path, headers=headers, **kw)
        assert r.status_code == 401, (headers, r.text)
        assert r.json()["error"]["code"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"


def test_x_api_key_header_is_accepted(api):
    r = api.client.get("/v1/framework", headers={"X-API-Key": api.keys["coach"]})
    assert r.status_code == 200


@pytest.mark.parametrize("authorization", ["Basic abc", "Bearer", "Bearer   ", "token"])
def test_a_malformed_authorization_header_is_refused_even_beside_a_valid_key(api, authorization):
    r = api.client.get("/v1/framework", headers={"X-API-Key": api.keys["coach"],
                                                 "Authorization": authorization})
    assert r.status_code == 401, r.text
    err = r.json()["error"]
    assert "malformed Authorization header" in err["message"]
    assert err["details"][0]["field"] == "Authorization"


def test_two_headers_must_carry_the_same_key(api):
    key = api.keys["coach"]
    same = api.client.get("/v1/framework", headers={"X-API-Key": key,
                                                    "Authorization": f"Bearer {key}"})
    assert same.status_code == 200
    for other in ("", "wrong", api.keys["admin"]):
        r = api.client.get("/v1/framework", headers={"X-API-Key": other,
                                                     "Authorization": f"Bearer {key}"})
        assert r.status_code == 401, (other, r.text)
        assert "conflicting credentials" in r.json()["error"]["message"]


@pytest.mark.parametrize("who,method,path,body", [
    ("coach", "post", "/v1/evidence", {"records": [record(1)]}),
    ("coach", "post", "/v1/evidence/xapi", {"statements": []}),
    ("coach", "put", "/v1/educators/T1", {"goals": []}),
    ("platform", "post", "/v1/admin/model:reload", None),
    ("coach", "post", "/v1/admin/model:reload", None),
    ("platform", "get", "/v1/admin/keys", None),
    ("platform", "post", "/v1/feedback", {"events": [
        {"educator_id": "T1", "activity_id": "ACT-001", "event": "pinned"}]}),
])
def test_wrong_role_is_403_and_names_the_roles_allowed(api, who, method, path, body):
    kw = {} if body is None else {"json": body}
    r = getattr(api.client, method)(path, headers=api.h(who), **kw)
    assert r.status_code == 403, r.text
    err = r.json()["error"]
    assert err["code"] == "forbidden" and "roles allowed" in err["message"]
    assert api.services.store.count_evidence("acme") == 0


@pytest.mark.parametrize("path", [
    "/v1/educators/T1", "/v1/educators/T1/mastery", "/v1/educators/T1/recommendations",
    "/v1/educators/T1/pathway?goal=INS.ELL"])
def test_other_tenants_educator_is_404_exactly_like_a_missing_one(api_any, path):
    assert api_any.post("/v1/evidence", json={"records": [record(1)]}).status_code == 200
    mine = api_any.get(path)
    assert mine.status_code == 200, mine.text
    theirs = api_any.get(path, who="other")
    missing = api_any.get(path.replace("T1", "T9"))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["error"]["code"] == missing.json()["error"]["code"] == "not_found"
    assert theirs.json() == api_any.get(path, who="other").json()


def test_other_tenant_cannot_write_feedback_or_batch_for_my_educator(api):
    api.post("/v1/evidence", json={"records": [record(1)]})
    fb = {"events": [{"educator_id": "T1", "activity_id": "ACT-001", "event": "accepted"}]}
    assert api.post("/v1/feedback", who="other", json=fb).status_code == 404
    r = api.post("/v1/recommendations:batch", who="other", json={"educator_ids": ["T1"]})
    assert r.status_code == 200 and r.json()["not_found"] == ["T1"] and r.json()["results"] == []
    assert api.services.store.feedback_rows("acme", ["T1"]) == []


def test_same_evidence_id_in_two_tenants_does_not_collide(api):
    assert api.post("/v1/evidence", json={"records": [record(1)]}).json()["accepted"] == 1
    assert api.post("/v1/evidence", who="other",
                    json={"records": [record(1)]}).json()["accepted"] == 1


def test_key_revoked_through_the_admin_api_stops_at_once(api):
    assert api.get("/v1/framework").status_code == 200  # cached now
    keys = api.get("/v1/admin/keys", who="admin").json()
    platform = next(k for k in keys if k["role"] == "platform")
    assert "key" not in platform or platform["key"] is None
    r = api.client.delete(f"/v1/admin/keys/{platform['key_id']}", headers=api.h("admin"))
    assert r.status_code == 200 and r.json()["revoked_at"]
    r = api.get("/v1/framework")
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]


def test_key_revoked_elsewhere_stops_after_the_cache_ttl(make_api):
    with make_api(key_cache_ttl=0) as api:
        assert api.get("/v1/framework").status_code == 200
        store = api.services.store
        key_id = next(k.key_id for k in store.list_keys("acme") if k.role == "platform")
        store.revoke_key(key_id)  # as `pdrec keys revoke` would, from another process
        assert api.get("/v1/framework").status_code == 401


def test_admin_creates_a_key_shown_once_in_its_own_tenant(api):
    r = api.post("/v1/admin/keys", who="admin", json={"role": "coach", "label": "tablet"})
    assert r.status_code == 201
    secret = r.json()["key"]
    assert r.json()["tenant_id"] == "acme"
    assert api.client.get("/v1/framework", headers={"X-API-Key": secret}).status_code == 200
    listed = api.get("/v1/admin/keys", who="admin").json()
    assert all(k["key"] is None for k in listed)
    bad = api.post("/v1/admin/keys", who="admin", json={"role": "root"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "role"


def test_revoking_a_key_of_another_tenant_is_404(api):
    other = next(k.key_id for k in api.services.store.list_keys("other"))
    r = api.client.delete(f"/v1/admin/keys/{other}", headers=api.h("admin"))
    assert r.status_code == 404
    assert api.get("/v1/framework", who="other").status_code == 200


class _CountingStore:
    def __init__(self, records):
        self.records = records
        self.lookups = 0

    def key_by_hash(self, key_hash):
        self.lookups += 1
        return self.records.get(key_hash)


def test_key_cache_keeps_active_keys_for_the_ttl_only():
    from datetime import UTC, datetime

    from api.key_cache import KeyCache
    from recommender.store import ApiKey

    now = datetime.now(UTC)
    active = ApiKey("k1", "acme", "platform", "", now)
    revoked = ApiKey("k2", "acme", "platform", "", now, revoked_at=now)
    store = _CountingStore({"h1": active, "h2": revoked})
    now_s = [100.0]
    cache = KeyCache(ttl=5, clock=lambda: now_s[0])  # a fake clock: no sleeping
    assert cache.lookup(store, "h1") is active and cache.lookup(store, "h1") is active
    assert store.lookups == 1 and cache.cached("h1") is active
    for _ in range(2):  # revoked and unknown keys are never cached
        assert cache.lookup(store, "h2") is revoked and cache.lookup(store, "nope") is None
    assert store.lookups == 5
    cache.forget("k1")
    assert cache.cached("h1") is None
    cache.lookup(store, "h1")
    now_s[0] += 4.9
    assert cache.cached("h1") is active  # within the ttl
    now_s[0] += 0.2
    assert cache.cached("h1") is None  # expired
    off = KeyCache(ttl=0)
    off.lookup(store, "h1")
    assert off.cached("h1") is None


def test_an_expired_key_is_reread_by_one_request_while_the_others_keep_it():
    from datetime import UTC, datetime

    from api.key_cache import KeyCache
    from recommender.store import ApiKey

    now = datetime.now(UTC)
    active = ApiKey("k1", "acme", "platform", "", now)
    store = _CountingStore({"h1": active})
    now_s = [100.0]
    cache = KeyCache(ttl=5, clock=lambda: now_s[0])
    cache.lookup(store, "h1")
    now_s[0] += 5.1
    assert cache.cached("h1") is None  # the first request after expiry re-reads it...
    assert cache.cached("h1") is active  # ...the others meanwhile keep the known record
    assert cache.lookup(store, "h1") is active and store.lookups == 2  # the re-read
    assert cache.cached("h1") is active  # fresh again
    now_s[0] += 5.1
    assert cache.cached("h1") is None
    now_s[0] += 5.1  # a re-read that never finished holds nobody for longer than the ttl
    assert cache.cached("h1") is None
    revoked = ApiKey("k1", "acme", "platform", "", now, revoked_at=now)
    store.records["h1"] = revoked  # revoked in another process
    assert cache.lookup(store, "h1") is revoked
    now_s[0] += 5.1
    assert cache.cached("h1") is None and cache.cached("h1") is None  # nothing kept
