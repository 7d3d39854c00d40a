"""MLflow at the edge: the one module that imports mlflow.

Embedded default: a SQLite tracking store and an artifact folder inside the project's data
directory (``DATA_DIR/mlflow/``). ``MLFLOW_TRACKING_URI`` points it at a server instead.
Models are registered as versions of ``mastery``; the ``champion`` alias marks the one served.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from pipelines.training import TrainResult
from recommender.models.predictor import MasteryPredictor

__all__ = [
    "MODEL_NAME",
    "CHAMPION",
    "EXPERIMENT",
    "configure",
    "log_training",
    "compare_runs",
    "promote",
    "load_champion",
    "champion_version",
    "load_champion_gains",
    "load_champion_severity",
    "GAINS_ARTIFACT",
    "log_benchmark_run",
]

MODEL_NAME = "mastery"
CHAMPION = "champion"
EXPERIMENT = "mastery"
GAINS_ARTIFACT = "gain_posteriors.csv"
SEVERITY_ARTIFACT = "rater_severity.csv"
"""Run artifact holding the learned gain posteriors (:func:`recommender.outcomes.fit_gain_posteriors`)."""
_COMPARE_METRICS = ("auc", "log_loss", "brier", "ece", "auc_no_own_evidence")


class MasteryPyfunc(mlflow.pyfunc.PythonModel):
    """The registered model: feature frame (categoricals as strings) in, P(mastery) out."""

    def __init__(self, predictor: MasteryPredictor):
        self.predictor = predictor

    def predict(self, context, model_input: pd.DataFrame, params=None):  # noqa: ARG002
        frame = self.predictor.from_strings(model_input)
        return pd.Series(self.predictor.predict_features(frame), name="p_mastery")


def configure(data_dir: Path) -> str:
    """Point MLflow at ``MLFLOW_TRACKING_URI`` or the embedded store; return the URI used."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    embedded = not uri  # read now: mlflow.set_tracking_uri also exports the variable
    root = Path(data_dir).resolve() / "mlflow"
    if embedded:
        root.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    # An explicit client: the fluent API may still hold the store of a previous tracking URI.
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    if client.get_experiment_by_name(EXPERIMENT) is None:
        location = (root / "artifacts").as_uri() if embedded else None
        client.create_experiment(EXPERIMENT, artifact_location=location)
    mlflow.set_experiment(EXPERIMENT)
    return uri


BENCHMARK_EXPERIMENT = "kt-benchmark"


def log_benchmark_run(
    *, run_name: str, params: dict, metrics: dict, tags: dict, artifacts: dict[str, str],
    experiment: str = BENCHMARK_EXPERIMENT,
) -> str:
    """Log one benchmark model as a run of ``experiment`` (no model is registered); return its id.

    Call :func:`configure` first. With the embedded store, the experiment's artifacts sit next to
    those of ``mastery``. ``artifacts`` maps file names to their text.
    """
    client = MlflowClient()
    found = client.get_experiment_by_name(experiment)
    if found is None:
        base = client.get_experiment_by_name(EXPERIMENT)
        location = None
        if base is not None and base.artifact_location.startswith("file:"):
            location = f"{base.artifact_location.rstrip('/')}/{experiment}"
        experiment_id = client.create_experiment(experiment, artifact_location=location)
    else:
        experiment_id = found.experiment_id
    with mlflow.start_run(run_name=run_name, experiment_id=experiment_id) as run:
        mlflow.set_tags(tags)
        mlflow.log_params({k: v for k, v in params.items() if v is not None})
        mlflow.log_metrics(metrics)
        for name, text in artifacts.items():
            mlflow.log_text(text, name)
    return run.info.run_id


def log_training(result: TrainResult, *, register: bool = True) -> dict:
    """Log one run (params, metrics, plots, config, fingerprint, model); register a version."""
    cfg = result.config
    with mlflow.start_run(run_name=cfg.name) as run:
        mlflow.set_tags({"model": cfg.model, "split_id": result.split_id,
                         "data_fingerprint": result.fingerprint, "config_name": cfg.name})
        mlflow.log_params({"model": cfg.model, "seed": cfg.seed,
                           "test_size": cfg.split["test_size"], "split_seed": cfg.split["seed"],
                           **{f"model.{k}": v for k, v in result.predictor.model.get_params().items()
                              if not isinstance(v, dict)}})
        mlflow.log_metrics({k: v for k, v in result.metrics.items() if pd.notna(v)})
        for name, fig in result.figures.items():
            mlflow.log_figure(fig, name)
        mlflow.log_dict(cfg.to_dict(), "config.json")
        if result.gain_posteriors is not None:
            # the activity effect table: learned gain per (activity, competency) and per hour
            mlflow.log_text(result.gain_posteriors.reset_index().to_csv(index=False),
                            GAINS_ARTIFACT)
            # the pooled hyperparameters the posteriors were fitted with (reading_scale, ...)
            mlflow.log_params({f"gains_{k}": v for k, v in result.gain_posteriors.attrs.items()})
        # the ranker's parameters (recommender.ranking.RankerParams), flat ranker.<name> keys
        mlflow.log_params(result.ranker_params.to_dict())
        # the mastery estimator's (recommender.estimate.EstimatorParams), estimator.<name> keys
        mlflow.log_params(result.estimator_params.to_dict())
        if result.rater_severity is not None:
            mlflow.log_text(result.rater_severity.to_csv(index=False), SEVERITY_ARTIFACT)
        mlflow.log_text(json.dumps({"fingerprint": result.fingerprint,
                                    "split_id": result.split_id}, indent=2), "data_fingerprint.json")
        sample = result.predictor.to_strings(result.sample_input)
        signature = infer_signature(sample, result.predictor.predict_features(result.sample_input))
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=MasteryPyfunc(result.predictor),
            signature=signature,
            input_example=sample.head(5),
            registered_model_name=MODEL_NAME if register else None,
        )
        version = getattr(info, "registered_model_version", None)
        if version is not None:
            mlflow.set_tag("registered_version", str(version))
    return {"run_id": run.info.run_id, "version": None if version is None else str(version)}


