"""#20 item 1: training on a tenant's own data in the store, the time split, the model card.

The store is a temporary SQLite file holding one tenant (``acme``: 24 simulated educators, a few
hundred evidence records, their completions as ``completed`` feedback, their profiles and goals)
written through the :class:`recommender.store.Store` API, as the service would have stored them.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.config import load_config, with_overrides
from pipelines.model_card import frame_hash, framework_hash
from pipelines.training import data_fingerprint, load_dataset, split_records, train
from recommender.catalog import default_catalog
from recommender.evidence import proficient_threshold, validate_evidence
from recommender.graph import default_framework
from recommender.simulate import generate
from recommender.store import open_store

TENANT = "acme"


def _fill(url: str, data, batch: int | None = None) -> None:
    """Tenant acme (and a few rows of another tenant) stored at ``url`` as the API stores them;
    ``batch``: evidence sent in batches of that many records, latest first."""
    graph = default_framework("educator")
    store = open_store(url)
    try:
        store.ensure_tenant(TENANT)
        store.ensure_tenant("other")
        for row in data.educators.itertuples(index=False):
            store.put_educator(TENANT, row.educator_id, goals=str(row.goals).split("|"), profile={
                "years_experience": int(row.years_experience), "role": row.role,
                "subject": row.subject, "grade_band": row.grade_band})
        valid = validate_evidence(data.evidence, competencies=list(graph),
                                  proficient_at=proficient_threshold(graph.graph["scale"])).valid
        size = batch or len(valid)
        starts = list(range(0, len(valid), size))
        for start in starts[::-1] if batch else starts:
            store.ingest_evidence(TENANT, valid.iloc[start:start + size].reset_index(drop=True))
        store.add_feedback(TENANT, [
            {"educator_id": c.educator_id, "activity_id": c.activity_id, "event": "completed",
             "at": c.completed_at.to_pydatetime()} for c in data.completions.itertuples()])
        store.ingest_evidence("other", valid.head(5))  # another tenant's rows are never read
    finally:
        store.dispose()


@pytest.fixture(scope="module")
def acme(tmp_path_factory):
    """``(data_dir, url, synthetic data)``: tenant acme in ``DATA_DIR/acme.db``."""
    root = tmp_path_factory.mktemp("store-data")
    url = f"sqlite:///{root / 'acme.db'}"
    graph = default_framework("educator")
    data = generate(graph, default_catalog(graph), n_educators=24, months=4, random_state=2)
    _fill(url, data)
    return root, url, data


def _config(url: str, **split) -> dict:
    return {"name": "acme-lgbm", "model": "lightgbm",
            "data": {"kind": "store", "tenant": TENANT, "url": url},
            "split": {"test_size": 0.3, "seed": 0, **split},
            "params": {"n_estimators": 30, "n_jobs": 1, "min_child_samples": 10}}


def test_store_dataset_is_the_tenants_evidence_completions_and_profiles(acme):
    root, url, data = acme
    got = load_dataset({"kind": "store", "tenant": TENANT, "url": url}, root)
    assert len(got.evidence) == len(data.evidence) and got.rejected == 0
    assert set(got.evidence["evidence_id"]) == set(data.evidence["evidence_id"])
    assert len(got.completions) == len(data.completions)
    assert set(got.educators["educator_id"]) == set(data.educators["educator_id"])
    mine = got.educators.set_index("educator_id").loc[data.educators["educator_id"]]
    assert (mine["role"].to_numpy() == data.educators["role"].to_numpy()).all()
    assert got.source == {"kind": "store", "tenant": TENANT, "url": url}
    with pytest.raises(ValueError, match="tenant 'nobody' has no evidence"):
        load_dataset({"kind": "store", "tenant": "nobody", "url": url}, root)


def test_training_on_the_store_logs_a_complete_model_card(acme):
    root, url, data = acme
    result = train(load_config(_config(url)), root)
    card = json.loads(json.dumps(result.card))  # JSON as logged
    assert card["framework"]["name"] == "educator"
    assert card["framework"]["hash"] == framework_hash(default_framework("educator"))
    assert card["data"]["kind"] == "store" and card["data"]["tenant"] == TENANT
    assert card["data"]["fingerprint"] == result.fingerprint
    assert card["data"]["rows"] == {"educators": 24, "evidence": len(data.evidence),
                                    "completions": len(data.completions), "rejected": 0}
    span = card["data"]["time_range"]
    assert pd.Timestamp(span["from"]) == data.evidence["observed_at"].min()
    assert pd.Timestamp(span["to"]) == data.evidence["observed_at"].max()
    assert card["split"]["by"] == "educator" and card["split"]["split_id"] == result.split_id
    assert card["split"]["train"]["records"] + card["split"]["test"]["records"] == len(data.evidence)
    assert card["metrics"]["auc"] == pytest.approx(result.metrics["auc"])
    assert card["features"] == list(result.predictor.model.feature_names_in_)
    # the store's evidence frame carries rater ids: the training educators' observers get a
    # severity
    ev = data.evidence
    observers = set(ev.loc[(ev["source"] == "observation") & ev["rater_id"].notna(), "rater_id"])
    assert len(result.rater_severity) and set(result.rater_severity["rater_id"]) <= observers


def test_time_split_on_the_store_tests_only_records_from_the_cut(acme):
    root, url, data = acme
    before = "2025-10-15"
    result = train(load_config(_config(url, by="time", before=before)), root)
    cut = pd.Timestamp(before, tz="UTC")
    observed = data.evidence.set_index("evidence_id")["observed_at"]
    tested = observed.loc[result.test_predictions["evidence_id"]]
    assert len(tested) == int((observed >= cut).sum()) and (tested >= cut).all()
    split = result.card["split"]
    assert split["by"] == "time" and pd.Timestamp(split["before"]) == cut
    assert pd.Timestamp(split["train"]["to"]) < cut <= pd.Timestamp(split["test"]["from"])
    assert split["train"]["records"] == result.metrics["n_train_rows"]


@settings(max_examples=60, deadline=None)
@given(days=st.lists(st.integers(0, 400), min_size=2, max_size=60),
       test_size=st.floats(0.05, 0.95), before=st.none() | st.integers(-5, 405))
def test_time_split_never_lets_a_test_record_precede_the_cut(days, test_size, before):
    start = pd.Timestamp("2025-01-01", tz="UTC")
    ev = pd.DataFrame({"evidence_id": [f"r{i}" for i in range(len(days))],
                       "educator_id": [f"E{i % 5}" for i in range(len(days))],
                       "observed_at": [start + pd.Timedelta(days=d) for d in days]})
    cfg = {"by": "time", "test_size": test_size,
           "before": None if before is None else (start + pd.Timedelta(days=before)).isoformat()}
    try:
        split = split_records(ev, ev["educator_id"], cfg, "fp")
    except ValueError as exc:  # a cut that leaves one side empty is refused, never served
        assert "time split" in str(exc)
        return
    train_at, test_at = ev["observed_at"][split.is_train], ev["observed_at"][split.is_test]
    assert len(train_at) and len(test_at) and np.array_equal(split.is_test, ~split.is_train)
    assert train_at.max() < split.before <= test_at.min()


def test_config_checks_store_and_split_settings(acme):
    _, url, _ = acme
    with pytest.raises(ValueError, match="data.kind store needs data.tenant"):
        load_config({**_config(url), "data": {"kind": "store"}})
    with pytest.raises(ValueError, match="split.by must be one of"):
        load_config(_config(url, by="random"))
    with pytest.raises(ValueError, match="split.before needs split.by time"):
        load_config(_config(url, before="2025-01-01"))
    with pytest.raises(ValueError, match="split.before is not a date"):
        load_config(_config(url, by="time", before="soon"))
    base = load_config("experiments/configs/lightgbm.yaml")
    cfg = with_overrides(base, tenant=TENANT, store_url=url, before="2025-10-15")
    assert cfg.data == {"kind": "store", "tenant": TENANT, "url": url}
    assert cfg.name == "lightgbm-acme" and cfg.split["by"] == "time"
    with pytest.raises(ValueError, match="--store-url needs --tenant"):
        with_overrides(base, store_url=url)


def test_cli_trains_on_the_tenant_and_compare_shows_the_card(acme, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pipelines.cli import app

    root, url, _ = acme
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    config = tmp_path / "quick.yaml"
    config.write_text(json.dumps({k: v for k, v in _config(url).items() if k != "name"}
                                 | {"name": "quick"}))
    runner = CliRunner()
    out = runner.invoke(app, ["train", "--config", str(config), "--tenant", TENANT,
                              "--store-url", url, "--split", "time", "--data-dir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "model card: educator#" in out.output and "store:acme" in out.output
    from pipelines import tracking

    table = tracking.compare_runs()
    assert table["card"].iloc[0].startswith("educator#") and "store:acme" in table["card"].iloc[0]
    import mlflow

    run = mlflow.search_runs(experiment_names=[tracking.EXPERIMENT]).iloc[0]
    card = mlflow.artifacts.load_dict(f"runs:/{run['run_id']}/model_card.json")
    assert card["data"]["tenant"] == TENANT and card["split"]["by"] == "time"
    shown = runner.invoke(app, ["compare", "--data-dir", str(tmp_path)])
    assert shown.exit_code == 0 and "store:acme" in shown.output


def test_time_split_on_synthetic_data(small_data_dir):
    from tests.pipelines.conftest import small_config

    cfg = load_config({**small_config("logistic"), "split": {"by": "time", "test_size": 0.25}})
    result = train(cfg, small_data_dir)
    data = load_dataset({"path": "synthetic"}, small_data_dir)
    cut = pd.Timestamp(result.card["split"]["before"])
    observed = data.evidence.set_index("evidence_id")["observed_at"]
    tested = observed.loc[result.test_predictions["evidence_id"]]
    assert (tested >= cut).all() and len(tested) == int((observed >= cut).sum())
    assert 0.2 < len(tested) / len(observed) < 0.3
    assert result.card["data"]["kind"] == "synthetic" and 0.5 < result.metrics["auc"] <= 1
    assert "rater_logloss_with" in result.metrics  # scored on records from the cut on


def test_sqlite_and_postgresql_give_one_data_set_one_fingerprint(acme):
    """The backends return a tenant's rows in different orders; the store's data are read in
    chronological order, so one data set has one fingerprint (and split id) on both."""
    from tests.pg import fresh_database

    root, url, data = acme
    pg_url, reason = fresh_database()
    if pg_url is None:
        pytest.skip(f"PostgreSQL unavailable: {reason}")
    pg_url = pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
    _fill(pg_url, data, batch=40)  # a heap scan returns the rows batch by batch
    lite = load_dataset({"kind": "store", "tenant": TENANT, "url": url}, root)
    pg = load_dataset({"kind": "store", "tenant": TENANT, "url": pg_url}, root)
    assert data_fingerprint(lite.evidence) == data_fingerprint(pg.evidence)
    assert frame_hash(lite.completions) == frame_hash(pg.completions)
    assert frame_hash(lite.educators.astype(str)) == frame_hash(pg.educators.astype(str))
