"""MLflow at the edge: the one module that imports mlflow.

Embedded default: a SQLite tracking store and an artifact folder inside the project's data
directory (``DATA_DIR/mlflow/``). ``MLFLOW_TRACKING_URI`` points it at a server instead.
Models are registered as versions of ``mastery``; the ``champion`` alias marks the one served,
and ``champion-<tenant>`` the one served to that tenant instead (:func:`tenant_alias`).
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import mlflow
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from pipelines.model_card import CARD_ARTIFACT, card_summary
from pipelines.subgroups import subgroup_summary
from pipelines.train_audit import audit_summary, write_figure
from pipelines.training import TrainResult
from recommender.models.predictor import MasteryPredictor

__all__ = [
    "MODEL_NAME",
    "CHAMPION",
    "EXPERIMENT",
    "configure",
    "log_files",
    "log_training",
    "compare_runs",
    "promote",
    "clear_tenant_champion",
    "tenant_alias",
    "Champion",
    "load_champion_bundle",
    "load_champion",
    "champion_version",
    "load_champion_gains",
    "load_champion_severity",
    "load_version_bundle",
    "read_gains",
    "download_model",
    "load_model_dir",
    "read_severity",
    "GAINS_ARTIFACT",
    "SEVERITY_ARTIFACT",
    "log_benchmark_run",
    "version_audit",
]

MODEL_NAME = "mastery"
CHAMPION = "champion"
EXPERIMENT = "mastery"
GAINS_ARTIFACT = "gain_posteriors.csv"
SEVERITY_ARTIFACT = "rater_severity.csv"
"""Run artifact holding the learned gain posteriors (:func:`recommender.outcomes.fit_gain_posteriors`)."""
_ALIAS_OK = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
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


def log_files(run_id: str, paths: list[Path]) -> None:
    """Attach files (e.g. a plot) to an existing run as artifacts under their own names."""
    client = MlflowClient()
    for path in paths:
        client.log_artifact(run_id, str(path))


def log_training(result: TrainResult, *, register: bool = True) -> dict:
    """Log one run (params, metrics, plots, config, fingerprint, model); register a version."""
    cfg = result.config
    with mlflow.start_run(run_name=cfg.name) as run:
        mlflow.set_tags({"model": cfg.model, "split_id": result.split_id,
                         "data_fingerprint": result.fingerprint, "config_name": cfg.name,
                         "data_kind": cfg.data.get("kind", "synthetic"),
                         "split_by": cfg.split.get("by", "educator")})
        if result.card:
            # the model card: framework, data (tenant, fingerprint, span), split, metrics, features
            mlflow.log_dict(result.card, CARD_ARTIFACT)
            mlflow.set_tags({"card": card_summary(result.card),
                             "subgroups": subgroup_summary(result.card.get("subgroups")),
                             "tenant": result.card["data"].get("tenant") or ""})
        if result.rejections is not None and not result.rejections.empty:
            # rows rejected from the input files: file, row, evidence_id, field, value, reason
            mlflow.log_text(result.rejections.to_csv(index=False), "rejections.csv")
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
        _log_audit(result)
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


def _log_audit(result: TrainResult) -> None:
    """The equity audit of the run's model (:mod:`pipelines.train_audit`): ``audit.csv``,
    ``audit.md``, ``audit.json``, ``audit.png``, metrics ``audit_flags`` and
    ``audit_min_<metric>_ratio``, and the tag ``audit`` (the flags in a line). A run without an
    audit logs no ``audit_flags`` (``pdrec compare`` shows it "not audited", never 0 flags) and
    says why in the tag."""
    found = result.audit
    mlflow.set_tag("audit", audit_summary(found, result.audit_note)[:500])
    if found is None:
        return
    mlflow.log_metrics({k: v for k, v in found.metrics().items() if pd.notna(v)})
    mlflow.log_text(found.table.to_csv(index=False), "audit.csv")
    mlflow.log_text(found.markdown(), "audit.md")
    mlflow.log_dict(found.document(), "audit.json")
    with tempfile.TemporaryDirectory() as tmp:
        mlflow.log_artifact(str(write_figure(found, Path(tmp) / "audit.png")))


def version_audit(version: str | int) -> tuple[int | None, str]:
    """The audit a registered version's training run logged: ``(flagged groups, summary
    line)``, ``(None, why)`` for a run without one (trained before audits, or ``--no-audit``).
    """
    client = MlflowClient()
    run = client.get_run(client.get_model_version(MODEL_NAME, str(version)).run_id)
    flags = run.data.metrics.get("audit_flags")
    summary = run.data.tags.get("audit") or "not audited (trained before audits were logged)"
    return (None if flags is None else int(flags)), summary


def compare_runs(split_id: str | None = None) -> pd.DataFrame:
    """Runs that share one split (the latest by default), best AUC first.

    The ``card`` column is each model card's one-line summary (framework and its hash, data
    kind and tenant, the evidence's span, the split); ``subgroups`` the range of the test AUC
    over subgroups, the weakest one and how many are small
    (:func:`pipelines.subgroups.subgroup_summary`); both empty for runs logged before them.
    ``audit_flags`` is the number of groups the run's equity audit flagged, NaN for a run
    without an audit (not zero), and ``audit`` its one-line summary (which groups, on what).
    """
    runs = mlflow.search_runs(experiment_names=[EXPERIMENT], order_by=["start_time DESC"])
    if runs.empty:
        return pd.DataFrame()
    split_id = split_id or runs["tags.split_id"].iloc[0]
    runs = runs[runs["tags.split_id"] == split_id]
    cols = {"tags.mlflow.runName": "run", "tags.model": "model",
            "tags.registered_version": "version",
            **{f"metrics.{m}": m for m in _COMPARE_METRICS},
            "metrics.audit_flags": "audit_flags", "tags.card": "card",
            "tags.subgroups": "subgroups", "tags.audit": "audit"}
    table = runs.reindex(columns=list(cols)).rename(columns=cols)
    table = table.sort_values("auc", ascending=False, ignore_index=True)
    held = _aliases_by_version(MlflowClient())
    table["aliases"] = [held.get(str(v), "") for v in table["version"]]
    table.attrs["split_id"] = split_id
    return table


def _aliases_by_version(client: MlflowClient) -> dict[str, str]:
    """Each registered version's aliases, comma-separated (``champion``, ``champion-acme``)."""
    try:
        aliases = client.get_registered_model(MODEL_NAME).aliases
    except mlflow.exceptions.MlflowException:  # nothing registered yet
        return {}
    held: dict[str, list[str]] = {}
    for alias, version in sorted(aliases.items()):
        held.setdefault(str(version), []).append(alias)
    return {v: ",".join(a) for v, a in held.items()}


