"""Per-tenant frameworks and catalogs through the real app (issue 15 item 1): tenant ``acme``
uploads a small framework and catalog of its own, tenant ``other`` stays on the default; each
sees only its own competencies, activities, recommendations, pathways and mastery, evidence is
checked against the caller's framework, uploads are checked with the loaders (422 naming the
problem), retired evidence is reported, mapped or kept aside (never deleted), and a model trained
on another framework is not served to the tenant (graph rule, ``fallback`` and a ``note``)."""

from __future__ import annotations

import pytest

from api.services import ModelState
from recommender.graph import build_framework
from recommender.tenant_content import framework_hash

ACT = {"format": "course", "modality": "online", "level": "developing", "hours": 3,
       "expected_gain": 0.2}
FRAMEWORK = {"name": "district", "version": "1", "competencies": [
    {"id": "D.PLAN", "name": "Planning", "domain": "instruction",
     "replaces": ["INS.FORMATIVE"]},
    {"id": "D.ASSESS", "name": "Assessment", "domain": "instruction",
     "prerequisites": ["D.PLAN"]},
    {"id": "D.CULTURE", "name": "Culture", "domain": "environment"}]}
CATALOG = {"activities": [
    {"id": "D-1", "title": "Plan units", "competencies": {"D.PLAN": 1.0}, **ACT},
    {"id": "D-2", "title": "Assess well", "competencies": {"D.ASSESS": 1.0}, **ACT},
    {"id": "D-3", "title": "Class culture", "competencies": {"D.CULTURE": 0.8}, **ACT}]}
RETIRED = "COG.DATA_LIT"  # evidence on it is kept, and left out of acme's estimates


def _ev(i, comp, educator="T1"):
    return {"evidence_id": f"x{i}", "educator_id": educator, "competency_id": comp,
            "source": "observation", "score": 3, "observed_at": "2025-03-01T10:00:00Z"}


def _status(r):
    assert r.status_code in (200, 201, 207), r.text
    return sorted({o["status"] for o in r.json()["outcomes"]}) or ["accepted"]


@pytest.fixture
def two_tenants(api):
    """acme with evidence on two default competencies, then its own content uploaded."""
    for who in ("platform", "other"):
        assert _status(api.post("/v1/evidence", who=who, json={"records": [
            _ev(1, "INS.FORMATIVE"), _ev(2, RETIRED)]})) == ["accepted"]
    r = api.put("/v1/admin/framework", who="admin",
                json={"document": FRAMEWORK, "catalog": CATALOG})
    assert r.status_code == 200, r.text
    return api, r.json()


def test_an_upload_reports_retired_evidence_and_keeps_it(two_tenants):
    api, up = two_tenants
    assert up["versions"] == {"framework": 1, "catalog": 1}
    assert up["educators_marked_stale"] == 1
    assert up["framework_hash"] == framework_hash(build_framework(FRAMEWORK))
    assert up["retired"] == [
        {"competency_id": RETIRED, "records": 1, "educators": 1, "mapped_to": None},
        {"competency_id": "INS.FORMATIVE", "records": 1, "educators": 1, "mapped_to": "D.PLAN"}]
    assert up["content"]["framework"] == {"name": "district", "version": 1,
                                          "hash": up["framework_hash"], "source": "tenant"}
    assert api.services.store.count_evidence("acme", "T1") == 2  # nothing deleted
    mastery = api.get("/v1/educators/T1/mastery").json()
    n = {c["competency_id"]: c["n_evidence"] for c in mastery["competencies"]}
    assert n == {"D.ASSESS": 0, "D.CULTURE": 0, "D.PLAN": 1}  # mapped; retired left out
    assert mastery["model"]["content"]["catalog"]["version"] == 1
    listed = api.get("/v1/admin/framework", who="admin").json()
    assert listed["source"] == "tenant" and listed["version"] == 1
    assert listed["document"]["competencies"][0]["replaces"] == ["INS.FORMATIVE"]
    assert [v["version"] for v in listed["versions"]] == [1]
    assert api.get("/v1/admin/catalog", who="admin", params={"version": 7}).status_code == 404


