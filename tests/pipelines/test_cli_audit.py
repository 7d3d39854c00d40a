"""``pdrec audit`` through Typer's CliRunner, and the audit it stores read through the real app."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from api.schemas.equity_audit import EquityAuditOut
from pipelines.audit_run import SCHOOLS
from pipelines.cli import app
from recommender.catalog import default_catalog
from recommender.evidence import validate_evidence
from recommender.evidence.normalize import proficient_threshold
from recommender.graph import default_framework
from recommender.simulate import generate
from tests.api.conftest import running_api

runner = CliRunner()


@pytest.fixture
def embedded_tracking(monkeypatch):
    """The embedded MLflow store of the test's data dir (MLFLOW_TRACKING_URI restored after)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")


@pytest.mark.usefixtures("embedded_tracking")
def test_synthetic_audit_flags_the_planted_school_writes_and_logs(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, [
        "audit", "--no-model", "--restrict", "West", "--educators", "240", "--n-boot", "150",
        "--policies", "engine-no-model", "--steps", "2", "--out", str(out),
        "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert "flagged: school=West: intensive_share" in result.output
    assert "Simulated outcomes, policy engine-no-model" in result.output
    table = pd.read_csv(out / "synthetic-seed0.csv")
    assert table.loc[table["flagged"], "value"].tolist() == ["West"]
    assert (out / "synthetic-seed0.png").stat().st_size > 0
    assert (out / "synthetic-seed0-simulated-engine-no-model.png").stat().st_size > 0
    document = json.loads((out / "synthetic-seed0.json").read_text())
    assert document["flagged"] == ["school=West: intensive_share"]
    assert "MLflow run" in result.output

    from mlflow.tracking import MlflowClient  # the test reads what the command logged

    from pipelines import tracking

    tracking.configure(tmp_path / "data")
    client = MlflowClient()
    run = client.search_runs([client.get_experiment_by_name("equity-audit").experiment_id])[0]
    assert run.data.metrics["flagged_groups"] == 1.0
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"synthetic-seed0.csv", "synthetic-seed0.json", "synthetic-seed0.png"} <= names


def test_bad_options_exit_2_naming_them(tmp_path):
    result = runner.invoke(app, ["audit", "--no-model", "--restrict", "Atlantis", "--no-mlflow",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 2 and "restrict must be one of the schools" in result.output
    result = runner.invoke(app, ["audit", "--no-model", "--educators", "40", "--n-boot", "10",
                                 "--policies", "nope", "--no-mlflow", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown policies ['nope']" in result.output


def _seed_tenant(store, tenant: str, n: int = 60) -> None:
    """``n`` generated educators of two schools (roster-imported profiles) and their evidence."""
    graph = default_framework()
    data = generate(graph, default_catalog(graph), n_educators=n, months=3, random_state=3)
    for i, e in enumerate(data.educators.to_dict("records")):
        profile = {k: e[k] for k in ("role", "subject", "grade_band")}
        profile |= {"years_experience": int(e["years_experience"]), "school": SCHOOLS[i % 2]}
        store.put_educator(tenant, e["educator_id"], profile=profile,
                           goals=[g for g in e["goals"].split("|") if g])
    valid = validate_evidence(data.evidence, competencies=list(graph),
                              educators=data.educators["educator_id"],
                              proficient_at=proficient_threshold(graph.graph["scale"]),
                              now=pd.Timestamp("2100-01-01", tz="UTC")).valid
    store.ingest_evidence(tenant, valid)


def test_tenant_audit_is_stored_and_admins_read_it_through_the_app(tmp_path):
    with running_api(tmp_path) as api:
        _seed_tenant(api.services.store, "acme")
        missing = api.get("/v1/admin/audit", "admin")
        assert missing.status_code == 404 and "pdrec audit --tenant acme" in missing.text

        result = runner.invoke(app, ["audit", "--tenant", "acme", "--no-model", "--n-boot", "50",
                                     "--no-mlflow", "--out", str(tmp_path / "out"),
                                     "--data-dir", str(tmp_path)])
        assert result.exit_code == 0, result.output
        assert "stored as tenant acme's audit version 1" in result.output

        got = api.get("/v1/admin/audit", "admin")
        assert got.status_code == 200, got.text
        body = EquityAuditOut.model_validate(got.json())
        assert body.version == 1 and body.source["tenant"] == "acme"
        assert body.source["educators"] == 60
        schools = [g for g in body.groups if g.attribute == "school"]
        assert sorted(g.value for g in schools) == ["North", "South"]
        assert sum(g.n for g in schools) == 60
        ratio = schools[0].ratios["gain_per_hour"]
        assert ratio.lo <= ratio.ratio <= ratio.hi
        assert np.isclose(max(g.ratios["gain_per_hour"].ratio for g in schools), 1.0)
        assert api.get("/v1/admin/audit", "platform").status_code == 403
        assert api.get("/v1/admin/audit", "other").status_code == 403


def test_simulate_audit_reports_each_policy_on_the_simulated_outcomes(tmp_path):
    """``pdrec simulate --audit``: the audit's groups partition the simulated educators, and
    their outcomes are the simulation's (the n-weighted group means give its table's figures)."""
    out = tmp_path / "sim"
    result = runner.invoke(app, ["simulate", "--policies", "random,engine-no-model",
                                 "--educators", "60", "--steps", "3", "--audit", "--no-mlflow",
                                 "--out", str(out), "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert "audit, random: flagged" in result.output
    assert "audit, engine-no-model: flagged" in result.output
    table = pd.read_csv(out / "default.csv").set_index("policy")
    audit_table = pd.read_csv(out / "default-audit.csv")
    for policy, part in audit_table[audit_table["attribute"] == "school"].groupby("policy"):
        n = part["n"].to_numpy()
        assert n.sum() == 60
        for ours, theirs in (("hours_to_goal", "hours_to_goal"), ("reached", "share_mastered")):
            assert np.average(part[ours], weights=n) == pytest.approx(table.loc[policy, theirs])
    assert (out / "default-audit-engine-no-model.png").stat().st_size > 0
