"""The demo tenant is loaded through the real API, and the keys it prints work."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from recommender.catalog import default_catalog
from recommender.graph import default_framework
from recommender.simulate import generate, write_synthetic


def test_demo_tenant_loads_educators_evidence_and_completions_and_its_keys_work(tmp_path,
                                                                                monkeypatch):
    from pipelines.demo_tenant import seed_demo_tenant  # imports MLflow: not at collection

    monkeypatch.setenv("PDREC_LOAD_MODEL", "false")  # no champion here: the graph rule serves
    graph = default_framework()
    data = generate(graph, default_catalog(graph), n_educators=12, months=4, random_state=3)
    write_synthetic(data, tmp_path / "synthetic")
    stages = set()

    demo = seed_demo_tenant(tmp_path, tmp_path / "synthetic", educators=5,
                            progress=lambda stage, done, total: stages.add(stage))

    assert stages == {"profiles", "evidence", "completions"}
    assert set(demo.keys) == {"platform", "coach", "admin", "educator"}
    assert len(demo.educators) == 5
    wanted = data.evidence["educator_id"].isin(demo.educators)
    assert demo.evidence == int(wanted.sum()) > 0
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        first = demo.educators[0]
        h = {"Authorization": f"Bearer {demo.keys['platform']}"}
        who = client.get(f"/v1/educators/{first}", headers=h).json()
        goals = data.educators.set_index("educator_id").loc[first, "goals"].split("|")
        assert who["goals"] == goals
        assert who["n_evidence"] == int((data.evidence["educator_id"] == first).sum())
        recs = client.get(f"/v1/educators/{first}/recommendations?k=3", headers=h).json()
        done = set(data.completions.loc[data.completions["educator_id"] == first, "activity_id"])
        assert recs["items"] and not {i["activity_id"] for i in recs["items"]} & done
        assert client.get(f"/v1/educators/{first}",
                          headers={"Authorization": "Bearer nope"}).status_code == 401

        # the educator key reads its own educator (the one with the most completions) only,
        # and the tenant's renewal rules give it hours earned
        counts = data.completions[data.completions["educator_id"].isin(demo.educators)]
        assert demo.educator in counts["educator_id"].value_counts().nlargest(1).index
        mine = {"Authorization": f"Bearer {demo.keys['educator']}"}
        renewal = client.get(f"/v1/educators/{demo.educator}/renewal", headers=mine)
        assert renewal.status_code == 200, renewal.text
        assert renewal.json()["days_left"] > 0 and renewal.json()["completions_counted"] > 0
        assert {r["rule_id"] for r in renewal.json()["rules"]} == {"total", "instructional"}
        assert renewal.json()["rules"][0]["earned"] > 0
        other = next(e for e in demo.educators if e != demo.educator)
        assert client.get(f"/v1/educators/{other}", headers=mine).status_code == 404

    again = seed_demo_tenant(tmp_path, tmp_path / "synthetic", educators=5)  # re-run: idempotent
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        h = {"Authorization": f"Bearer {again.keys['coach']}"}
        assert client.get(f"/v1/educators/{first}", headers=h).json()["n_evidence"] == \
            who["n_evidence"]