def test_each_tenant_sees_only_its_own_content(two_tenants):
    api, _ = two_tenants
    mine = api.get("/v1/framework").json()
    theirs = api.get("/v1/framework", who="other").json()
    assert {c["id"] for c in mine["competencies"]} == {"D.PLAN", "D.ASSESS", "D.CULTURE"}
    assert mine["content"]["framework"]["version"] == 1
    assert "INS.FORMATIVE" in {c["id"] for c in theirs["competencies"]}
    assert theirs["content"]["framework"]["source"] == "default"
    acts = {a["activity_id"] for a in api.get("/v1/activities").json()["activities"]}
    other_acts = {a["activity_id"] for a in api.get("/v1/activities",
                                                    who="other").json()["activities"]}
    assert acts == {"D-1", "D-2", "D-3"} and not acts & other_acts and len(other_acts) > 100
    recs = api.get("/v1/educators/T1/recommendations", params={"explain": True}).json()
    assert {i["activity_id"] for i in recs["items"]} <= acts and recs["items"]
    assert recs["model"]["content"]["framework"]["version"] == 1
    other_recs = api.get("/v1/educators/T1/recommendations", who="other").json()
    assert not {i["activity_id"] for i in other_recs["items"]} & acts
    assert other_recs["model"]["content"]["framework"]["version"] is None
    batch = api.post("/v1/recommendations:batch", json={"educator_ids": ["T1"]}).json()
    assert {i["activity_id"] for i in batch["results"][0]["items"]} <= acts
    other_m = api.get("/v1/educators/T1/mastery", who="other").json()
    assert "D.PLAN" not in {c["competency_id"] for c in other_m["competencies"]}
    path = api.get("/v1/educators/T1/pathway", params={"goal": "D.ASSESS"}).json()
    assert {s["activity_id"] for s in path["steps"]} <= acts and path["steps"]
    assert api.get("/v1/educators/T1/pathway", who="other",
                   params={"goal": "D.ASSESS"}).status_code == 404
    assert api.get("/v1/educators/T1/pathway",
                   params={"goal": "INS.FORMATIVE"}).status_code == 404
    plans = api.post("/v1/pathways:batch", json={"educator_ids": ["T1"],
                                                 "goals": ["D.ASSESS"]}).json()
    assert {s["activity_id"] for s in plans["results"][0]["steps"]} <= acts
    assert api.get("/v1/activities", params={"competency": "INS.FORMATIVE"}).status_code == 404
    assert api.get("/v1/educators/T1/recommendations", who="other",
                   params={"available": "D-1"}).status_code == 404


def test_evidence_is_checked_against_the_callers_framework(two_tenants):
    api, _ = two_tenants
    assert _status(api.post("/v1/evidence", json={"records": [_ev(3, "INS.FORMATIVE")]})) == [
        "rejected"]
    assert _status(api.post("/v1/evidence", who="other",
                            json={"records": [_ev(4, "D.PLAN")]})) == ["rejected"]
    assert _status(api.post("/v1/evidence", json={"records": [_ev(5, "D.ASSESS")]})) == [
        "accepted"]
    assert api.put("/v1/educators/T2", json={"goals": ["INS.FORMATIVE"]}).status_code == 404
    assert api.put("/v1/educators/T2", who="other", json={"goals": ["INS.FORMATIVE"]}
                   ).status_code in (200, 201)


def test_bad_uploads_are_422_naming_the_problem_and_store_nothing(api):
    cases = [
        ({"document": FRAMEWORK}, "catalog"),  # the default catalog does not fit it
        ({"document": {"name": "x", "competencies": [
            {"id": "A", "name": "A", "domain": "d", "prerequisites": ["B"]},
            {"id": "B", "name": "B", "domain": "d", "prerequisites": ["A"]}]}}, "framework"),
        ({"document": "competencies: [unclosed"}, "framework"),
        ({"document": FRAMEWORK, "catalog": CATALOG, "mapping": {"OLD": "NOPE"}}, "mapping"),
        ({"document": FRAMEWORK, "catalog": {"activities": [
            {**CATALOG["activities"][0], "competencies": {"INS.FORMATIVE": 1.0}}]}},
         "catalog.activities[D-1]"),
    ]
    for body, field in cases:
        r = api.put("/v1/admin/framework", who="admin", json=body)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"][0]["field"] == field, r.text
    r = api.put("/v1/admin/catalog", who="admin", json={"document": CATALOG})
    assert r.status_code == 422 and "D.PLAN" in r.text  # checked against the default framework
    assert api.put("/v1/admin/catalog", json={"document": CATALOG}).status_code == 403
    assert api.services.store.active_content("acme") == {}


