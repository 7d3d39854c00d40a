"""``pdrec train --dask``: trees boosted by ``lightgbm.dask``, compared with the single-machine fit.

One small in-process ``LocalCluster`` (2 one-thread workers) serves the module: LightGBM keeps
its network state per thread, so two worker threads train as two machines (the log says
"total number of machines: 2"), without the start-up cost of worker processes.
"""

import pickle

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipelines.config import load_config
from pipelines.training import prepare
from recommender.models import LightGBMMastery, make_model
from tests.pipelines.conftest import small_config

AUC_TOLERANCE = 0.02
"""How far the Dask fit's held-out AUC may be from the single-machine fit's on the 300-educator
set: data-parallel histograms and per-worker bagging make slightly different trees."""

LOG_LOSS_TOLERANCE = 0.05
"""The same for held-out log loss: the Dask fit keeps the round of lowest validation loss on a
10-round grid, the single fit stops early round by round."""


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


@pytest.fixture(scope="module")
def fold(small_data_dir):
    from pipelines.training import prepare_fold

    return prepare_fold(load_config(small_config("lightgbm")), small_data_dir)


def test_split_rows_keeps_each_partitions_rows_in_frame_order():
    import pandas as pd

    from pipelines.dask_frames import educator_partitions, split_rows

    frame = pd.DataFrame({"educator_id": ["E3", "E1", "E9", "E2", "E1", "E3"], "v": range(6)})
    ids = educator_partitions(["E1", "E2", "E3", "E1"], 2)
    assert [p.tolist() for p in ids] == [["E1", "E2"], ["E3"]]
    parts = split_rows(frame, ids)
    assert [p["v"].tolist() for p in parts] == [[1, 3, 4], [0, 5]]  # E9: in no partition
    assert split_rows(frame.iloc[:0], ids)[1].empty


@pytest.mark.parametrize("n", [1, 3, 7])
def test_partition_frames_equal_the_whole_frame(fold, cluster, n):
    """Each educator partition's frame built on a worker from that partition's inputs is
    exactly its rows of the frame built over all training records in one process, and so is
    the model matrix each worker keeps for boosting."""
    import pandas as pd

    from pipelines.dask_frames import educator_partitions, split_rows, submit_matrices

    client = cluster[1]
    data = fold.data
    X, y = fold.builder.training_frame(fold.train_evidence, completions=data.completions,
                                       educators=data.educators)
    ids = educator_partitions(fold.train_evidence["educator_id"], n)
    inputs = [split_rows(frame, ids) for frame in
              (fold.train_evidence, data.completions, data.educators)]
    got = client.gather([client.submit(fold.builder.training_frame, ev, completions=comp,
                                       educators=edu, pure=False)
                         for ev, comp, edu in zip(*inputs, strict=True)])
    assert len(got) == min(n, len(ids)) and sum(len(g[0]) for g in got) == len(X)
    model = make_model("lightgbm", n_estimators=5).fit(X, y)
    parts = submit_matrices(client, client.scatter(fold.builder, broadcast=True),
                            client.scatter(model, broadcast=True), fold.train_evidence,
                            data.completions, data.educators, ids)
    matrices = client.gather(parts.matrices)
    whole = model.input_matrix(X)
    for i, (part, (Xp, yp)) in enumerate(zip(ids, got, strict=True)):
        mine = X["educator_id"].isin(part).to_numpy()
        pd.testing.assert_frame_equal(Xp, X[mine].reset_index(drop=True))
        np.testing.assert_array_equal(yp, y[mine])
        np.testing.assert_array_equal(matrices[i], whole[mine])
        assert parts.rows[i] == mine.sum()


def test_fit_frames_on_dask_matches_the_single_fit(fold, cluster):
    """Same folds, columns and levels as the single-machine fit; held-out AUC within
    AUC_TOLERANCE of it; a plain model, servable without Dask."""
    from pipelines.train_dask import fit_frames_on_dask
    from pipelines.training import fit_model
    from recommender.models import mastery_metrics

    cfg = load_config(small_config("lightgbm"))
    model = fit_frames_on_dask(make_model("lightgbm", n_estimators=60, random_state=cfg.seed),
                               fold, cluster[1], partitions=5, eval_every=5)
    X, y = fold.builder.training_frame(fold.train_evidence, completions=fold.data.completions,
                                       educators=fold.data.educators)
    single = fit_model(cfg, X, y)
    assert type(model) is LightGBMMastery and model.booster_.params["num_machines"] == 2
    assert (model.n_train_rows_, model.n_valid_rows_) == (single.n_train_rows_,
                                                         single.n_valid_rows_)
    assert list(model.feature_names_in_) == list(single.feature_names_in_)
    assert model.categories_ == single.categories_
    assert model.monotone_constraints_ == single.monotone_constraints_
    assert 5 <= model.best_iteration_ <= 60 and model.calibrator_ is not None
    X_test, y_test = fold.test_frame()
    again = pickle.loads(pickle.dumps(model))
    p = again.predict_proba(X_test)[:, 1]
    dask_q, single_q = (mastery_metrics(y_test, q) for q in
                        (p, single.predict_proba(X_test)[:, 1]))
    assert abs(dask_q["auc"] - single_q["auc"]) <= AUC_TOLERANCE
    assert abs(dask_q["log_loss"] - single_q["log_loss"]) <= LOG_LOSS_TOLERANCE