def tenant_alias(tenant: str | None) -> str:
    """The alias of a tenant's own champion, ``champion-<tenant>`` (``champion`` for None).

    MLflow aliases take letters, digits, ``-`` and ``_``; another tenant id raises ValueError.
    """
    if tenant is None:
        return CHAMPION
    if not _ALIAS_OK.match(tenant):
        raise ValueError(f"tenant {tenant!r} cannot name a model alias: letters, digits, '-' "
                         "and '_' only (1 to 200 characters)")
    return f"{CHAMPION}-{tenant}"


def clear_tenant_champion(tenant: str) -> str | None:
    """Remove the tenant's own champion (it is served the default again); return the version
    its alias pointed at, None when it had none."""
    client = MlflowClient()
    alias = tenant_alias(tenant)
    found = _resolve_champion(client, alias)
    if found is not None:
        client.delete_registered_model_alias(MODEL_NAME, alias)
    return None if found is None else str(found.version)


def promote(version: str | int, tenant: str | None = None) -> None:
    """Point the ``champion`` alias of ``mastery`` at ``version``; with ``tenant``, that
    tenant's alias (:func:`tenant_alias`): the API serves it to that tenant only."""
    alias = tenant_alias(tenant)
    client = MlflowClient()
    versions = {str(v.version) for v in client.search_model_versions(f"name='{MODEL_NAME}'")}
    if str(version) not in versions:
        raise ValueError(
            f"model {MODEL_NAME!r} has no version {version!r}; registered versions: "
            f"{sorted(versions, key=int)}"
        )
    client.set_registered_model_alias(MODEL_NAME, alias, str(version))


def champion_version() -> str | None:
    """The version the ``champion`` alias points at, or None when there is none."""
    found = _resolve_champion(MlflowClient())
    return None if found is None else str(found.version)


