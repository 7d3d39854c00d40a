"""Educators: profile and goals, mastery; recommendations, pathways and batch through the app."""

from __future__ import annotations

import pytest

from tests.api.conftest import record


def test_put_creates_then_replaces_profile_and_goals(api_any):
    body = {"profile": {"years_experience": 4, "role": "classroom_teacher"},
            "goals": ["INS.ELL", "INS.ELL", "REL.PLC"]}
    r = api_any.put("/v1/educators/T1", json=body)
    assert r.status_code == 201 and r.json()["goals"] == ["INS.ELL", "REL.PLC"]
    r = api_any.put("/v1/educators/T1", json={"goals": ["INS.SWD"]})
    assert r.status_code == 200 and r.json()["profile"] == {} and r.json()["goals"] == ["INS.SWD"]
    got = api_any.get("/v1/educators/T1", who="coach").json()
    assert got["goals"] == ["INS.SWD"] and got["n_evidence"] == 0


@pytest.mark.parametrize("body,field", [
    ({"goals": "INS.ELL"}, "goals"),
    ({"profile": {"years_experience": -3}}, "profile.years_experience"),
    ({"profile": {"shoe_size": 9}}, "profile.shoe_size"),
    ({"nickname": "x"}, "nickname"),
])
def test_bad_educator_bodies_are_422_naming_the_field(api, body, field):
    r = api.put("/v1/educators/T1", json=body)
    assert r.status_code == 422, r.text
    assert field in [d["field"] for d in r.json()["error"]["details"]]


def test_mastery_lists_every_competency_with_the_estimator(api):
    api.post("/v1/evidence", json={"records": [record(1, score=4)]})
    body = api.get("/v1/educators/T1/mastery", who="coach").json()
    assert len(body["competencies"]) == len(api.services.graph)
    assert body["model"]["fallback"] is True
    assert all(0 <= c["p_mastery"] <= 1 for c in body["competencies"])
    # mastered is decided on the lower bound, below the level wherever the estimate is unsure
    thr = body["mastery_threshold"]
    assert all(c["p_bound"] <= c["p_mastery"] and c["mastered"] == (c["p_bound"] >= thr)
               for c in body["competencies"])
    scored = next(c for c in body["competencies"] if c["competency_id"] == "INS.FORMATIVE")
    assert scored["p_bound"] < scored["p_mastery"]


def test_recommendations_honour_k_budget_formats_and_explain(api):
    api.put("/v1/educators/T1", json={"goals": ["INS.ELL"]})
    r = api.get("/v1/educators/T1/recommendations",
                params={"k": 3, "max_hours": 12, "formats": ["course", "coaching_cycle"],
                        "explain": True})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert 1 <= len(items) <= 3 and sum(i["hours"] for i in items) <= 12
    assert {i["format"] for i in items} <= {"course", "coaching_cycle"}
    assert [i["rank"] for i in items] == list(range(1, len(items) + 1))
    assert all(i["explanation"]["targets"] and i["reason"] for i in items)
    plain = api.get("/v1/educators/T1/recommendations").json()["items"]
    assert len(plain) == 5 and all(i["explanation"] is None for i in plain)


@pytest.mark.parametrize("query,field", [
    ("k=0", "k"), ("k=abc", "k"), ("max_hours=-1", "max_hours"), ("formats=", "formats"),
    ("explain=maybe", "explain")])
def test_bad_recommendation_queries_are_422_naming_the_parameter(api, query, field):
    api.put("/v1/educators/T1", json={})
    r = api.get(f"/v1/educators/T1/recommendations?{query}")
    assert r.status_code == 422
    detail = r.json()["error"]["details"][0]
    assert detail["field"].startswith(field) and detail["reason"]


def test_recommendations_are_logged_with_the_model_version(api):
    api.put("/v1/educators/T1", json={})
    r = api.get("/v1/educators/T1/recommendations", params={"k": 2}).json()
    api.services.audit.flush()  # the log is written behind the request
    log = api.services.store.recommendation_log("acme", "T1")
    assert log["request_id"].unique().tolist() == [r["request_id"]]
    assert log["activity_id"].tolist() == [i["activity_id"] for i in r["items"]]
    assert set(log["model_name"]) == {"evidence-filter"} and log["model_version"].isna().all()


def test_pathway_uses_given_goals_or_the_educators_own(api):
    api.put("/v1/educators/T1", json={"goals": ["INS.ELL"]})
    own = api.get("/v1/educators/T1/pathway").json()
    assert own["goals"] == ["INS.ELL"] and own["steps"][-1]["competency_id"] == "INS.ELL"
    assert own["total_hours"] == pytest.approx(sum(s["hours"] for s in own["steps"]))
    given = api.get("/v1/educators/T1/pathway", params={"goal": ["REL.PLC"]}).json()
    assert given["goals"] == ["REL.PLC"]
    api.services.audit.flush()
    assert set(api.services.store.recommendation_log("acme", "T1")["kind"]) == {"pathway"}


