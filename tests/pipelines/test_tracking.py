"""Train -> log -> register -> promote -> load the champion back, on a throwaway store.

:mod:`pipelines.tracking` (MLflow, about a second to import) comes from a fixture, so collecting
these tests imports nothing of it.
"""

import dataclasses

import numpy as np
import pytest

from pipelines.config import load_config
from pipelines.training import train
from recommender.ranking import RankerParams
from tests.pipelines.conftest import small_config


@pytest.fixture
def tracking():
    from pipelines import tracking

    return tracking


@pytest.fixture
def store(tracking, small_data_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = tracking.configure(tmp_path)
    assert uri.startswith("sqlite:///") and str(tmp_path) in uri
    import mlflow

    location = mlflow.get_experiment_by_name(tracking.EXPERIMENT).artifact_location
    assert location.startswith((tmp_path / "mlflow").as_uri())  # artifacts beside the store
    return small_data_dir


def test_champion_round_trip_predicts_the_same_values(tracking, store):
    result = train(load_config(small_config("lightgbm")), store)
    logged = tracking.log_training(result)
    assert logged["version"] == "1"
    import mlflow

    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(logged["run_id"])}
    assert {"calibration.png", "config.json", "data_fingerprint.json",
            "gain_posteriors.csv"} <= artifacts
    params = mlflow.MlflowClient().get_run(logged["run_id"]).data.params
    assert RankerParams.from_dict(params) == result.ranker_params  # the ranker.* params
    assert tracking.champion_version() is None
    tracking.promote(logged["version"])
    assert tracking.champion_version() == "1"
    loaded = tracking.load_champion()
    X = result.sample_input
    np.testing.assert_allclose(loaded.predict_features(X), result.predictor.predict_features(X))
    # the pyfunc flavour (strings in, probabilities out) agrees too
    import mlflow

    pyfunc = mlflow.pyfunc.load_model("models:/mastery@champion")
    served = pyfunc.predict(result.predictor.to_strings(X))
    np.testing.assert_allclose(np.asarray(served), result.predictor.predict_features(X))


def test_compare_ranks_runs_on_one_split_and_promote_checks_versions(tracking, store):
    for model in ("population", "lightgbm"):
        tracking.log_training(train(load_config(small_config(model)), store))
    table = tracking.compare_runs()
    assert list(table["model"]) == ["lightgbm", "population"]  # best AUC first
    assert table["auc"].is_monotonic_decreasing
    with pytest.raises(ValueError, match="no version '99'"):
        tracking.promote("99")


def test_champion_gains_load_with_the_champion_or_say_they_are_missing(tracking, store):
    from recommender.catalog import default_catalog
    from recommender.graph import default_framework
    from recommender.ranking import rank_activities

    with pytest.raises(LookupError, match="promote"):
        tracking.load_champion_gains()
    result = train(load_config(small_config("population")), store)
    tracking.promote(tracking.log_training(result)["version"])
    gains = tracking.load_champion_gains()
    assert gains.index.names == ["activity_id", "competency_id"]
    expected = result.gain_posteriors
    np.testing.assert_allclose(gains.loc[expected.index, "gain_mean"], expected["gain_mean"])
    assert gains.attrs["version"] == "1"
    graph = default_framework("educator")
    recs = rank_activities(graph, default_catalog(graph), {}, gains=gains)
    assert recs  # accepted by the ranker as is

    # a champion whose run logged no gain posteriors: None, and a warning naming the version
    bare = dataclasses.replace(result, gain_posteriors=None)
    tracking.promote(tracking.log_training(bare)["version"])
    with pytest.warns(UserWarning, match="version 2 .* no gain_posteriors.csv"):
        assert tracking.load_champion_gains() is None


def test_a_promote_during_a_load_cannot_mix_versions(tracking, store, tmp_path, monkeypatch):
    """The alias is resolved once per load, and the model, gains, rater severity and parameters
    all come from the version it named, even when ``promote`` moves it while they are read."""
    import mlflow

    from pipelines.app import champion_loader

    result = train(load_config(small_config("population")), store)
    first = tracking.log_training(result)
    bare = dataclasses.replace(result, gain_posteriors=None, rater_severity=None)
    second = tracking.log_training(bare)  # version 2 logged neither gains nor severity
    assert (first["version"], second["version"]) == ("1", "2")
    tracking.promote("1")

    resolved = []
    resolve = mlflow.MlflowClient.get_model_version_by_alias

    def counting(self, name, alias):
        resolved.append(alias)
        return resolve(self, name, alias)

    load_model = mlflow.pyfunc.load_model

    def promote_then_load(uri, *args, **kwargs):  # a promote lands between resolution and reads
        tracking.promote("2")
        return load_model(uri, *args, **kwargs)

    monkeypatch.setattr(mlflow.MlflowClient, "get_model_version_by_alias", counting)
    monkeypatch.setattr(mlflow.pyfunc, "load_model", promote_then_load)
    run_params = mlflow.MlflowClient().get_run(first["run_id"]).data.params

    champion = tracking.load_champion_bundle()
    assert resolved == ["champion"]
    assert (champion.version, champion.run_id, champion.predictor.version) == \
        ("1", first["run_id"], "1")
    assert champion.gains is not None and champion.gains.attrs["version"] == "1"
    assert champion.severity is not None and champion.severity.attrs["version"] == "1"
    assert dict(champion.params) == run_params and champion.notes == ()
    with pytest.raises(TypeError):
        champion.params["model"] = "other"  # read-only
    with pytest.raises(dataclasses.FrozenInstanceError):
        champion.version = "2"

    # what the app serves: one ModelState of the version resolved when the load began
    tracking.promote("1")
    resolved.clear()
    state = champion_loader(tmp_path)()
    assert resolved == ["champion"]
    assert state.version == state.predictor.version == "1" and state.run_id == first["run_id"]
    assert state.gains.attrs["version"] == state.severity.attrs["version"] == "1"
    assert dict(state.params) == run_params

    # the next load serves version 2 whole: its missing tables are None, never version 1's
    monkeypatch.setattr(mlflow.pyfunc, "load_model", load_model)
    state = champion_loader(tmp_path)()
    assert state.version == state.predictor.version == "2"
    assert state.gains is None and state.severity is None
    assert state.params["model"] == "population" and state.run_id == second["run_id"]