@dataclass(frozen=True)
class Champion:
    """One version of ``mastery`` with everything its run logged, all read from that version.

    :func:`load_champion_bundle` resolves the ``champion`` alias once and reads every field from
    the version it found, so a ``pdrec promote`` that lands while it reads cannot mix a model of
    one version with the gains, rater severity or parameters of another.

    Attributes
    ----------
    version, run_id : str
        The registered version and the training run that logged it.
    predictor : MasteryPredictor
        The model (its ``version`` attribute is :attr:`version`).
    gains, severity : DataFrame or None
        The run's gain posteriors (as :func:`load_champion_gains` returns them) and rater
        severity (:func:`load_champion_severity`); None when the run logged none or they could
        not be read, with the reason in :attr:`notes`.
    params : Mapping
        The run's logged parameters (``model``, ``ranker.*``, ``estimator.*``, ...), read-only.
    notes : tuple of str
        Why an optional artifact is None (absent or unreadable).
    card : dict or None
        The run's model card (:data:`~pipelines.model_card.CARD_ARTIFACT`); None when the run
        logged none (trained before cards) or it could not be read (then with a note).
    trained_at : str or None
        When the training run started (ISO 8601, UTC).
    """

    version: str
    run_id: str
    predictor: MasteryPredictor
    gains: pd.DataFrame | None = field(default=None, repr=False)
    severity: pd.DataFrame | None = field(default=None, repr=False)
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    notes: tuple[str, ...] = ()
    card: dict | None = field(default=None, repr=False)
    trained_at: str | None = None


def load_champion_bundle(tenant: str | None = None) -> Champion | None:
    """The champion and everything logged with it (:class:`Champion`), or None without one.

    With ``tenant``: that tenant's own champion (alias ``champion-<tenant>``), None when it has
    none (it is served the default one).

    The alias is resolved once; the model, gains, rater severity and parameters are then read
    from that version and its run, whatever the alias points at by the time they are read.
    A missing or unreadable gains or severity table is None with a note (the caller serves the
    catalog's prior gains, or no rater correction); a model that fails to load raises.
    """
    client = MlflowClient()
    found = _resolve_champion(client, tenant_alias(tenant))
    return None if found is None else _bundle(client, found)


def load_version_bundle(version: str | int) -> Champion:
    """Registered version ``version`` of the mastery model and everything its run logged
    (:class:`Champion`), by number, whatever the aliases say; a LookupError naming the version
    when the registry has no such version (``pdrec compare`` lists them)."""
    client = MlflowClient()
    try:
        found = client.get_model_version(MODEL_NAME, str(version))
    except mlflow.exceptions.MlflowException as exc:
        raise LookupError(f"model {MODEL_NAME!r} has no version {str(version)!r}: "
                          "`pdrec compare` lists the registered versions") from exc
    return _bundle(client, found)


def load_champion() -> MasteryPredictor:
    """Load ``models:/mastery@champion`` back as the engine's predictor (LookupError without)."""
    return _predictor(_require_champion(MlflowClient()))


def load_champion_gains() -> pd.DataFrame | None:
    """The champion run's learned gain posteriors, ready for ``rank_activities(gains=...)``.

    Reads the :data:`GAINS_ARTIFACT` logged by :func:`log_training` on the run that produced the
    version the ``champion`` alias points at (configure tracking first with :func:`configure`).
    To read it together with the model, use :func:`load_champion_bundle` (one alias resolution).

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
    client = MlflowClient()
    gains, absent = _optional(client, _require_champion(client), GAINS_ARTIFACT, read_gains,
                              "the catalog's prior gains")
    if absent:
        warnings.warn(absent, UserWarning, stacklevel=2)
    return gains


def load_champion_severity() -> pd.DataFrame | None:
    """The champion run's rater severity table (:func:`recommender.raters.fit_rater_severity`).

    ``None``, with a :class:`UserWarning`, when that run logged none (trained before severity
    was learned): mastery is then estimated without the correction. Raises LookupError when
    there is no champion.
    """
    client = MlflowClient()
    severity, absent = _optional(client, _require_champion(client), SEVERITY_ARTIFACT,
                                 read_severity, "no rater correction")
    if absent:
        warnings.warn(absent, UserWarning, stacklevel=2)
    return severity


def _resolve_champion(client: MlflowClient, alias: str = CHAMPION) -> ModelVersion | None:
    """The model version an alias (``champion`` by default) points at now (the one place it is
    resolved)."""
    try:
        return client.get_model_version_by_alias(MODEL_NAME, alias)
    except mlflow.exceptions.MlflowException:
        return None


def _require_champion(client: MlflowClient) -> ModelVersion:
    found = _resolve_champion(client)
    if found is None:
        raise LookupError(
            f"model {MODEL_NAME!r} has no {CHAMPION!r} alias: train a model and run "
            "`pdrec promote VERSION` first"
        )
    return found


def _predictor(version: ModelVersion) -> MasteryPredictor:
    """The predictor of this registered version (by number, never through the alias)."""
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/{version.version}")
    predictor = model.unwrap_python_model().predictor
    predictor.version = str(version.version)
    return predictor


def download_model(version: str | int, dst: Path) -> Path:
    """Copy registered version ``version``'s MLflow model directory, as MLflow wrote it
    (``MLmodel``, the pickled pyfunc, environment files), into folder ``dst``; return it.

    Used by :func:`pipelines.model_bundle.export_bundle`; configure tracking first.
    """
    return Path(mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{MODEL_NAME}/{version}", dst_path=str(dst)))


def load_model_dir(path: Path, version: str) -> MasteryPredictor:
    """The predictor of an MLflow model directory on disk, labelled ``version``: read with
    ``mlflow.pyfunc.load_model`` from the local path, so no tracking server or registry is
    needed (:func:`pipelines.model_bundle.load_bundle`)."""
    model = mlflow.pyfunc.load_model(str(path))
    predictor = model.unwrap_python_model().predictor
    predictor.version = str(version)
    return predictor


def _bundle(client: MlflowClient, version: ModelVersion) -> Champion:
    """Everything of one version: its model, and its run's artifacts and parameters."""
    predictor = _predictor(version)
    notes: list[str] = []
    tables = {}
    for name, read, instead in ((GAINS_ARTIFACT, read_gains, "the catalog's prior gains"),
                                (SEVERITY_ARTIFACT, read_severity, "no rater correction")):
        try:
            tables[name], note = _optional(client, version, name, read, instead)
        except Exception as exc:  # noqa: BLE001 - optional: served without it, and said so
            tables[name], note = None, (f"{name} of champion version {version.version} (run "
                                        f"{version.run_id}) not read ({exc}); using {instead}")
        if note:
            notes.append(note)
    card = _card(client, version, notes)
    run = client.get_run(version.run_id)
    started = run.info.start_time
    trained_at = (None if started is None else
                  pd.Timestamp(started, unit="ms", tz="UTC").isoformat())
    return Champion(version=str(version.version), run_id=version.run_id, predictor=predictor,
                    gains=tables[GAINS_ARTIFACT], severity=tables[SEVERITY_ARTIFACT],
                    params=MappingProxyType(dict(run.data.params)), notes=tuple(notes),
                    card=card, trained_at=trained_at)


