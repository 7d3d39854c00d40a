"""Educator keys: bound to one educator, they read it and the tenant's content only.

Tested like tenant isolation (test_auth.py): another educator of the same tenant is a 404 with
the very body a missing educator gets, and a sweep over every ``/v1`` operation of the app's
OpenAPI checks that no route (a new one included) answers an educator key beyond its reach.
"""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import record

OWN, OTHER, MISSING = "T1", "T2", "T9"

CONTENT_READS = {"/v1/framework", "/v1/activities", "/v1/crosswalks", "/v1/crosswalks/{scheme}"}
"""What an educator key may read besides its own educator: the tenant's content."""
OWN_WRITES = {("put", "/v1/educators/{educator_id}/consent")}
"""What it may write: its own consent settings."""
EDUCATOR = "/v1/educators/{educator_id}"
FILL = {"team_id": "team-1", "scheme": "danielson", "kind": "framework", "key_id": "abc"}


@pytest.fixture
def ed(api):
    """The ``api`` with evidence for T1 and T2 and an educator key bound to T1 (``who="educator"``)."""
    batch = [record(1, educator=OWN), record(2, educator=OTHER, day=2)]
    assert api.post("/v1/evidence", json={"records": batch}).json()["accepted"] == 2
    api.keys["educator"], _ = api.services.store.create_key("acme", "educator", "T1's",
                                                            educator_id=OWN)
    return api


def _operations(api) -> list[tuple[str, str]]:
    paths = api.client.app.openapi()["paths"]
    return sorted((method, path) for path, ops in paths.items() if path.startswith("/v1/")
                  for method in ops)


def _call(api, method, template, educator_id, who="educator"):
    path = re.sub(r"\{(\w+)\}", lambda m: educator_id if m[1] == "educator_id" else FILL[m[1]],
                  template)
    kw = {} if method in ("get", "delete") else {"json": {}}
    return api.client.request(method.upper(), path, headers=api.h(who), **kw)


def _missing_body(educator_id):
    return {"error": {"status": 404, "code": "not_found", "message": f"no educator {educator_id!r}",
                      "details": [{"field": "educator_id", "value": educator_id,
                                   "reason": "no such educator in this tenant"}]}}


@pytest.mark.parametrize("path", ["/v1/educators/{}", "/v1/educators/{}/mastery",
                                  "/v1/educators/{}/recommendations", "/v1/educators/{}/evidence",
                                  "/v1/educators/{}/feedback"])
def test_own_educator_is_read_and_another_is_404_exactly_like_a_missing_one(ed, path):
    mine = ed.get(path.format(OWN), who="educator")
    assert mine.status_code == 200, mine.text
    theirs = ed.get(path.format(OTHER), who="educator")
    assert ed.get(path.format(OTHER)).status_code == 200  # T2 exists: platform reads it
    missing = ed.get(path.format(MISSING), who="educator")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == _missing_body(OTHER)
    assert missing.json() == _missing_body(MISSING)
    assert ed.get(path.format(MISSING)).json() == _missing_body(MISSING)  # the routes' own 404


@pytest.mark.parametrize("method,path,body", [
    ("get", "/v1/educators", None),
    ("post", "/v1/recommendations:batch", {"educator_ids": [OWN]}),
    ("post", "/v1/pathways:batch", {"educator_ids": [OWN], "goal": "INS.ELL"}),
    ("post", "/v1/evidence", {"records": [record(3, educator=OWN)]}),
    ("post", "/v1/feedback", {"events": [{"educator_id": OWN, "activity_id": "ACT-001",
                                          "event": "completed"}]}),
    ("put", f"/v1/educators/{OWN}", {"goals": []}),
    ("get", "/v1/admin/keys", None),
    ("get", "/v1/teams/team-1", None),
])
def test_what_is_not_about_its_own_educator_is_403(ed, method, path, body):
    kw = {} if body is None else {"json": body}
    r = getattr(ed.client, method)(path, headers=ed.h("educator"), **kw)
    assert r.status_code == 403, r.text
    err = r.json()["error"]
    assert err["code"] == "forbidden" and "educator key" in err["message"]
    assert err["details"][0] == {"field": "role", "value": "educator",
                                 "reason": err["details"][0]["reason"]}
    assert ed.services.store.count_evidence("acme") == 2
    assert ed.services.store.feedback_rows("acme", [OWN]) == []


