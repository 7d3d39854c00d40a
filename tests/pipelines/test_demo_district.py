"""The demo district: its embedded CASE package and roster import whole, and its tenant is
isolated from the demo tenant through the real API, served the graph rule on its own content."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from recommender.catalog import default_catalog
from recommender.graph import default_framework
from recommender.simulate import generate, write_synthetic
from recommender.standards.case import read_case
from recommender.standards.case_export import validate_package
from recommender.standards.oneroster import roster_educators
from recommender.standards.oneroster_files import read_roster

DISTRICT = Path(__file__).resolve().parents[2] / "recommender" / "data" / "demo_district"
SCHEMA = (Path(__file__).resolve().parents[2].parent / "shared" / "data" / "standards" / "case"
          / "opensalt__case-v1p0-cfpackage-schema.json")


def test_embedded_case_package_imports_whole_with_precedes_and_levels():
    result = read_case(DISTRICT / "case_framework.json")

    assert result.report.skipped == []
    summary = result.report.summary()
    assert summary["items.competency"] == 12 and summary["items.domain"] == 3
    assert summary["associations.prerequisite"] == 9 and summary["associations.level"] == 12
    comps = result.framework["competencies"]
    assert {c["domain"] for c in comps} == {"Planning for learning", "Learning environment",
                                           "Instruction and feedback"}
    assert all(c["id"] == c["code"] and len(c["levels"]) == 4 for c in comps)


@pytest.mark.skipif(not SCHEMA.exists(), reason="../shared/data/standards/case (the CASE 1.0 "
                                                "CFPackage schema) is absent")
def test_embedded_case_package_validates_against_the_cfpackage_schema():
    package = json.loads((DISTRICT / "case_framework.json").read_text(encoding="utf-8"))
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))

    assert validate_package(package, schema) == []


def test_embedded_roster_maps_every_staff_user_and_rejects_no_row():
    roster = roster_educators(read_roster(DISTRICT / "roster"))

    assert roster.rejections.empty
    assert roster.counts["educators"] == 40 and roster.counts["non_educators.student"] == 60
    assert set(roster.educators["role"]) == {"classroom_teacher", "paraprofessional",
                                             "administrator", "counselor",
                                             "district_administrator"}
    teachers = roster.educators[roster.educators["role"] == "classroom_teacher"]
    assert teachers["grade_band"].notna().all() and teachers["school"].notna().all()


def _client_get(client, key: str, path: str):
    return client.get(path, headers={"Authorization": f"Bearer {key}"})


def _feedback(client, key: str, educator: str, activity: str):
    return client.post("/v1/feedback", headers={"Authorization": f"Bearer {key}"},
                       json={"events": [{"educator_id": educator, "activity_id": activity,
                                         "event": "completed"}]})


def test_district_tenant_is_served_its_own_content_by_the_graph_rule_and_isolated(
        tmp_path, monkeypatch):
    from pipelines.demo_district import district_lines, seed_district_tenant  # imports MLflow
    from pipelines.demo_tenant import seed_demo_tenant

    monkeypatch.setenv("PDREC_LOAD_MODEL", "false")  # no champion: the graph rule serves both
    graph = default_framework()
    write_synthetic(generate(graph, default_catalog(graph), n_educators=6, months=3,
                             random_state=2), tmp_path / "synthetic")
    demo = seed_demo_tenant(tmp_path, tmp_path / "synthetic", educators=3)
    stages = set()
    district = seed_district_tenant(tmp_path, months=4,
                                    progress=lambda stage, *_: stages.add(stage))

    assert stages == {"roster", "evidence", "completions"}
    assert len(district.educators) == 40 and district.roster_rejections == 0
    assert district.case_skipped == 0 and district.evidence > 0 and district.completions > 0
    fw = district.content["framework"]
    assert (fw["name"], fw["version"], fw["source"]) == (
        "riverbend_instructional_coaching_framework", 1, "tenant")
    assert any("fallback: true" in line for line in district_lines(district, "http://x"))
    d_key, m_key = district.keys["platform"], demo.keys["platform"]
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        catalog = _client_get(client, d_key, "/v1/activities").json()
        ids = {a["activity_id"] for a in catalog["activities"]}
        assert len(ids) == 20 and all(a.startswith("RB-") for a in ids)
        assert catalog["vocabularies"]["levels"] == ["intro", "core", "deep"]
        for educator in district.educators[::8]:
            recs = _client_get(client, d_key, f"/v1/educators/{educator}/recommendations?k=5")
            body = recs.json()
            assert recs.status_code == 200 and body["items"]
            assert {i["activity_id"] for i in body["items"]} <= ids
            assert body["model"]["fallback"] is True
            assert body["model"]["content"]["framework"] == fw
        rostered = _client_get(client, d_key, "/v1/educators/rb-t001").json()
        assert rostered["goals"] and rostered["profile"]["school"] == "rb-sch-elm"
        assert rostered["n_evidence"] > 0

        d_first, m_first = district.educators[0], demo.educators[0]
        # the demo tenant's ids are unknown to the district's keys ...
        assert _client_get(client, d_key, f"/v1/educators/{m_first}").status_code == 404
        assert _feedback(client, d_key, d_first, "ACT-001").status_code == 404
        assert _client_get(client, d_key, f"/v1/educators/{d_first}/pathway"
                           "?goal=COG.STANDARDS").status_code == 404
        # ... and the district's to the demo tenant's
        assert _client_get(client, m_key, f"/v1/educators/{d_first}").status_code == 404
        assert _feedback(client, m_key, m_first, "RB-101").status_code == 404
        assert _client_get(client, m_key, f"/v1/educators/{m_first}/pathway"
                           "?goal=RB.PL.1").status_code == 404
        demo_recs = _client_get(client, m_key, f"/v1/educators/{m_first}/recommendations").json()
        assert demo_recs["model"]["content"]["framework"]["source"] == "default"
        assert not any(i["activity_id"].startswith("RB-") for i in demo_recs["items"])
