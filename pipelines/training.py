"""Training steps as plain functions: data -> split -> features -> fit -> evaluate -> plots.

Nothing here talks to MLflow: :mod:`pipelines.tracking` logs what these return. Every step takes
frames and parameters and returns new values, so each can be tested alone on small data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pipelines.config import TrainConfig  # noqa: E402
from pipelines.file_data import read_file_data  # noqa: E402
from pipelines.model_card import frame_hash, framework_hash, time_range  # noqa: E402
from pipelines.store_data import read_store_data  # noqa: E402
from pipelines.subgroups import subgroup_frame, subgroup_metrics  # noqa: E402
from pipelines.train_audit import ModelAudit, audit_trained_model  # noqa: E402
from pipelines.workforce_data import read_workforce  # noqa: E402
from recommender.catalog import Catalog, default_catalog  # noqa: E402
from recommender.estimate import DEFAULT_ESTIMATOR_PARAMS, EstimatorParams, MasteryEstimator  # noqa: E402
from recommender.evidence import NO_FUTURE_CHECK, proficient_threshold, validate_evidence  # noqa: E402
from recommender.features import FeatureBuilder  # noqa: E402
from recommender.graph import default_framework  # noqa: E402
from recommender.models import make_model, mastery_metrics, reliability_table  # noqa: E402
from recommender.models.predictor import MasteryPredictor  # noqa: E402
from recommender.outcomes import fit_gain_posteriors  # noqa: E402
from recommender.ranking import DEFAULT_RANKER_PARAMS, RankerParams  # noqa: E402
from recommender.raters import fit_rater_severity  # noqa: E402
from recommender.simulate import generate, read_synthetic, write_synthetic  # noqa: E402

__all__ = [
    "Dataset",
    "TrainResult",
    "load_dataset",
    "data_fingerprint",
    "split_educators",
    "time_cut",
    "cut_instant",
    "Split",
    "split_records",
    "time_split",
    "check_time_cut",
    "held_out_frame",
    "model_card",
    "evaluate",
    "calibration_figure",
    "importance_figure",
    "train",
    "Fold",
    "Prepared",
    "prepare_fold",
    "prepare",
    "fit_model",
    "package",
    "rater_severity_check",
]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Dataset:
    """Everything a mastery model trains on, validated."""

    graph: nx.DiGraph
    catalog: Catalog | None
    educators: pd.DataFrame
    evidence: pd.DataFrame  # validated: canonical columns + score_norm + proficient
    completions: pd.DataFrame
    rejected: int
    source: dict = field(default_factory=lambda: {"kind": "synthetic"})
    """Where the data came from, for the model card: ``kind``, and ``path``, ``tenant, url`` or
    ``files``."""
    rejections: pd.DataFrame | None = None
    """The rejected rows with their file, row, field, value and reason (``files`` data only)."""


@dataclass
class TrainResult:
    """What one training run produced: the packaged model, its metrics, plots and lineage.

    ``ranker_params`` are the ranker parameters in force for this run, logged with it as
    ``ranker.*`` params so that a run records the whole decision rule, not only the model
    (nothing reads them back yet: the API and the simulator rank with the defaults unless given
    others).
    """

    config: TrainConfig
    predictor: MasteryPredictor
    metrics: dict[str, float]
    figures: dict[str, Figure]
    fingerprint: str
    split_id: str
    sample_input: pd.DataFrame
    test_predictions: pd.DataFrame
    gain_posteriors: pd.DataFrame | None = None
    ranker_params: RankerParams = DEFAULT_RANKER_PARAMS
    rater_severity: pd.DataFrame | None = None
    estimator_params: EstimatorParams = DEFAULT_ESTIMATOR_PARAMS
    card: dict = field(default_factory=dict)
    """The model card (:func:`model_card`), logged as ``model_card.json``."""
    rejections: pd.DataFrame | None = None
    """Rows rejected from the input files (``files`` data), logged as ``rejections.csv``."""
    audit: ModelAudit | None = None
    """The equity audit of this model's recommendations to the held-out cohort
    (:mod:`pipelines.train_audit`); None with the reason in :attr:`audit_note`."""
    audit_note: str | None = None


def load_dataset(data: dict, data_dir: Path, progress: Progress = lambda _: None) -> Dataset:
    """The data of ``data['kind']``: ``synthetic`` (the default), ``store`` (one tenant's),
    ``files`` (evidence, completions and profiles files with a framework file) or
    ``workforce`` (a folder partitioned by educator, read whole)."""
    if data.get("kind") == "workforce":
        progress(f"loading the workforce folder {data['path']}")
        got = read_workforce(data)
        return Dataset(got.graph, got.catalog, got.educators, got.evidence, got.completions,
                       rejected=got.rejected, source=got.source)
    if data.get("kind") == "files":
        progress(f"loading evidence from {data['evidence']}")
        got = read_file_data(data)
        return Dataset(got.graph, got.catalog, got.educators, got.evidence, got.completions,
                       rejected=len(got.rejections), source=got.source, rejections=got.rejections)
    if data.get("kind", "synthetic") == "store":
        progress(f"loading tenant {data['tenant']!r} from the store")
        got = read_store_data(data, data_dir)
        return Dataset(got.graph, got.catalog, got.educators, got.evidence, got.completions,
                       rejected=got.rejected,
                       source={"kind": "store", "tenant": str(data["tenant"]), "url": got.url})
    return _load_synthetic(data, data_dir, progress)


def _load_synthetic(data: dict, data_dir: Path, progress: Progress) -> Dataset:
    """Read a synthetic dataset (generating it first if it is missing) and validate evidence."""
    graph = default_framework("educator")
    catalog = default_catalog(graph)
    folder = Path(data_dir) / data.get("path", "synthetic")
    if not (folder / "evidence.parquet").exists():
        spec = data.get("generate")
        if not spec:
            raise FileNotFoundError(
                f"no dataset at {folder} and no 'generate' settings in the config to make one; "
                "run `pdrec generate --out` first or add data.generate"
            )
        progress(f"generating {spec.get('educators', 1000)} synthetic educators")
        write_synthetic(
            generate(graph, catalog, n_educators=int(spec.get("educators", 1000)),
                     months=int(spec.get("months", 12)), random_state=int(spec.get("seed", 0))),
            folder,
        )
    synthetic = read_synthetic(folder)
    checked = validate_evidence(
        synthetic.evidence, competencies=list(graph), educators=synthetic.educators["educator_id"],
        proficient_at=proficient_threshold(graph.graph["scale"]),
        now=NO_FUTURE_CHECK,
    )
    return Dataset(graph, catalog, synthetic.educators, checked.valid, synthetic.completions,
                   rejected=len(checked.rejections),
                   source={"kind": "synthetic", "path": data.get("path", "synthetic")})


def data_fingerprint(evidence: pd.DataFrame) -> str:
    """A short content hash of the evidence: two runs with one fingerprint saw the same data."""
    cols = ["evidence_id", "educator_id", "competency_id", "source", "score_norm", "observed_at"]
    hashed = pd.util.hash_pandas_object(evidence[cols], index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]


def split_educators(
    educator_ids, *, test_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Held-out educators (grouped split: an educator's rows never straddle the split)."""
    ids = np.sort(pd.unique(np.asarray(educator_ids, dtype=object)))
    rng = np.random.default_rng(seed)
    test_mask = np.zeros(len(ids), bool)
    test_mask[rng.permutation(len(ids))[: max(1, round(test_size * len(ids)))]] = True
    return ids[~test_mask], ids[test_mask]


def evaluate(y: np.ndarray, p: np.ndarray, X: pd.DataFrame) -> dict[str, float]:
    """Overall metrics, AUC per domain, and metrics on rows with no own evidence (cold start)."""
    metrics = mastery_metrics(y, p)
    for domain in X["domain"].cat.categories:
        mask = (X["domain"] == domain).to_numpy()
        if mask.any():
            metrics[f"auc_{domain}"] = mastery_metrics(y[mask], p[mask])["auc"]
    cold = (X["own_n"] == 0).to_numpy()
    if cold.any():
        cold_metrics = mastery_metrics(y[cold], p[cold])
        metrics["auc_no_own_evidence"] = cold_metrics["auc"]
        metrics["log_loss_no_own_evidence"] = cold_metrics["log_loss"]
        metrics["n_no_own_evidence"] = float(cold.sum())
    return metrics


def calibration_figure(y: np.ndarray, p: np.ndarray, title: str) -> Figure:
    """Reliability diagram: observed proficiency rate against mean predicted probability.

    A bare :class:`~matplotlib.figure.Figure`, not pyplot's: pyplot keeps every figure it makes
    until closed, so a process that trains many models (tests, sweeps) would hold them all."""
    table = reliability_table(y, p)
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect calibration")
    ax.plot(table["mean_p"], table["rate"], marker="o", label=title)
    ax.set_xlabel("predicted P(proficient)")
    ax.set_ylabel("observed proficiency rate")
    ax.set_title(f"Calibration: {title}")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def importance_figure(importance: pd.Series, title: str, top: int = 25) -> Figure:
    """Horizontal bar chart of the ``top`` features by importance (a bare Figure, as above)."""
    imp = importance.sort_values(ascending=True).tail(top)
    fig = Figure(figsize=(6, max(3, 0.25 * len(imp))))
    ax = fig.subplots()
    ax.barh(imp.index.astype(str), imp.to_numpy())
    ax.set_xlabel("importance (total gain)")
    ax.set_title(f"Feature importance: {title}")
    fig.tight_layout()
    return fig


@dataclass(frozen=True)
class Split:
    """Which evidence records train a model and which test it (masks over the evidence rows).

    ``by='educator'`` holds out whole educators (an educator's rows never straddle the split);
    ``by='time'`` trains on records observed before ``before`` and tests on the records at or
    after it, since a deployed model predicts evidence that has not happened yet: a test
    record's features still read all strictly earlier evidence, the training period's included,
    as the served model would.
    """

    by: str
    is_train: np.ndarray
    is_test: np.ndarray
    train_ids: np.ndarray  # educators whose profiles the feature builder learns levels from
    test_ids: np.ndarray  # educators with test records
    split_id: str
    info: dict  # for the model card: by, and test_size/seed or before
    before: pd.Timestamp | None = None

    def train_completions(self, completions: pd.DataFrame) -> pd.DataFrame:
        """The completions a model may learn activity effects from (training side only)."""
        if self.before is not None:
            return completions[pd.to_datetime(completions["completed_at"], utc=True) < self.before]
        return completions[completions["educator_id"].isin(self.train_ids)]


def time_cut(evidence: pd.DataFrame, *, test_size: float, before=None) -> pd.Timestamp:
    """The instant before which records train: ``before`` when given (UTC if naive), else the
    observation time that leaves about the last ``test_size`` share of the records to test."""
    if before is not None:
        return cut_instant(before)
    times = evidence["observed_at"].sort_values(ignore_index=True)
    return times.iloc[min(len(times) - 1, int(np.floor((1 - test_size) * len(times))))]


def cut_instant(before) -> pd.Timestamp:
    """A time split's date ``before`` as a UTC instant (a naive date is read as UTC)."""
    cut = pd.Timestamp(before)
    return cut.tz_localize("UTC") if cut.tzinfo is None else cut.tz_convert("UTC")


def split_records(evidence: pd.DataFrame, educator_ids, split: dict, fingerprint: str) -> Split:
    """The configured split (``split['by']``: ``educator``, the default, or ``time``)."""
    if split.get("by", "educator") == "time":
        cut = time_cut(evidence, test_size=float(split["test_size"]), before=split.get("before"))
        is_train = (evidence["observed_at"] < cut).to_numpy()
        check_time_cut(cut, int(is_train.sum()), int((~is_train).sum()),
                       time_range(evidence["observed_at"]))
        test_ids = np.sort(pd.unique(evidence["educator_id"][~is_train]))
        return time_split(cut, is_train, educator_ids, test_ids, fingerprint)
    train_ids, test_ids = split_educators(educator_ids, test_size=split["test_size"],
                                          seed=split["seed"])
    is_train = evidence["educator_id"].isin(train_ids).to_numpy()
    key = ",".join(map(str, test_ids))  # the split id of earlier runs, unchanged
    info = {"by": "educator", "test_size": float(split["test_size"]), "seed": int(split["seed"])}
    return Split("educator", is_train, ~is_train, train_ids, test_ids,
                 _split_id(fingerprint, key), info)


def time_split(cut: pd.Timestamp, is_train: np.ndarray, educator_ids, test_ids: np.ndarray,
               fingerprint: str) -> Split:
    """The split of the records before ``cut`` (``is_train``, over the evidence rows) from the
    rest: every educator's profile trains, ``test_ids`` have test records; named by the data's
    ``fingerprint`` and the cut."""
    info = {"by": "time", "before": cut.isoformat()}
    return Split("time", is_train, ~is_train,
                 np.sort(pd.unique(np.asarray(educator_ids, dtype=object))), test_ids,
                 _split_id(fingerprint, f"time<{cut.isoformat()}"), info, cut)


def check_time_cut(cut: pd.Timestamp, n_train: int, n_test: int, span: dict) -> None:
    """Refuse a time cut that leaves no training or no test records, naming the data's span."""
    if not n_train or not n_test:
        raise ValueError(f"a time split at {cut.isoformat()} leaves {n_train} training and "
                         f"{n_test} test records: choose a date inside the evidence's range "
                         f"{span['from']} .. {span['to']}")


def _split_id(fingerprint: str, key: str) -> str:
    return hashlib.sha256(f"{fingerprint}|{key}".encode()).hexdigest()[:12]


def model_card(config: TrainConfig, data: Dataset, split: Split, fingerprint: str,
               metrics: dict[str, float], features, subgroups: dict | None = None) -> dict:
    """The card logged with the model: framework, data and its span, split, metrics (overall,
    and per subgroup: :func:`pipelines.subgroups.subgroup_metrics`), features."""
    ev = data.evidence

    def part(mask: np.ndarray) -> dict:
        rows = ev[mask]
        return {"records": int(len(rows)), "educators": int(rows["educator_id"].nunique()),
                **time_range(rows["observed_at"])}

    return {
        "name": config.name, "model": config.model,
        "framework": {"name": data.graph.graph.get("name"),
                      "version": data.graph.graph.get("version"),
                      "hash": framework_hash(data.graph), "competencies": data.graph.number_of_nodes()},
        "catalog": {"activities": 0 if data.catalog is None else len(data.catalog),
                    "hash": None if data.catalog is None else frame_hash(data.catalog.targets)},
        "data": {**data.source, "fingerprint": fingerprint,
                 "rows": {"educators": len(data.educators), "evidence": len(ev),
                          "completions": len(data.completions), "rejected": data.rejected},
                 "hashes": {"evidence": fingerprint, "completions": frame_hash(data.completions),
                            "educators": frame_hash(data.educators.astype(str))},
                 "time_range": time_range(ev["observed_at"])},
        "split": {**split.info, "split_id": split.split_id,
                  "train": part(split.is_train), "test": part(split.is_test)},
        "metrics": {k: float(v) for k, v in metrics.items() if pd.notna(v)},
        "subgroups": subgroups,
        "features": [str(c) for c in features],
    }


def held_out_frame(builder: FeatureBuilder, evidence: pd.DataFrame, is_test: np.ndarray, *,
                   by_time: bool, completions: pd.DataFrame | None = None,
                   educators: pd.DataFrame | None = None):
    """Features and labels of the test records ``is_test`` of ``evidence``: by educator, from
    those records alone; by time, each from all earlier evidence of its educator in
    ``evidence``, training period included."""
    kw = {"completions": completions, "educators": educators}
    if by_time:
        X, y = builder.training_frame(evidence, **kw)
        keep = X["evidence_id"].isin(evidence["evidence_id"][is_test]).to_numpy()
        return X[keep].reset_index(drop=True), y[keep]
    return builder.training_frame(evidence[is_test], **kw)


@dataclass(frozen=True)
class Fold:
    """The data, its split and the feature builder fitted on the training side: what both
    feature frames are built from (:func:`prepare` builds them here; :mod:`pipelines.train_dask`
    builds the training frame on a Dask cluster's workers instead)."""

    data: Dataset
    fingerprint: str
    split: Split
    builder: FeatureBuilder

    @property
    def train_evidence(self) -> pd.DataFrame:
        return self.data.evidence[self.split.is_train]

    def training_frame(self) -> tuple[pd.DataFrame, np.ndarray]:
        """Features and labels of the training records, built here in one process."""
        return self.builder.training_frame(self.train_evidence, **self._inputs)

    def test_frame(self) -> tuple[pd.DataFrame, np.ndarray]:
        """Features and labels of the held-out records."""
        return held_out_frame(self.builder, self.data.evidence, self.split.is_test,
                              by_time=self.split.by == "time", **self._inputs)

    @property
    def _inputs(self) -> dict:
        return {"completions": self.data.completions, "educators": self.data.educators}


@dataclass(frozen=True)
class Prepared:
    """What a fit starts from: the data, its split and the feature frames of both sides.

    :func:`train` fits one model on it; :mod:`pipelines.train_dask` fits the same frames on a
    Dask cluster and compares, so both trainers share data, split and features.
    ``train_rows`` is the training frame's row count when ``X_train`` holds none of its rows
    (the frame was built on a cluster's workers); None reads ``len(X_train)``.
    """

    data: Dataset
    fingerprint: str
    split: Split
    builder: FeatureBuilder
    X_train: pd.DataFrame
    y_train: np.ndarray
    X_test: pd.DataFrame
    y_test: np.ndarray
    train_rows: int | None = None


def prepare_fold(config: TrainConfig, data_dir: Path,
                 progress: Progress = lambda _: None) -> Fold:
    """Load the configured data, split it and fit the feature builder on the training side."""
    progress("loading data")
    data = load_dataset(config.data, data_dir, progress)
    fingerprint = data_fingerprint(data.evidence)
    split = split_records(data.evidence, data.educators["educator_id"], config.split, fingerprint)
    ev_train = data.evidence[split.is_train]

    progress(f"building features ({len(ev_train):,} training and {int(split.is_test.sum()):,} "
             "test rows)")
    builder = FeatureBuilder(data.graph, catalog=data.catalog, **{
        "proficient_at": proficient_threshold(data.graph.graph["scale"]), **config.features})
    builder.fit(ev_train,
                educators=data.educators[data.educators["educator_id"].isin(split.train_ids)])
    return Fold(data, fingerprint, split, builder)


def prepare(config: TrainConfig, data_dir: Path, progress: Progress = lambda _: None) -> Prepared:
    """Load the configured data, split it and build the training and test feature frames."""
    fold = prepare_fold(config, data_dir, progress)
    X_train, y_train = fold.training_frame()
    X_test, y_test = fold.test_frame()
    return Prepared(fold.data, fold.fingerprint, fold.split, fold.builder, X_train, y_train,
                    X_test, y_test)


def fit_model(config: TrainConfig, X_train: pd.DataFrame, y_train: np.ndarray):
    """The configured model, seeded with ``config.seed``, fitted on the training frame."""
    model = make_model(config.model, **dict(config.params))
    if "random_state" in model.get_params():
        model.set_params(random_state=config.seed)
    return model.fit(X_train, y_train, groups=X_train["educator_id"].to_numpy())


def train(config: TrainConfig, data_dir: Path, progress: Progress = lambda _: None, *,
          audit: bool = True) -> TrainResult:
    """Run one configured training: returns the packaged model and its held-out evaluation,
    and (``audit``) the equity audit of its recommendations to the held-out cohort."""
    prep = prepare(config, data_dir, progress)
    progress(f"fitting {config.model}")
    model = fit_model(config, prep.X_train, prep.y_train)
    return package(config, prep, model, progress, audit=audit)


def package(config: TrainConfig, prep: Prepared, model,
            progress: Progress = lambda _: None, *, audit: bool = True) -> TrainResult:
    """Evaluate a fitted model on the held-out frame and package it with its lineage, and
    (``audit``) the equity audit of its recommendations (:mod:`pipelines.train_audit`)."""
    data, split, fingerprint, split_id = prep.data, prep.split, prep.fingerprint, prep.split.split_id
    X_train, X_test, y_test = prep.X_train, prep.X_test, prep.y_test
    ev_train = data.evidence[split.is_train]

    progress(f"evaluating on held-out {'later records' if split.by == 'time' else 'educators'}")
    p_test = model.predict_proba(X_test)[:, 1]
    metrics = evaluate(y_test, p_test, X_test)
    train_rows = len(X_train) if prep.train_rows is None else prep.train_rows
    metrics.update(n_train_rows=float(train_rows), n_test_educators=float(len(split.test_ids)),
                   rejected_rows=float(data.rejected))
    figures = {"calibration.png": calibration_figure(y_test, p_test, config.name)}
    importance = getattr(model, "feature_importance_", None)
    if importance is not None:
        figures["feature_importance.png"] = importance_figure(importance, config.name)
    predictor = MasteryPredictor(builder=prep.builder, model=model, name=config.name,
                                 metadata={"fingerprint": fingerprint, "split_id": split_id})
    test_predictions = pd.DataFrame(
        {"evidence_id": X_test["evidence_id"].to_numpy(), "y": y_test, "p": p_test}
    )
    groups = subgroup_frame(X_test, data.evidence, data.educators,
                            dict(data.graph.nodes(data="domain")))
    subgroups = subgroup_metrics(y_test, p_test, groups)
    posteriors = severity = None
    if data.catalog is not None:  # without a catalog there are no activities to learn about
        progress("evaluating: learning activity effects from training educators' outcomes")
        posteriors = fit_gain_posteriors(ev_train, split.train_completions(data.completions),
                                         data.catalog)
    # evidence without rater ids (files without the column) has no severity to learn; the
    # rater check runs the estimator, which needs a catalog
    if "rater_id" in ev_train and data.catalog is not None:
        progress("rater severity from training educators' evidence")
        severity = fit_rater_severity(ev_train)
        metrics.update(rater_severity_check(data, severity, split.test_ids, after=split.before))
    features = getattr(model, "feature_names_in_", X_train.columns)
    card = model_card(config, data, split, fingerprint, metrics, features, subgroups)
    checked, note = None, "--no-audit"
    if audit:
        progress("evaluating: equity audit of the recommendations to the held-out cohort")
        checked, note = audit_trained_model(
            data.graph, data.catalog, data.educators, data.evidence, data.completions,
            predictor=predictor, gains=posteriors, educator_ids=split.test_ids,
            before=split.before, seed=config.seed)
    return TrainResult(config, predictor, metrics, figures, fingerprint, split_id,
                       sample_input=X_test.head(50), test_predictions=test_predictions,
                       gain_posteriors=posteriors, rater_severity=severity, card=card,
                       rejections=data.rejections, audit=checked, audit_note=note)


def rater_severity_check(data: Dataset, severity: pd.DataFrame, test_ids,
                         after: pd.Timestamp | None = None) -> dict[str, float]:
    """Held-out log loss of observation records with and without the severity correction.

    The evidence filter (:class:`recommender.estimate.MasteryEstimator`, no model prior) scores
    each held-out educator's observation records one step ahead, once knowing the raters'
    severity and once not; the correction earns its place when the first is lower.
    With ``after`` (a time split) only records observed from then on are scored; earlier ones
    still inform the filter.
    """
    ev = data.evidence[data.evidence["educator_id"].isin(test_ids)]
    comp = data.completions[data.completions["educator_id"].isin(test_ids)]
    if ev.empty or severity.empty:
        return {}
    as_of = ev["observed_at"].max() + pd.Timedelta(seconds=1)
    ids = pd.unique(ev["educator_id"])
    observed = (ev["source"] == "observation").to_numpy()
    if after is not None:
        observed = observed & (ev["observed_at"] >= after).to_numpy()
    out = {}
    for name, table in (("with", severity.set_index("rater_id")["severity"]), ("without", None)):
        est = MasteryEstimator(data.graph, data.catalog, severity=table)
        ll = est.log_likelihood(ev, ids, as_of=as_of, completions=comp).to_numpy()[observed]
        out[f"rater_logloss_{name}"] = float(-np.nanmean(ll))
    out["n_raters"] = float(len(severity))
    return out
