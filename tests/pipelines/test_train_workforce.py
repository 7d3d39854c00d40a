"""``pdrec train --dask`` on a workforce folder: read a partition at a time on the workers, with
the data-wide steps as sums of partition summaries; the same data, split, features and card as
the single-machine run on the same folder.

One small in-process ``LocalCluster`` (2 one-thread workers, as in ``test_train_dask.py``).
"""

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipelines.config import load_config
from pipelines.training import load_dataset, train
from recommender.catalog import default_catalog
from recommender.features import FeatureBuilder
from recommender.graph import default_framework
from recommender.models import LightGBMMastery
from recommender.simulate.workforce import write_workforce

AUC_TOLERANCE = 0.03
"""How far the Dask fit's held-out AUC may be from the single-machine fit's on this 300-educator
folder (data-parallel histograms; the 10-round grid of trees kept)."""


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as c, Client(c) as client:
        yield c, client


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """300 educators over 6 months in 5 partitions; one evidence row of partition 2 is out of
    its scale (rejected by both paths, the rest kept)."""
    root = tmp_path_factory.mktemp("workforce")
    graph = default_framework("educator")
    summary = write_workforce(graph, default_catalog(graph), root, educators=300, months=6,
                              chunk_size=70, seed=3)
    bad = root / "evidence" / f"{summary.chunks[2]}.parquet"
    ev = pd.read_parquet(bad)
    ev.loc[ev.index[5], "score"] = ev["scale_max"].iloc[5] + 10
    ev.to_parquet(bad, index=False)
    return root


def _config(root, **split) -> dict:
    return {"name": "wf", "model": "lightgbm", "data": {"kind": "workforce", "path": str(root)},
            "split": {"test_size": 0.3, "seed": 0, **split},
            "params": {"n_estimators": 60, "n_jobs": 1}}


@pytest.fixture(scope="module")
def both(folder, cluster, tmp_path_factory):
    """The single-machine run and the Dask run of one config on the folder."""
    from pipelines.train_workforce import train_workforce_on_dask

    cfg = load_config(_config(folder))
    single = train(cfg, tmp_path_factory.mktemp("data"), audit=False)
    return single, train_workforce_on_dask(cfg, cluster[1], audit=False)


def test_dask_run_has_the_single_runs_data_split_and_features(both):
    single, dask = both
    assert dask.fingerprint == single.fingerprint and dask.split_id == single.split_id
    assert dask.card["data"] == single.card["data"]
    assert dask.card["data"]["rows"]["rejected"] == 1
    assert dask.card["split"] == single.card["split"]
    b_single, b_dask = single.predictor.builder, dask.predictor.builder
    assert b_dask.profile_levels_ == b_single.profile_levels_
    pd.testing.assert_frame_equal(b_dask.difficulty_, b_single.difficulty_, rtol=1e-12)
    # every educator sampled (fewer than the sample size): the same gains and raters
    pd.testing.assert_frame_equal(dask.gain_posteriors, single.gain_posteriors)
    pd.testing.assert_frame_equal(dask.rater_severity, single.rater_severity)


def test_dask_run_fits_every_training_row_and_evaluates_every_held_out_educator(both):
    single, dask = both
    m = dask.metrics
    assert m["n_train_rows"] == single.metrics["n_train_rows"]
    assert m["n_test_educators_evaluated"] == m["n_test_educators"] == 90
    assert len(dask.test_predictions) == len(single.test_predictions)
    assert abs(m["auc"] - single.metrics["auc"]) <= AUC_TOLERANCE
    assert abs(m["rater_logloss_with"] - single.metrics["rater_logloss_with"]) < 1e-9
    model = dask.predictor.model
    assert type(model) is LightGBMMastery and model.booster_.params["num_machines"] == 2
    assert dask.card["trainer"]["kind"] == "lightgbm.dask"
    assert dask.card["evaluation"] == {"held_out_educators": 90, "of_held_out_educators": 90,
                                       "training_educators_for_gains_and_raters": 210,
                                       "of_training_educators": 210}


def test_dask_run_evaluates_a_sample_and_keeps_the_whole_folders_card(folder, cluster, both,
                                                                     whole):
    from pipelines.train_workforce import train_workforce_on_dask

    cfg = load_config(_config(folder))
    got = train_workforce_on_dask(cfg, cluster[1], sample_educators=25, audit=False)
    m = got.metrics
    assert (m["n_test_educators_evaluated"], m["n_test_educators"]) == (25, 90)
    assert m["n_train_educators_summarized"] == 25
    assert got.test_predictions["evidence_id"].str.len().gt(0).all()
    owner = whole.evidence.set_index("evidence_id")["educator_id"]
    tested = owner.loc[got.test_predictions["evidence_id"]]
    held_out = owner.loc[both[0].test_predictions["evidence_id"]]
    assert 0 < tested.nunique() <= 25 and set(tested) <= set(held_out)
    assert got.card["data"] == both[0].card["data"] and got.card["split"] == both[0].card["split"]
    assert got.card["evaluation"]["held_out_educators"] == 25


@pytest.mark.parametrize(("change", "message"), [
    ({"model": "logistic", "params": {}}, "lightgbm or lightgbm_nograph"),
])
def test_dask_run_refuses_what_it_cannot_do(folder, cluster, change, message):
    from pipelines.train_workforce import train_workforce_on_dask

    with pytest.raises(ValueError, match=message):
        train_workforce_on_dask(load_config({**_config(folder), **change}), cluster[1])
    with pytest.raises(ValueError, match="sample_educators must be a positive number"):
        train_workforce_on_dask(load_config(_config(folder)), cluster[1], sample_educators=0)