def test_every_v1_operation_keeps_an_educator_key_to_its_own_educator(ed):
    """The sweep: a route added later is covered without touching this test."""
    operations = _operations(ed)
    assert len(operations) > 30
    for method, template in operations:
        about_one = template == EDUCATOR or template.startswith(EDUCATOR + "/")
        if about_one:
            r = _call(ed, method, template, OTHER)
            assert r.status_code == 404 and r.json() == _missing_body(OTHER), (method, template)
            mine = _call(ed, method, template, OWN)
            allowed = method == "get" or (method, template) in OWN_WRITES
        else:
            mine = _call(ed, method, template, OWN)
            allowed = method == "get" and template in CONTENT_READS
        if allowed:
            assert mine.status_code not in (401, 403), (method, template, mine.text)
            assert mine.json() != _missing_body(OWN), (method, template)
        else:
            assert mine.status_code == 403, (method, template, mine.text)


def test_an_educator_session_on_the_page_is_held_to_the_same_reach(ed):
    r = ed.client.post("/coach/session", data={"key": ed.keys["educator"],
                                               "next": f"/coach/educators/{OTHER}"},
                       follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/coach/me"
    me = ed.client.get("/coach/me")
    assert me.status_code == 200 and f'data-educator="{OWN}"' in me.text
    for page in ("/coach", f"/coach/educators/{OTHER}", f"/coach/educators/{OWN}", "/coach/teams",
                 "/coach/teams/team-1"):
        r = ed.client.get(page, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/coach/me", page
    assert ed.client.get(f"/v1/educators/{OWN}").status_code == 200  # the cookie authenticates
    assert ed.client.get(f"/v1/educators/{OTHER}").json() == _missing_body(OTHER)
    assert ed.client.get("/v1/educators").status_code == 403


def test_a_coach_has_no_own_view(ed):
    ed.client.post("/coach/session", data={"key": ed.keys["coach"]})
    r = ed.client.get("/coach/me", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/coach"


def test_admin_creates_an_educator_key_for_an_educator_of_its_tenant(ed):
    r = ed.post("/v1/admin/keys", who="admin", json={"role": "educator", "educator_id": OTHER})
    assert r.status_code == 201, r.text
    assert r.json()["educator_id"] == OTHER and r.json()["role"] == "educator"
    key = r.json()["key"]
    assert ed.client.get(f"/v1/educators/{OTHER}", headers={"X-API-Key": key}).status_code == 200
    assert ed.client.get(f"/v1/educators/{OWN}", headers={"X-API-Key": key}).status_code == 404
    listed = {k["key_id"]: k["educator_id"] for k in ed.get("/v1/admin/keys", who="admin").json()}
    assert listed[r.json()["key_id"]] == OTHER


@pytest.mark.parametrize("body,status,field", [
    ({"role": "educator", "educator_id": MISSING}, 404, "educator_id"),
    ({"role": "educator"}, 422, "educator_id"),
    ({"role": "coach", "educator_id": OWN}, 422, "educator_id"),
    ({"role": "educator", "educator_id": "a/b"}, 422, "educator_id"),
])
def test_an_educator_key_needs_one_educator_of_the_tenant(ed, body, status, field):
    r = ed.post("/v1/admin/keys", who="admin", json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["details"][0]["field"] == field
    assert len(ed.services.store.list_keys("acme")) == 4  # three of the fixture, T1's