def compare_runs(split_id: str | None = None) -> pd.DataFrame:
    """Runs that share one split (the latest by default), best AUC first."""
    runs = mlflow.search_runs(experiment_names=[EXPERIMENT], order_by=["start_time DESC"])
    if runs.empty:
        return pd.DataFrame()
    split_id = split_id or runs["tags.split_id"].iloc[0]
    runs = runs[runs["tags.split_id"] == split_id]
    cols = {"tags.mlflow.runName": "run", "tags.model": "model",
            "tags.registered_version": "version",
            **{f"metrics.{m}": m for m in _COMPARE_METRICS}}
    table = runs.reindex(columns=list(cols)).rename(columns=cols)
    table = table.sort_values("auc", ascending=False, ignore_index=True)
    table.attrs["split_id"] = split_id
    return table


def promote(version: str | int) -> None:
    """Point the ``champion`` alias of ``mastery`` at ``version``."""
    client = MlflowClient()
    versions = {str(v.version) for v in client.search_model_versions(f"name='{MODEL_NAME}'")}
    if str(version) not in versions:
        raise ValueError(
            f"model {MODEL_NAME!r} has no version {version!r}; registered versions: "
            f"{sorted(versions, key=int)}"
        )
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, str(version))


def champion_version() -> str | None:
    """The version the ``champion`` alias points at, or None when there is none."""
    try:
        return str(MlflowClient().get_model_version_by_alias(MODEL_NAME, CHAMPION).version)
    except mlflow.exceptions.MlflowException:
        return None


def load_champion() -> MasteryPredictor:
    """Load ``models:/mastery@champion`` back as the engine's predictor."""
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@{CHAMPION}")
    predictor = model.unwrap_python_model().predictor
    predictor.version = champion_version()
    return predictor


def load_champion_gains() -> pd.DataFrame | None:
    """The champion run's learned gain posteriors, ready for ``rank_activities(gains=...)``.

    Reads the :data:`GAINS_ARTIFACT` logged by :func:`log_training` on the run that produced the
    version the ``champion`` alias points at (configure tracking first with :func:`configure`).

    Returns
    -------
    DataFrame or None
        Indexed by ``(activity_id, competency_id)`` with ``gain_mean, gain_sd, n_obs,
        prior_mean, roi_per_hour, hours`` (see :func:`recommender.outcomes.fit_gain_posteriors`);
        ``None``, with a :class:`UserWarning` naming the run, when that run logged no gain
        posteriors (e.g. it was trained without a catalog): the caller then ranks with the
        catalog's prior gains and should say so.

    Raises
    ------
    LookupError
        There is no champion: train and ``pdrec promote`` a version first.
    """
    text, version, run_id = _champion_artifact(GAINS_ARTIFACT, "the catalog's prior gains")
    if text is None:
        return None
    gains = pd.read_csv(io.StringIO(text), dtype={"activity_id": str, "competency_id": str})
    missing = {"activity_id", "competency_id", "gain_mean"} - set(gains.columns)
    if missing:
        raise ValueError(f"{GAINS_ARTIFACT} of run {run_id} is missing column(s) "
                         f"{sorted(missing)}; columns are {list(gains.columns)}")
    gains = gains.set_index(["activity_id", "competency_id"])
    gains.attrs["version"] = version
    gains.attrs["run_id"] = run_id
    return gains


def load_champion_severity() -> pd.DataFrame | None:
    """The champion run's rater severity table (:func:`recommender.raters.fit_rater_severity`).

    ``None``, with a :class:`UserWarning`, when that run logged none (trained before severity
    was learned): mastery is then estimated without the correction. Raises LookupError when
    there is no champion.
    """
    text, version, run_id = _champion_artifact(SEVERITY_ARTIFACT, "no rater correction")
    if text is None:
        return None
    table = pd.read_csv(io.StringIO(text), dtype={"rater_id": str})
    table.attrs.update(version=version, run_id=run_id)
    return table


def _champion_artifact(name: str, instead: str) -> tuple[str | None, str, str]:
    """``(text, version, run_id)`` of an artifact of the champion's run; text None if absent."""
    client = MlflowClient()
    try:
        version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    except mlflow.exceptions.MlflowException:
        raise LookupError(
            f"model {MODEL_NAME!r} has no {CHAMPION!r} alias: train a model and run "
            "`pdrec promote VERSION` first"
        ) from None
    run_id = version.run_id
    if name not in {a.path for a in client.list_artifacts(run_id)}:
        warnings.warn(f"champion version {version.version} (run {run_id}) has no {name}; "
                      f"using {instead}", UserWarning, stacklevel=3)
        return None, str(version.version), run_id
    return mlflow.artifacts.load_text(f"runs:/{run_id}/{name}"), str(version.version), run_id
