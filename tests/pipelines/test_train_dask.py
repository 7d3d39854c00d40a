"""``pdrec train --dask``: trees boosted by ``lightgbm.dask``, compared with the single-machine fit.

One small in-process ``LocalCluster`` (2 one-thread workers) serves the module: LightGBM keeps
its network state per thread, so two worker threads train as two machines (the log says
"total number of machines: 2"), without the start-up cost of worker processes.
"""

import pickle

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from pipelines.config import load_config
from pipelines.training import prepare
from recommender.models import LightGBMMastery, make_model
from tests.pipelines.conftest import small_config

AUC_TOLERANCE = 0.02
"""How far the Dask fit's held-out AUC may be from the single-machine fit's on the 300-educator
set: data-parallel histograms and per-worker bagging make slightly different trees."""


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as c, Client(c) as client:
        yield c, client


def test_validation_curve_adds_up_to_the_full_margin(small_data_dir):
    import lightgbm as lgb

    from pipelines.train_dask import validation_curve

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] + rng.normal(size=400) > 0).astype(int)
    booster = lgb.train({"objective": "binary", "verbosity": -1, "num_leaves": 4},
                        lgb.Dataset(X, y), num_boost_round=23)
    rounds, loss = validation_curve(booster, X, y, every=5)
    assert rounds.tolist() == [5, 10, 15, 20, 23]
    p = booster.predict(X)  # all 23 trees
    assert loss[-1] == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)), rel=1e-9)
    assert np.all(np.diff(loss) < 0)  # training rows: each block of trees lowers the loss


def test_fit_on_dask_returns_a_plain_servable_model(small_data_dir, cluster):
    from pipelines.train_dask import fit_on_dask

    cfg = load_config(small_config("lightgbm"))
    prep = prepare(cfg, small_data_dir)
    model = fit_on_dask(make_model("lightgbm", n_estimators=40), prep.X_train, prep.y_train,
                        cluster[1], eval_every=5)
    assert type(model) is LightGBMMastery and model.n_estimators == 40
    assert 5 <= model.best_iteration_ <= 40 and model.best_iteration_ % 5 == 0
    assert model.booster_.params["num_machines"] == 2
    again = pickle.loads(pickle.dumps(model))  # no client, no Dask class inside
    p = model.predict_proba(prep.X_test)[:, 1]
    np.testing.assert_array_equal(again.predict_proba(prep.X_test)[:, 1], p)
    with pytest.raises(ValueError, match="lightgbm or lightgbm_nograph"):
        fit_on_dask(make_model("logistic"), prep.X_train, prep.y_train, cluster[1])


def test_cli_trains_on_a_scheduler_logs_and_matches_the_single_fit(small_data_dir, cluster,
                                                                  tmp_path, monkeypatch):
    import mlflow

    from pipelines.cli import app

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "synthetic").symlink_to(small_data_dir / "synthetic", target_is_directory=True)
    config = tmp_path / "small.yaml"
    config.write_text(yaml.safe_dump(small_config("lightgbm")))
    result = CliRunner().invoke(app, ["train", "--config", str(config), "--data-dir",
                                      str(data_dir), "--no-register", "--scheduler",
                                      cluster[0].scheduler_address])
    assert result.exit_code == 0, result.output
    assert "single_auc" in result.output and "dask_minus_single_auc" in result.output
    run = mlflow.MlflowClient().get_run(_last_run_id())
    m = run.data.metrics
    assert m["dask_workers"] == 2 and m["single_trees"] >= 1 and m["dask_trees"] >= 1
    assert abs(m["auc"] - m["single_auc"]) <= AUC_TOLERANCE
    assert abs(m["dask_minus_single_auc"] - (m["auc"] - m["single_auc"])) < 1e-9
    assert np.isfinite(m["log_loss"]) and np.isfinite(m["single_log_loss"])


def _last_run_id() -> str:
    import mlflow

    from pipelines import tracking

    runs = mlflow.search_runs(experiment_names=[tracking.EXPERIMENT], max_results=1,
                              order_by=["start_time DESC"])
    return runs["run_id"].iloc[0]
