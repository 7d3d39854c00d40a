"""#19 items 2-3: every trained model logs the equity audit of its recommendations, and
``pdrec compare`` / ``pdrec promote`` show it ("not audited" for a run without one, never 0).

Data: the session's 300-educator synthetic dataset (``small_data_dir``), read in place; each
test's MLflow store lives in its own ``tmp_path``.
"""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.config import load_config
from pipelines.train_audit import AUDIT_ARTIFACTS, ModelAudit, audit_summary, audit_trained_model
from pipelines.training import fit_model, package, prepare
from tests.pipelines.conftest import small_config


def _config(data_dir, model: str = "population", **split) -> dict:
    cfg = small_config(model)
    cfg["data"] = {"kind": "synthetic", "path": str(data_dir / "synthetic")}
    cfg["split"].update(split)
    return cfg


@pytest.fixture(scope="module")
def trained(small_data_dir):
    """A population model trained without its audit, and what it was prepared from."""
    cfg = load_config(_config(small_data_dir))
    prep = prepare(cfg, small_data_dir)
    model = fit_model(cfg, prep.X_train, prep.y_train)
    return prep, package(cfg, prep, model, audit=False)


def test_the_audit_covers_the_held_out_educators_and_counts_its_flags(trained):
    prep, result = trained
    assert result.audit is None and result.audit_note == "--no-audit"
    d = prep.data
    found, why = audit_trained_model(d.graph, d.catalog, d.educators, d.evidence, d.completions,
                                     predictor=result.predictor, gains=result.gain_posteriors,
                                     educator_ids=prep.split.test_ids, before=None, n_boot=50)
    assert why is None and found.cohort["cohort"] == "held-out educators"
    assert found.cohort["educators"] == len(prep.split.test_ids) == 90
    table = found.table
    # each attribute's groups partition the held-out educators
    assert (table.groupby("attribute")["n"].sum() == 90).all()
    assert set(table["attribute"]) == {"role", "experience", "subject", "grade_band"}
    metrics = found.metrics()
    assert metrics["audit_flags"] == float(table["flagged"].sum()) == len(found.flags)
    big = table[~table["small"]]
    assert metrics["audit_min_gain_per_hour_ratio"] == pytest.approx(
        big["gain_per_hour_ratio"].min())
    assert 0 < metrics["audit_min_gain_per_hour_ratio"] <= 1  # the reference is 1
    md = found.markdown()
    assert md.count("\n| ") == len(table) + 2  # header, rule and one row per group
    doc = found.document()
    assert len(doc["groups"]) == len(table) and doc["source"]["k"] == 3
    assert "flagged group(s)" in audit_summary(found)


def test_nothing_to_audit_says_why(trained):
    prep, result = trained
    d = prep.data
    kw = {"predictor": result.predictor, "gains": None, "before": None}
    none, why = audit_trained_model(d.graph, None, d.educators, d.evidence, d.completions,
                                    educator_ids=prep.split.test_ids, **kw)
    assert none is None and "no activity catalog" in why
    bare = d.educators[["educator_id", "goals"]]
    none, why = audit_trained_model(d.graph, d.catalog, bare, d.evidence, d.completions,
                                    educator_ids=prep.split.test_ids, **kw)
    assert none is None and "none of the audited attributes" in why
    none, why = audit_trained_model(d.graph, d.catalog, d.educators, d.evidence, d.completions,
                                    educator_ids=["nobody"], **kw)
    assert none is None and "no educator" in why
    assert audit_summary(None, why).startswith("not audited (")


def test_a_time_split_audits_as_of_the_cut_with_the_evidence_before_it(trained):
    prep, result = trained
    d = prep.data
    cut = d.evidence["observed_at"].quantile(0.5)
    seen = []

    class Spy:
        """The trained predictor, recording what the estimator asks it."""

        def __getattr__(self, name):
            return getattr(result.predictor, name)

        def mastery_grid(self, ev, **kw):
            seen.append((ev["observed_at"].max(), pd.Series(kw["as_of"]).max(),
                         pd.to_datetime(kw["completions"]["completed_at"], utc=True).max()))
            return result.predictor.mastery_grid(ev, **kw)

    found, _ = audit_trained_model(d.graph, d.catalog, d.educators, d.evidence, d.completions,
                                   predictor=Spy(), gains=None, educator_ids=prep.split.test_ids,
                                   before=cut, n_boot=20)
    assert seen and all(ev < cut and as_of <= cut and done < cut for ev, as_of, done in seen)
    assert found.cohort["cohort"].startswith("educators with test records, as of ")