@pytest.mark.parametrize(("options", "message"), [
    ({"partitions": 0}, "partitions must be a positive number"),
    ({"partitions": 2.5}, "partitions must be a positive number"),
    ({"eval_every": 0}, "eval_every must be a positive number"),
])
def test_fit_frames_on_dask_refuses_bad_options(fold, cluster, options, message):
    from pipelines.train_dask import fit_frames_on_dask

    with pytest.raises(ValueError, match=message):
        fit_frames_on_dask(make_model("lightgbm", n_estimators=5), fold, cluster[1], **options)
    with pytest.raises(ValueError, match="lightgbm or lightgbm_nograph"):
        fit_frames_on_dask(make_model("logistic"), fold, cluster[1])


@pytest.mark.parametrize("flag", [["--partitions", "3"], ["--no-compare"]])
def test_cli_dask_options_need_dask(small_data_dir, tmp_path, flag):
    from pipelines.cli import app

    config = tmp_path / "small.yaml"
    config.write_text(yaml.safe_dump(small_config("lightgbm")))
    result = CliRunner().invoke(app, ["train", "--config", str(config), "--data-dir",
                                      str(small_data_dir), "--no-register", *flag])
    assert result.exit_code == 2
    assert "options of a Dask training: add --dask" in result.output


def test_train_on_dask_without_the_comparison_reports_the_dask_fit_only(small_data_dir, cluster):
    """``compare=False`` (``--no-compare``): no single-machine fit, so no ``single_*`` metrics;
    the training rows counted are the workers' (fitting plus validation fold)."""
    from pipelines.train_dask import train_on_dask

    cfg = load_config(small_config("lightgbm"))
    result = train_on_dask(cfg, small_data_dir, cluster[1], partitions=4, compare=False,
                           audit=False)
    m = result.metrics
    assert not [k for k in m if k.startswith("single_") or "minus_single" in k]
    prep = prepare(cfg, small_data_dir)
    assert m["n_train_rows"] == len(prep.X_train) and m["dask_workers"] == 2
    assert result.card["trainer"]["kind"] == "lightgbm.dask"
    assert type(result.predictor.model) is LightGBMMastery and 0.5 < m["auc"] <= 1
    with pytest.raises(ValueError, match="partitions must be a positive number"):
        train_on_dask(cfg, small_data_dir, cluster[1], partitions=0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([f"E{i}" for i in range(12)]), max_size=40),
       st.lists(st.sampled_from([f"E{i}" for i in range(15)]), min_size=1, max_size=20),
       st.integers(1, 8))
def test_split_rows_partitions_the_members_rows(rows, members, n):
    """Every row of an educator in a partition lands in that partition alone, in frame order;
    rows of other educators in none."""
    import pandas as pd

    from pipelines.dask_frames import educator_partitions, split_rows

    frame = pd.DataFrame({"educator_id": rows, "v": range(len(rows))})
    ids = educator_partitions(members, n)
    assert len(ids) == min(n, len(set(members))) and all(len(p) for p in ids)
    parts = split_rows(frame, ids)
    for part, got in zip(ids, parts, strict=True):
        assert got["v"].tolist() == frame.loc[frame["educator_id"].isin(part), "v"].tolist()
    assert sum(map(len, parts)) == frame["educator_id"].isin(members).sum()


def test_fit_frames_on_dask_without_a_validation_fold(fold, cluster):
    """``validation_fraction=0``: every training educator boosts, all rounds kept, no
    calibrator; the no-graph ablation comes back as itself, without graph columns."""
    from pipelines.train_dask import fit_frames_on_dask
    from recommender.models import LightGBMNoGraph

    model = fit_frames_on_dask(make_model("lightgbm_nograph", n_estimators=10,
                                          validation_fraction=0, calibration="none"),
                               fold, cluster[1], partitions=3)
    assert type(model) is LightGBMNoGraph and model.calibrator_ is None
    assert (model.n_train_rows_, model.n_valid_rows_) == (len(fold.train_evidence), 0)
    assert model.best_iteration_ == 10
    assert not [c for c in model.feature_names_in_ if c.startswith("graph_")]
