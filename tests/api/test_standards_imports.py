"""The standards imports through the API: a CASE package becomes the tenant's framework
(``PUT /v1/admin/framework/case``, with its import report) and a OneRoster CSV set its educators
(``POST /v1/admin/roster``, every unused row reported with file, line and reason)."""

import json
from pathlib import Path

import recommender

DISTRICT = Path(recommender.__file__).parent / "data" / "demo_district"


def _case_body():
    return {"package": json.loads((DISTRICT / "case_framework.json").read_text()),
            "catalog": (DISTRICT / "catalog.yaml").read_text()}


def _roster_files():
    return {p.name: p.read_text() for p in sorted((DISTRICT / "roster").glob("*.csv"))}


def test_a_case_package_becomes_the_tenants_framework_with_its_report(api):
    r = api.put("/v1/admin/framework/case", who="admin", json=_case_body())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["versions"] == {"framework": 1, "catalog": 1}
    assert body["report"]["summary"]["items.competency"] == 12 and body["report"]["skipped"] == []
    served = api.get("/v1/framework").json()
    codes = {c.get("code") for c in served["competencies"]}
    assert "RB.PL.1" in codes and len(served["competencies"]) == 12
    # the other tenant still has the default framework
    assert len(api.get("/v1/framework", who="other").json()["competencies"]) == 42


def test_a_case_package_with_nothing_to_import_stores_nothing(api):
    r = api.put("/v1/admin/framework/case", who="admin",
                json={"package": {"CFDocument": {"identifier": "d"}, "CFItems": [7, "x"]}})
    assert r.status_code == 422, r.text
    assert {d["field"] for d in r.json()["error"]["details"]} == {"package.CFItem"}
    bad_type = api.put("/v1/admin/framework/case", who="admin",
                       json={**_case_body(), "associations": {"isFriendOf": "hierarchy"}})
    assert bad_type.status_code == 422 and "isFriendOf" in bad_type.text
    assert api.get("/v1/admin/framework", who="admin").json()["versions"] == []
    assert api.put("/v1/admin/framework/case", json=_case_body()).status_code == 403  # platform


def test_a_roster_becomes_the_tenants_educators_once(api):
    files = _roster_files()
    dry = api.post("/v1/admin/roster", who="admin", json={"files": files, "dry_run": True})
    assert dry.status_code == 200, dry.text
    assert dry.json()["counts"]["educators"] == 40 and "created" not in dry.json()["counts"]
    assert api.get("/v1/educators/rb-t001").status_code == 404  # a dry run stores nothing
    first = api.post("/v1/admin/roster", who="admin", json={"files": files}).json()
    assert first["counts"]["created"] == 40 and first["rejections_total"] == 0
    again = api.post("/v1/admin/roster", who="admin", json={"files": files}).json()
    assert again["counts"]["unchanged"] == 40 and again["counts"]["created"] == 0
    profile = api.get("/v1/educators/rb-t001").json()["profile"]
    assert profile["role"] == "classroom_teacher" and profile["school"] == "rb-sch-elm"
    assert api.get("/v1/educators/rb-t001", who="other").status_code == 404  # tenant's own


def test_a_roster_row_that_cannot_be_used_is_reported_with_file_and_line(api):
    files = _roster_files()
    lines = files["users.csv"].splitlines()
    lines[1] = lines[1].replace(",teacher,", ",wizard,")  # line 2 of users.csv
    files["users.csv"] = "\n".join(lines) + "\n"
    body = api.post("/v1/admin/roster", who="admin", json={"files": files}).json()
    [rejected] = [r for r in body["rejections"] if r["file"] == "users.csv"]
    assert rejected["line"] == 2 and rejected["sourced_id"] == "rb-t001"
    assert "wizard" in (rejected["value"] or "") + rejected["reason"]
    assert body["counts"]["created"] == 39