@pytest.mark.parametrize("goals,query,field", [
    ([], "", "goal"), (["INS.ELL"], "?formats=", "formats")])
def test_bad_pathway_requests_are_422(api, goals, query, field):
    api.put("/v1/educators/T1", json={"goals": goals})
    r = api.get(f"/v1/educators/T1/pathway{query}")
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"].startswith(field)


def test_batch_recommendations_match_single_ones(api_any):
    for e in ("T1", "T2"):
        api_any.put(f"/v1/educators/{e}", json={"goals": ["INS.ELL"]})
    api_any.post("/v1/evidence", json={"records": [record(1, educator="T2", score=4)]})
    r = api_any.post("/v1/recommendations:batch",
                     json={"educator_ids": ["T1", "T2", "T404"], "k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["not_found"] == ["T404"]
    for res in body["results"]:
        single = api_any.get(f"/v1/educators/{res['educator_id']}/recommendations",
                             params={"k": 3}).json()
        assert [i["activity_id"] for i in res["items"]] == \
            [i["activity_id"] for i in single["items"]]


def test_available_limits_single_and_batch_recommendations_pins_included(api):
    api.put("/v1/educators/T1", json={"goals": ["INS.ELL"]})
    everything = [i["activity_id"] for i in api.get("/v1/educators/T1/recommendations",
                                                     params={"k": 5}).json()["items"]]
    pin = everything[0]
    r = api.post("/v1/feedback", who="coach", json={"events": [
        {"educator_id": "T1", "activity_id": pin, "event": "pinned"}]})
    assert r.status_code == 201, r.text
    offered = everything[1:4]
    r = api.get("/v1/educators/T1/recommendations", params={"k": 5, "available": offered})
    assert r.status_code == 200, r.text
    got = [i["activity_id"] for i in r.json()["items"]]
    assert got and set(got) <= set(offered) and pin not in got  # an unavailable pin is not shown
    batch = api.post("/v1/recommendations:batch",
                     json={"educator_ids": ["T1"], "k": 5, "available": offered}).json()
    assert [i["activity_id"] for i in batch["results"][0]["items"]] == got
    pinned = api.get("/v1/educators/T1/recommendations",
                     params={"k": 5, "available": [pin, *offered]}).json()["items"]
    assert pinned[0]["activity_id"] == pin and pinned[0]["pinned"]
    for r in (api.get("/v1/educators/T1/recommendations",
                      params={"available": [offered[0], "NOPE-1"]}),
              api.post("/v1/recommendations:batch",
                       json={"educator_ids": ["T1"], "available": ["NOPE-1", offered[0]]})):
        assert r.status_code == 404, r.text
        err = r.json()["error"]
        assert "NOPE-1" in err["message"]
        assert err["details"] == [{"field": "available", "value": "NOPE-1",
                                   "reason": err["details"][0]["reason"]}]


def test_available_limits_the_pathway_and_unknown_ids_are_404(api):
    api.put("/v1/educators/T1", json={"goals": ["INS.ELL"]})
    full = api.get("/v1/educators/T1/pathway").json()["steps"]
    assert full
    dropped = full[0]["activity_id"]
    offered = [a for a in api.services.catalog.activities.index if a != dropped]
    r = api.get("/v1/educators/T1/pathway", params={"available": offered})
    assert r.status_code == 200, r.text
    steps = [s["activity_id"] for s in r.json()["steps"]]
    assert dropped not in steps and set(steps) <= set(offered)
    same = api.get("/v1/educators/T1/pathway",
                   params={"available": list(api.services.catalog.activities.index)}).json()
    assert [s["activity_id"] for s in same["steps"]] == [s["activity_id"] for s in full]
    none = api.get("/v1/educators/T1/pathway", params={"available": [dropped]}).json()
    assert {s["activity_id"] for s in none["steps"]} <= {dropped}
    r = api.get("/v1/educators/T1/pathway", params={"available": [dropped, "NOPE-1", "NOPE-2"]})
    assert r.status_code == 404, r.text
    err = r.json()["error"]
    assert "NOPE-1" in err["message"] and "NOPE-2" in err["message"]
    assert [(d["field"], d["value"]) for d in err["details"]] == [
        ("available", "NOPE-1"), ("available", "NOPE-2")]
    too_many = api.get("/v1/educators/T1/pathway", params={"available": ["A"] * 1001})
    assert too_many.status_code == 422
    assert too_many.json()["error"]["details"][0]["field"].startswith("available")
    spec = api.client.get("/openapi.json").json()["paths"]["/v1/educators/{educator_id}/pathway"]
    assert "`available`" in spec["get"]["responses"]["404"]["description"]


@pytest.mark.parametrize("body,status,field", [
    ({"educator_ids": []}, 422, "educator_ids"), ({"educator_ids": ["T1"], "k": 0}, 422, "k"),
    ({"educator_ids": ["T1"], "formats": [""]}, 422, "formats[0]"),
    ({"educator_ids": ["T1"], "formats": ["x"]}, 404, "formats[0]"),  # not the catalog's word
    ({"educator_ids": ["T1"], "extra": 1}, 422, "extra")])
def test_bad_batch_bodies(api, body, status, field):
    r = api.post("/v1/recommendations:batch", json=body)
    assert r.status_code == status and r.json()["error"]["details"][0]["field"] == field


def test_batch_over_the_educator_limit_is_413(make_api):
    with make_api(max_batch_educators=2) as api:
        r = api.post("/v1/recommendations:batch", json={"educator_ids": ["a", "b", "c"]})
        assert r.status_code == 413 and "limit is 2" in r.json()["error"]["message"]


def test_framework_and_activities(api):
    fw = api.get("/v1/framework", who="coach").json()
    assert len(fw["competencies"]) == len(api.services.graph) and fw["edges"]
    acts = api.get("/v1/activities", params={"format": "course", "max_hours": 6,
                                             "competency": "INS.ELL"}).json()
    assert all(a["format"] == "course" and a["hours"] <= 6 and "INS.ELL" in a["competencies"]
               for a in acts["activities"])
    assert acts["count"] == len(acts["activities"])
    bad = api.get("/v1/activities", params={"competency": "NOPE"})
    assert bad.status_code == 404 and bad.json()["error"]["details"][0]["value"] == "NOPE"


# --- ids the schema cannot know (#14): well-formed, naming nothing -> 404 naming them ---------

@pytest.mark.parametrize("method,path,kw,field", [
    ("put", "/v1/educators/T1", {"json": {"goals": ["INS.ELL", "NOPE", "X.Y"]}}, "goals[1]"),
    ("get", "/v1/activities", {"params": {"competency": "NOPE"}}, "competency"),
    ("get", "/v1/educators/T1/evidence", {"params": {"competency_id": "NOPE"}}, "competency_id"),
    ("get", "/v1/educators/T1/pathway", {"params": {"goal": ["INS.ELL", "NOPE"]}}, "goal"),
], ids=["profile goals", "activities filter", "evidence filter", "pathway goal"])
def test_unknown_competency_ids_are_404_naming_field_value_and_where_to_list_them(
        api, method, path, kw, field):
    api.put("/v1/educators/T1", json={"profile": {"role": "coach"}, "goals": ["REL.PLC"]})
    r = getattr(api, method)(path, **kw)
    assert r.status_code == 404, r.text
    err = r.json()["error"]
    assert err["code"] == "not_found"
    assert err["message"].startswith("unknown competency id(s) ['NOPE"), err["message"]
    assert "GET /v1/framework" in err["message"]
    detail = err["details"][0]
    assert (detail["field"], detail["value"]) == (field, "NOPE")
    assert detail["reason"] == ("no competency of framework 'educator' has this id; "
                                "GET /v1/framework lists them")
    if method == "put":  # nothing changed, every unknown goal named
        assert [(d["field"], d["value"]) for d in err["details"]] == [
            ("goals[1]", "NOPE"), ("goals[2]", "X.Y")]
        kept = api.get("/v1/educators/T1").json()
        assert kept["goals"] == ["REL.PLC"] and kept["profile"] == {"role": "coach"}
        assert api.put("/v1/educators/T9", json={"goals": ["NOPE"]}).status_code == 404
        assert api.get("/v1/educators/T9").status_code == 404  # not created either


def test_an_unknown_educator_is_still_named_before_an_unknown_filter(api):
    r = api.get("/v1/educators/T404/evidence", params={"competency_id": "NOPE"})
    assert r.status_code == 404
    assert r.json()["error"]["details"][0] == {"field": "educator_id", "value": "T404",
                                               "reason": "no such educator in this tenant"}


def test_openapi_documents_the_404_of_each_unknown_id(api):
    spec = api.client.get("/openapi.json").json()["paths"]
    for method, path, name in [("put", "/v1/educators/{educator_id}", "goal"),
                               ("get", "/v1/activities", "`competency`"),
                               ("get", "/v1/educators/{educator_id}/evidence", "`competency_id`"),
                               ("get", "/v1/educators/{educator_id}/pathway", "`goal`"),
                               ("post", "/v1/feedback", "`activity_id`")]:
        op = spec[path][method]
        assert name in op["responses"]["404"]["description"], (method, path)
        assert "404" in op["description"], (method, path)
