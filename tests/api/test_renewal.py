"""Renewal rules, progress and plan through the real app (issue 18 items 1 and 2)."""

from __future__ import annotations

RULES = {"name": "State renewal", "window_years": 5, "deadline": "2030-06-30",
         "rules": [{"id": "total", "kind": "total", "hours": 40},
                   {"id": "inter", "kind": "category", "category": "interpersonal",
                    "hours": 10}],
         "caps": {"video_reflection": 5}, "multipliers": {"coaching_cycle": 1.5}}


def _events(*ids, event="completed"):
    return {"events": [{"educator_id": "T1", "activity_id": a, "event": event} for a in ids]}


def test_rules_put_get_and_errors(api_any):
    api = api_any
    assert api.get("/v1/admin/renewal-rules", who="admin").status_code == 404
    assert api.put("/v1/admin/renewal-rules", json={"document": RULES}).status_code == 403
    r = api.put("/v1/admin/renewal-rules", who="admin", json={"document": RULES})
    assert r.status_code == 200 and r.json()["version"] == 1 and r.json()["document"] == RULES
    bad = {**RULES, "caps": {"podcast": 3}, "rules": [{"id": "t", "kind": "total", "hours": 0}]}
    r = api.put("/v1/admin/renewal-rules", who="admin", json={"document": bad})
    assert r.status_code == 422, r.text
    fields = {d["field"] for d in r.json()["error"]["details"]}
    assert {"document.caps.podcast", "document.rules[0].hours"} <= fields
    assert "nothing was stored" in r.json()["error"]["message"]
    r = api.put("/v1/admin/renewal-rules", who="admin",
                json={"document": {**RULES, "name": "v2"}})
    assert r.json()["version"] == 2
    assert api.get("/v1/admin/renewal-rules", who="admin").json()["document"]["name"] == "v2"
    # other tenants see none; setting rules marks no mastery stale
    assert api.get("/v1/educators/T1/renewal", who="other").status_code == 404


def test_progress_and_plan(api):
    api.put("/v1/educators/T1", json={"goals": ["INS.ELL"]})
    assert api.get("/v1/educators/T1/renewal").status_code == 404  # no rules yet
    api.put("/v1/admin/renewal-rules", who="admin", json={"document": RULES})
    acts = api.services.content.default.catalog.activities
    coaching = acts.index[acts["format"] == "coaching_cycle"][0]
    assert api.post("/v1/feedback", json=_events("ACT-001", coaching)).status_code in (200, 201)
    r = api.get("/v1/educators/T1/renewal")
    assert r.status_code == 200, r.text
    body = r.json()
    earned = acts.at["ACT-001", "hours"] + 1.5 * acts.at[coaching, "hours"]
    assert body["rules"][0] == {"rule_id": "total", "kind": "total", "category": None,
                                "required": 40.0, "earned": earned,
                                "missing": max(0.0, 40 - earned), "met": earned >= 40}
    assert body["completions_counted"] == 2 and body["deadline"].startswith("2030-06-30")
    r = api.get("/v1/educators/T1/renewal/plan")
    assert r.status_code == 200, r.text
    plan = r.json()
    assert plan["feasible"] and all(x["met"] for x in plan["rules"])
    assert plan["goals"] == ["INS.ELL"]
    planned = {a["activity_id"] for a in plan["activities"]}
    assert planned.isdisjoint({"ACT-001", coaching})
    targets = api.services.content.default.catalog.targets
    assert planned & set(targets.loc[targets["competency_id"] == "INS.ELL", "activity_id"])
    assert plan["total_hours"] == sum(a["hours"] for a in plan["activities"])


def test_plan_names_infeasible_rule_and_bad_input(api):
    api.put("/v1/educators/T1", json={})
    big = {**RULES, "rules": [{"id": "total", "kind": "total", "hours": 50000}]}
    api.put("/v1/admin/renewal-rules", who="admin", json={"document": big})
    r = api.get("/v1/educators/T1/renewal/plan", params={"available": ["ACT-001", "ACT-002"]})
    assert r.status_code == 200, r.text
    assert not r.json()["feasible"]
    [short] = r.json()["shortfalls"]
    acts = api.services.content.default.catalog.activities
    assert short["id"] == "total" and short["hours"] == 50000 - acts.loc[
        ["ACT-001", "ACT-002"], "hours"].sum()
    for not_a_date in ("soon", "0.0", "1893456000"):  # numbers are not seconds since 1970
        r = api.get("/v1/educators/T1/renewal", params={"deadline": not_a_date})
        assert r.status_code == 422, not_a_date
        assert r.json()["error"]["details"][0]["field"] == "deadline"
    r = api.get("/v1/educators/T1/renewal", params={"deadline": "1900-01-01"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "deadline"
    r = api.get("/v1/educators/T1/renewal/plan", params={"goal": "NOPE"})
    assert r.status_code == 404
    assert api.get("/v1/educators/NOBODY/renewal").status_code == 404