def test_a_catalog_alone_and_a_new_version_are_served_at_once(api):
    yaml_catalog = "activities:\n" + "".join(
        f"  - {{id: C-{i}, title: T{i}, format: course, modality: online, level: developing, "
        f"hours: 2, expected_gain: 0.1, competencies: {{INS.FORMATIVE: 1.0}}}}\n"
        for i in range(2))
    r = api.put("/v1/admin/catalog", who="admin", json={"document": yaml_catalog})
    assert r.status_code == 200, r.text
    assert r.json()["content"]["framework"]["source"] == "default"
    acts = api.get("/v1/activities").json()
    assert {a["activity_id"] for a in acts["activities"]} == {"C-0", "C-1"}
    assert acts["content"]["catalog"]["version"] == 1
    back = api.put("/v1/admin/catalog/active", who="admin", json={"version": None})
    assert back.status_code == 200 and back.json()["source"] == "default"
    assert api.get("/v1/activities").json()["count"] > 100


def test_a_model_of_another_framework_is_not_served_to_the_tenant(make_api):
    card = {"framework": {"name": "educator", "version": None, "hash": "0" * 16}}
    loader = lambda: ModelState(predictor=object(), name="fake", version="1", card=card)  # noqa: E731
    with make_api(model_loader=loader) as api:
        r = api.put("/v1/admin/framework", who="admin",
                    json={"document": FRAMEWORK, "catalog": CATALOG})
        assert r.status_code == 200, r.text
        model = api.get("/v1/framework").json() and api.get(
            "/v1/educators/T9/recommendations").json()
        assert model["error"]["code"] == "not_found"  # no such educator: nothing computed
        api.put("/v1/educators/T9", json={})
        model = api.get("/v1/educators/T9/mastery").json()["model"]
        assert model["fallback"] is True and model["scope"] == "none"
        assert "0000000000000000" in model["note"] and model["content"]["framework"]["version"] == 1
        services = api.services
        served = services.serve("other", services.content.for_tenant("other"))
        assert served.predictor is not None and served.note is None  # the default tenant
        card["framework"]["hash"] = r.json()["framework_hash"]  # trained on acme's framework
        services.models.reload()
        served = services.serve("acme", services.content.for_tenant("acme"))
        assert served.predictor is not None and not served.fallback
        assert served.key.endswith("/f1c1")


def test_the_coach_page_shows_the_tenants_framework(two_tenants):
    api, _ = two_tenants
    r = api.client.post("/coach/session", data={"key": api.keys["coach"]},
                        follow_redirects=False)
    assert r.status_code == 303, r.text
    page = api.client.get("/coach")
    assert page.status_code == 200 and "district v1" in page.text
    api.client.cookies.clear()
    assert api.put("/v1/educators/T1", json={"goals": ["D.ASSESS"]}).status_code == 200
    listed = api.get("/v1/educators", who="coach").json()["items"]
    assert [(g["competency_id"], g["name"]) for g in listed[0]["goals"]] == [
        ("D.ASSESS", "Assessment")]
    assert listed[0]["progress"] == {"scope": "goals", "mastered": 0, "total": 2}


def test_uploads_and_isolation_hold_on_either_store(api_any):
    api = api_any
    assert _status(api.post("/v1/evidence", json={"records": [_ev(1, RETIRED)]})) == ["accepted"]
    r = api.put("/v1/admin/framework", who="admin",
                json={"document": FRAMEWORK, "catalog": CATALOG})
    assert r.status_code == 200 and r.json()["retired"][0]["competency_id"] == RETIRED, r.text
    assert api.get("/v1/activities").json()["count"] == 3
    assert api.get("/v1/activities", who="other").json()["count"] > 100
    recs = api.get("/v1/educators/T1/recommendations").json()
    assert {i["activity_id"] for i in recs["items"]} <= {"D-1", "D-2", "D-3"}
    assert api.services.store.count_evidence("acme", "T1") == 1
