"""``POST /v1/pathways:batch`` through the real app: equal to the single pathway per educator,
limits, errors naming the field, auth, tenant isolation and the recommendation log."""

from __future__ import annotations

import pytest

from tests.api.conftest import record

URL = "/v1/pathways:batch"


def _setup(api):
    api.put("/v1/educators/T1", json={"goals": ["INS.ELL"]})
    api.put("/v1/educators/T2", json={"goals": ["REL.PLC", "INS.ELL"]})
    api.put("/v1/educators/T3", json={})
    api.post("/v1/evidence", json={"records": [
        record(1, educator="T2", score=4), record(2, educator="T2", competency="INS.ELL"),
        record(3, educator="T1", competency="COG.ASSESS_LIT", score=2)]})


def _single(api, e, **params):
    r = api.get(f"/v1/educators/{e}/pathway", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    return {k: body[k] for k in ("goals", "steps", "total_hours", "unreachable")}


def test_batch_pathways_equal_single_pathways(api_any):
    _setup(api_any)
    r = api_any.post(URL, json={"educator_ids": ["T2", "T1", "T3", "T404", "T1"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["not_found"] == ["T404"] and body["without_goals"] == ["T3"]
    assert [x["educator_id"] for x in body["results"]] == ["T2", "T1"]
    assert body["model"]["fallback"] is True
    for res in body["results"]:
        single = _single(api_any, res["educator_id"])
        assert {k: res[k] for k in single} == single
        assert res["steps"] and res["steps"][-1]["competency_id"] in res["goals"]


def test_shared_goals_formats_and_available_match_the_single_endpoint(api):
    _setup(api)
    full = _single(api, "T1", goal=["REL.PLC"])
    dropped = full["steps"][0]["activity_id"]
    offered = [a for a in api.services.catalog.activities.index if a != dropped]
    body = {"educator_ids": ["T1", "T2", "T3"], "goals": ["REL.PLC"],
            "formats": ["course", "coaching_cycle"], "available": offered}
    r = api.post(URL, json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["without_goals"] == [] and len(out["results"]) == 3
    for res in out["results"]:
        single = _single(api, res["educator_id"], goal=["REL.PLC"],
                         formats=["course", "coaching_cycle"], available=offered)
        assert {k: res[k] for k in single} == single
        assert dropped not in {s["activity_id"] for s in res["steps"]}


def test_every_step_is_logged_behind_the_request(api):
    _setup(api)
    out = api.post(URL, json={"educator_ids": ["T1", "T2"]}).json()
    api.services.audit.flush()
    for res in out["results"]:
        log = api.services.store.recommendation_log("acme", res["educator_id"])
        assert set(log["kind"]) == {"pathway-batch"}
        assert log["request_id"].unique().tolist() == [out["request_id"]]
        assert log["activity_id"].tolist() == [s["activity_id"] for s in res["steps"]]
        assert log["rank"].tolist() == [s["step"] for s in res["steps"]]
        assert log["score"].isna().all() and log["propensity"].isna().all()


@pytest.mark.parametrize("body,status,field", [
    ({"educator_ids": []}, 422, "educator_ids"),
    ({"educator_ids": ["T1"], "goals": []}, 422, "goals"),
    ({"educator_ids": ["T1"], "goals": ["INS.ELL", "NOPE"]}, 404, "goals[1]"),
    ({"educator_ids": ["T1"], "available": ["NOPE-1"]}, 404, "available"),
    ({"educator_ids": ["T1"], "formats": ["x"]}, 404, "formats[0]"),
    ({"educator_ids": ["T1"], "k": 3}, 422, "k"),
])
def test_bad_bodies_name_the_field(api, body, status, field):
    _setup(api)
    r = api.post(URL, json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["details"][0]["field"] == field


def test_over_the_educator_limit_is_413(make_api):
    with make_api(max_batch_educators=2) as api:
        r = api.post(URL, json={"educator_ids": ["a", "b", "c"]})
        assert r.status_code == 413 and "limit is 2" in r.json()["error"]["message"]


def test_auth_and_tenants(api):
    _setup(api)
    assert api.client.post(URL, json={"educator_ids": ["T1"]}).status_code == 401
    other = api.post(URL, who="other", json={"educator_ids": ["T1"]}).json()
    assert other["results"] == [] and other["not_found"] == ["T1"]


def test_openapi_documents_the_endpoint(api):
    spec = api.client.get("/openapi.json").json()
    op = spec["paths"][URL]["post"]
    assert {"401", "403", "404", "413", "422"} <= set(op["responses"])
    schemas = spec["components"]["schemas"]
    assert schemas["BatchPathwaysIn"]["examples"] and schemas["BatchPathwaysOut"]["examples"]
    assert schemas["BatchPathwaysIn"]["properties"]["goals"]["description"]


def test_the_request_time_is_the_log_time(api):
    import pandas as pd

    from api.deps import request_now

    fixed = pd.Timestamp("2025-06-01T12:00:00Z")

    async def at():
        return fixed

    api.client.app.dependency_overrides[request_now] = at
    _setup(api)
    out = api.post(URL, json={"educator_ids": ["T1"]}).json()
    api.services.audit.flush()
    log = api.services.store.recommendation_log("acme", "T1")
    assert len(log) == len(out["results"][0]["steps"]) > 0
    assert (pd.to_datetime(log["shown_at"], utc=True) == fixed).all()