def _artifacts(run_id: str) -> set[str]:
    import mlflow

    return {a.path for a in mlflow.MlflowClient().list_artifacts(run_id)}


def test_train_logs_the_audit_and_compare_and_promote_show_it(small_data_dir, tmp_path,
                                                              monkeypatch):
    import mlflow
    from typer.testing import CliRunner

    from pipelines import tracking
    from pipelines.cli import app

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    config = tmp_path / "quick.yaml"
    config.write_text(json.dumps(_config(small_data_dir)))
    runner = CliRunner()
    base = ["train", "--config", str(config), "--data-dir", str(tmp_path)]
    skipped = runner.invoke(app, [*base, "--no-audit"])
    assert skipped.exit_code == 0, skipped.output
    assert "equity audit: not audited (--no-audit)" in skipped.output
    audited = runner.invoke(app, base)
    assert audited.exit_code == 0, audited.output
    assert "equity audit: " in audited.output and "flagged group(s)" in audited.output
    # a run logged before audits existed: no audit metric, no audit tag
    split_id = mlflow.search_runs(experiment_names=[tracking.EXPERIMENT])["tags.split_id"].iloc[0]
    with mlflow.start_run(run_name="old-run"):
        mlflow.set_tags({"split_id": split_id, "model": "population"})
        mlflow.log_metrics({"auc": 0.5, "log_loss": 0.7})

    runs = mlflow.search_runs(experiment_names=[tracking.EXPERIMENT],
                              order_by=["start_time ASC"])
    no_audit, with_audit = runs["run_id"].iloc[0], runs["run_id"].iloc[1]
    assert set(AUDIT_ARTIFACTS) <= _artifacts(with_audit)
    assert not set(AUDIT_ARTIFACTS) & _artifacts(no_audit)
    logged = mlflow.MlflowClient().get_run(with_audit).data
    flags = logged.metrics["audit_flags"]
    assert isinstance(flags, float) and flags >= 0 and float(flags).is_integer()
    assert 0 < logged.metrics["audit_min_gain_per_hour_ratio"] <= 1
    assert logged.metrics["audit_educators"] == 90
    assert "audit_flags" not in mlflow.MlflowClient().get_run(no_audit).data.metrics
    table = tracking.compare_runs()
    by_run = table.set_index(table["version"].fillna("old"))["audit_flags"]
    assert by_run["2"] == flags and math.isnan(by_run["1"]) and math.isnan(by_run["old"])

    shown = runner.invoke(app, ["compare", "--data-dir", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    assert "audit_flags" in shown.output
    assert shown.output.count("not audited") >= 4  # two table cells, two detail lines
    assert f"audit: {int(flags)} flagged group(s)" in shown.output

    warned = runner.invoke(app, ["promote", "1", "--data-dir", str(tmp_path)])
    assert warned.exit_code == 0 and "warning: version 1's equity audit: not audited" in \
        warned.output
    clean = runner.invoke(app, ["promote", "2", "--data-dir", str(tmp_path)])
    assert clean.exit_code == 0 and ("warning" in clean.output) == (flags > 0)



@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 60), st.floats(0.0, 2.0), st.booleans()),
                min_size=1, max_size=12))
def test_audit_metrics_count_flags_and_read_only_groups_that_are_not_small(groups):
    from recommender import audit

    table = pd.DataFrame({"attribute": "role", "value": [f"g{i}" for i in range(len(groups))],
                          "n": [n for n, _, _ in groups],
                          "mastery_gap": 0.5, "flags": ""})
    table["small"] = table["n"] < audit.MIN_N
    table["flagged"] = [f and not s for (_, _, f), s in zip(groups, table["small"], strict=True)]
    table.loc[table["flagged"], "flags"] = "gain_per_hour"
    for m in audit.RECOMMENDATION_METRICS:
        table[f"{m}_ratio"] = [r for _, r, _ in groups]
        table[f"{m}_lo"], table[f"{m}_hi"] = table[f"{m}_ratio"] * 0.9, table[f"{m}_ratio"] * 1.1
    found = ModelAudit(table, {"cohort": "c", "educators": int(table["n"].sum()), "k": 3}, 0.1)
    metrics = found.metrics()
    assert metrics["audit_flags"] == table["flagged"].sum() == len(found.flags)
    big = table.loc[~table["small"], "gain_per_hour_ratio"]
    got = metrics["audit_min_gain_per_hour_ratio"]
    assert (math.isnan(got) and big.empty) or got == big.min()
    assert found.markdown().count("\n| ") == len(table) + 2