def test_a_folder_without_partitions_is_named(tmp_path, cluster):
    from pipelines.train_workforce import train_workforce_on_dask

    with pytest.raises(FileNotFoundError, match="no educators/\\*.parquet partition"):
        train_workforce_on_dask(load_config(_config(tmp_path)), cluster[1])
    with pytest.raises(FileNotFoundError, match="not a workforce folder"):
        train_workforce_on_dask(load_config(_config(tmp_path / "nowhere")), cluster[1])


@pytest.fixture(scope="module")
def whole(folder):
    """The folder read whole into this process."""
    return load_dataset({"kind": "workforce", "path": str(folder)}, folder)


@pytest.fixture(scope="module", params=["date", "quantile"])
def by_time(request, folder, cluster, whole, tmp_path_factory):
    """The single-machine run and the Dask run of a time split at a day inside the data, or at
    the quantile of every record's time (``test_size``)."""
    from pipelines.train_workforce import train_workforce_on_dask

    cut = whole.evidence["observed_at"].quantile(0.7).floor("D").isoformat()
    cfg = load_config(_config(folder, by="time", **(
        {"before": cut} if request.param == "date" else {})))
    single = train(cfg, tmp_path_factory.mktemp("data"), audit=False)
    return single, train_workforce_on_dask(cfg, cluster[1], audit=False)


def test_a_time_split_on_dask_is_the_single_runs(by_time):
    """Records before the cut train, the rest test (each read with all earlier records): the
    same cut (the quantile's found from per-day counts and one day's times), split, card,
    builder, gains, raters, training rows and test records as the single-machine run; the AUC
    within the tolerance."""
    single, dask = by_time
    assert dask.card["split"]["by"] == "time" and dask.split_id == single.split_id
    assert dask.card["split"] == single.card["split"] and dask.card["data"] == single.card["data"]
    pd.testing.assert_frame_equal(dask.predictor.builder.difficulty_,
                                  single.predictor.builder.difficulty_, rtol=1e-12)
    pd.testing.assert_frame_equal(dask.gain_posteriors, single.gain_posteriors)
    pd.testing.assert_frame_equal(dask.rater_severity, single.rater_severity)
    m, s = dask.metrics, single.metrics
    assert m["n_train_rows"] == s["n_train_rows"]
    assert m["n_test_educators_evaluated"] == m["n_test_educators"] == s["n_test_educators"]
    assert set(dask.test_predictions["evidence_id"]) == set(single.test_predictions["evidence_id"])
    assert abs(m["auc"] - s["auc"]) <= AUC_TOLERANCE
    assert abs(m["rater_logloss_with"] - s["rater_logloss_with"]) < 1e-9


def test_a_time_split_outside_the_data_is_refused_naming_its_range(folder, cluster):
    from pipelines.train_workforce import train_workforce_on_dask

    cfg = load_config(_config(folder, by="time", before="2001-01-01"))
    with pytest.raises(ValueError, match="leaves 0 training .* choose a date inside"):
        train_workforce_on_dask(cfg, cluster[1], audit=False)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 12), st.integers(0, 2**16))
def test_partition_summaries_add_up_to_the_whole_fit(whole, n, seed):
    """Summaries of any partition of the educators, added up, fit the builder the whole fit
    does (up to the order of the score sums)."""
    data = whole
    ids = data.educators["educator_id"].to_numpy(object)
    part = np.random.default_rng(seed).integers(0, n, len(ids))
    builder = FeatureBuilder(data.graph, catalog=data.catalog)
    whole = FeatureBuilder(data.graph, catalog=data.catalog).fit(data.evidence,
                                                                 educators=data.educators)
    summaries = [builder.summarize(data.evidence[data.evidence["educator_id"].isin(mine)],
                                   educators=data.educators[data.educators["educator_id"]
                                                            .isin(mine)])
                 for mine in (ids[part == k] for k in range(n))]
    builder.fit_summary(sum(summaries[1:], summaries[0]))
    pd.testing.assert_frame_equal(builder.difficulty_, whole.difficulty_, rtol=1e-12)
    assert builder.profile_levels_ == whole.profile_levels_


def test_cli_trains_a_workforce_folder_on_a_scheduler(folder, cluster, tmp_path, monkeypatch):
    import mlflow

    from pipelines.cli import app
    from tests.pipelines.test_train_dask import _last_run_id

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    config = tmp_path / "wf.yaml"
    config.write_text(yaml.safe_dump(_config("unused")))
    args = ["train", "--config", str(config), "--data-dir", str(tmp_path), "--no-register",
            "--workforce", str(folder)]
    result = CliRunner().invoke(app, [*args, "--scheduler", cluster[0].scheduler_address,
                                      "--sample-educators", "40", "--no-audit"])
    assert result.exit_code == 0, result.output
    m = mlflow.MlflowClient().get_run(_last_run_id()).data.metrics
    assert (m["n_test_educators_evaluated"], m["n_test_educators"], m["dask_workers"]) == \
        (40, 90, 2)
    for extra, message in ((["--dask", "--partitions", "3"], "its partitions are its files"),
                           (["--dask", "--compare"], "would read it whole"),
                           (["--sample-educators", "5"], "options of a Dask training")):
        refused = CliRunner().invoke(app, [*args, *extra])
        assert refused.exit_code == 2 and message in refused.output, refused.output