def _card(client: MlflowClient, version: ModelVersion, notes: list[str]) -> dict | None:
    """The model card of this version's run; None when it logged none (runs before cards) or
    it cannot be read (with a note: the model is served without its card)."""
    run_id = version.run_id
    try:
        if CARD_ARTIFACT not in {a.path for a in client.list_artifacts(run_id)}:
            return None
        card = json.loads(mlflow.artifacts.load_text(f"runs:/{run_id}/{CARD_ARTIFACT}"))
        if not isinstance(card, dict):
            raise ValueError(f"not a JSON object but {type(card).__name__}")
        return card
    except Exception as exc:  # noqa: BLE001 - optional: served without it, and said so
        notes.append(f"{CARD_ARTIFACT} of champion version {version.version} (run {run_id}) "
                     f"not read ({exc}); served without a card")
        return None


def _optional(client: MlflowClient, version: ModelVersion, name: str,
              read: Callable[[str, str], pd.DataFrame], instead: str
              ) -> tuple[pd.DataFrame | None, str | None]:
    """``(table, None)``: artifact ``name`` of this version's run parsed by ``read(text,
    run_id)``; ``(None, why)`` when the run did not log it (``instead`` is what is used)."""
    run_id = version.run_id
    if name not in {a.path for a in client.list_artifacts(run_id)}:
        return None, (f"champion version {version.version} (run {run_id}) has no {name}; "
                      f"using {instead}")
    table = read(mlflow.artifacts.load_text(f"runs:/{run_id}/{name}"), run_id)
    table.attrs.update(version=str(version.version), run_id=run_id)
    return table, None


def read_gains(text: str, run_id: str) -> pd.DataFrame:
    """A :data:`GAINS_ARTIFACT` text as the served table, indexed by ``(activity_id,
    competency_id)``; a ValueError naming ``run_id`` and the missing columns."""
    gains = pd.read_csv(io.StringIO(text), dtype={"activity_id": str, "competency_id": str})
    missing = {"activity_id", "competency_id", "gain_mean"} - set(gains.columns)
    if missing:
        raise ValueError(f"{GAINS_ARTIFACT} of run {run_id} is missing column(s) "
                         f"{sorted(missing)}; columns are {list(gains.columns)}")
    return gains.set_index(["activity_id", "competency_id"])


def read_severity(text: str, run_id: str) -> pd.DataFrame:  # noqa: ARG001 - as read_gains
    """A :data:`SEVERITY_ARTIFACT` text as the served table (``rater_id`` kept a string)."""
    return pd.read_csv(io.StringIO(text), dtype={"rater_id": str})
