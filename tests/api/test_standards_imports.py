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


def test_coded_evidence_badges_and_the_crosswalk_follow_the_tenants_framework(api):
    assert api.put("/v1/admin/framework/case", who="admin", json=_case_body()).status_code == 200
    competency = next(c for c in api.get("/v1/framework").json()["competencies"]
                      if c.get("code") == "RB.PL.1")["id"]
    # the district framework has no Danielson crosswalk: the endpoint says so, coded evidence
    # is rejected naming the code; the default tenant keeps its crosswalk
    assert api.get("/v1/crosswalks").status_code == 404
    assert api.get("/v1/crosswalks", who="other").status_code == 200
    coded = api.post("/v1/evidence", json={"records": [
        {"evidence_id": "c1", "educator_id": "T1", "competency_id": "danielson:3b",
         "source": "observation", "score": 3, "observed_at": "2026-11-20T14:00:00Z"}]}).json()
    assert coded["accepted"] == 0 and coded["rejected"] == 1
    # a badge aligned to the district's own competency lands on it
    badge = {"@context": "https://w3id.org/openbadges/v2", "type": "Assertion", "id": "urn:b:1",
             "recipient": {"type": "email", "hashed": False, "identity": "t1@example.org"},
             "issuedOn": "2026-10-01T00:00:00Z",
             "badge": {"type": "BadgeClass", "id": "urn:bc:1", "name": "Planning",
                       "criteria": {"narrative": "done"}, "issuer": "urn:issuer:1",
                       "alignment": [{"targetName": "Planning", "targetCode": competency,
                                      "targetUrl": f"urn:pdrec:competency:{competency}"}]}}
    r = api.post("/v1/evidence/badges", json={"badges": [badge], "educator_id": "T1"})
    assert r.status_code in (200, 201, 207), r.text
    assert r.json()["accepted"] == 1, r.text
    other = api.post("/v1/evidence/badges", who="other",
                     json={"badges": [badge], "educator_id": "T1"}).json()
    assert other["accepted"] == 0  # not a competency of the default framework
