"""The run: every configured model fitted on the whole training file and on each fold, scored.

See :mod:`pipelines.kt` for the protocol. :func:`run_benchmark` returns a
:class:`BenchmarkResult`: one row per model, fit and part in ``folds`` and the timings.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipelines.kt.config import COUNT_FEATURES, METRICS, MODELS, BenchmarkConfig, SetupError
from pipelines.kt.frames import training_frame
from pipelines.kt.graph_learning import learn_skill_graph, skill_framework
from pipelines.kt.pybkt_job import PYBKT_REQUIREMENTS, PyBKTJob
from pipelines.kt_data import KTSplit, load_kt_split, to_evidence
from recommender.features import FeatureBuilder
from recommender.models import (
    BKTMastery,
    LightGBMMastery,
    LightGBMNoGraph,
    LogisticMastery,
    mastery_metrics,
)

Progress = Callable[[str, int], None]  # (message, steps completed since the last call)


@dataclass
class BenchmarkResult:
    """Per model and fold: test and valid metrics and timings; plus what the data was."""

    config: BenchmarkConfig
    split: KTSplit
    folds: pd.DataFrame  # model, fold (0: whole train file), part, auc, rmse, accuracy, log_loss, n
    timings: pd.DataFrame  # model, fold, fit_seconds, predict_seconds
    feature_seconds: list[float]
    graphs: list[dict]  # per fold: edges, domains of the learned graph
    notes: list[str]
    seconds: float

    @property
    def has_times(self) -> bool:
        """Whether the data gave timestamps (otherwise the answer order is the time)."""
        return bool(self.split.train["time"].notna().any())

    def summary(self) -> pd.DataFrame:
        """One row per model: test metrics of the fit on the whole training file (``auc``, ...),
        their mean and sd over the fold fits (``fold_auc``, ``fold_auc_sd``, ...; NaN without
        fold fits), the mean valid AUC over folds, and mean fit/predict seconds per fit."""
        test = self.folds[self.folds["part"] == "test"]
        valid = self.folds[self.folds["part"] == "valid"]
        rows = []
        for model in [m for m in MODELS if m in set(test["model"])]:
            t = test[test["model"] == model]
            full, folds = t[t["fold"] == 0], t[t["fold"] > 0]
            v = valid[valid["model"] == model]
            tm = self.timings[self.timings["model"] == model]
            row = {"model": model, "folds": len(folds)}
            for m in METRICS:
                row[m] = full[m].iloc[0] if len(full) else np.nan
                row[f"fold_{m}"] = folds[m].mean() if len(folds) else np.nan
                row[f"fold_{m}_sd"] = folds[m].std(ddof=1) if len(folds) > 1 else np.nan
            row["valid_auc"] = v["auc"].mean() if len(v) else np.nan
            row["fit_seconds"] = tm["fit_seconds"].mean()
            row["predict_seconds"] = tm["predict_seconds"].mean()
            rows.append(row)
        return pd.DataFrame(rows)


@dataclass
class _Scores:
    """Metrics and timings, collected fit by fit."""

    rows: list[dict] = field(default_factory=list)
    timings: list[dict] = field(default_factory=list)

    def add(self, model: str, fold: int, parts: dict, fit_s: float, pred_s: float) -> float:
        """Score ``parts`` (part -> (outcomes, predictions)); return the test AUC."""
        for part, (y, p) in parts.items():
            self.rows.append({"model": model, "fold": fold, "part": part, **_metrics(y, p)})
        self.timings.append({"model": model, "fold": fold, "fit_seconds": fit_s,
                             "predict_seconds": pred_s})
        return self.rows[-len(parts)]["auc"]


def _metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    m = mastery_metrics(y, np.clip(p, 0.0, 1.0))
    return {"auc": m["auc"], "rmse": float(np.sqrt(m["brier"])),
            "accuracy": float(np.mean((p >= 0.5) == (y == 1))), "log_loss": m["log_loss"],
            "n": float(len(y))}


def _outcomes(responses: pd.DataFrame) -> np.ndarray:
    """Outcomes of a responses frame in its own row order (pyBKT predicts per row)."""
    return (responses["correct"].to_numpy() >= 0.5).astype(np.int64)


def _make(name: str, config: BenchmarkConfig):
    if name == "lightgbm":
        return LightGBMNoGraph(**config.lightgbm, n_jobs=config.n_jobs, random_state=config.seed)
    if name == "lightgbm_graph":
        return LightGBMMastery(**config.lightgbm, n_jobs=config.n_jobs, random_state=config.seed)
    if name == "lightgbm_counts":
        return LightGBMMastery(**{**config.lightgbm, "monotone": False}, n_jobs=config.n_jobs,
                               random_state=config.seed)
    if name == "logistic":
        return LogisticMastery(**config.logistic)
    if name == "bkt":
        return BKTMastery(**config.bkt, random_state=config.seed)
    raise ValueError(f"unknown model {name!r}")


def load_split(config: BenchmarkConfig) -> KTSplit:
    """The dataset of a run, read and split (no folds when ``config.n_folds`` is 1)."""
    return load_kt_split(config.data, fmt=config.fmt, max_learners=config.max_learners,
                         n_folds=config.n_folds, seed=config.seed, **config.csv_options)


@dataclass(frozen=True)
class _Fit:
    """One fit: the whole training file (``k`` 0, no valid part) or train/valid fold ``k``."""

    k: int
    train: pd.DataFrame
    valid: pd.DataFrame | None

    @property
    def label(self) -> str:
        return "whole train file" if self.k == 0 else f"fold {self.k}"


def _feature_frames(fit: _Fit, config: BenchmarkConfig, settings: dict, skills: list[str],
                    ev_test: pd.DataFrame, graphs: list[dict]) -> dict:
    """The engine's feature frames of one fit: ``{"plain"|"graph": {part: (X, y)}}``, the graph
    variant on a framework learned from the fit's training part (recorded in ``graphs``)."""
    evidence = {"train": to_evidence(fit.train, competencies=skills), "test": ev_test}
    if fit.valid is not None:
        evidence["valid"] = to_evidence(fit.valid, competencies=skills)
    frames = {}
    if any(m not in ("pybkt", "lightgbm_graph") for m in config.models):
        graph = skill_framework(skills)
        builder = FeatureBuilder(graph, **settings).fit(evidence["train"])
        frames["plain"] = {part: training_frame(builder, e, graph, max_pairs=config.feature_pairs)
                           for part, e in evidence.items()}
    if "lightgbm_graph" in config.models:
        edges, domains = learn_skill_graph(evidence["train"], max_parents=config.graph_max_parents,
                                           min_count=config.graph_min_count, seed=config.seed)
        graphs.append({"fit": fit.label, "edges": len(edges),
                       "domains": len(set(domains.values()))})
        graph = skill_framework(skills, edges=edges, domains=domains)
        builder = FeatureBuilder(graph, **settings).fit(evidence["train"])
        frames["graph"] = {part: training_frame(builder, e, graph, max_pairs=config.feature_pairs)
                           for part, e in evidence.items()}
    return frames


def _fit_model(name: str, frames: dict, config: BenchmarkConfig) -> tuple[dict, float, float]:
    """Fit one feature-based model; return ``(part -> (outcomes, predictions), fit_s, pred_s)``."""
    X = dict(frames["graph" if name == "lightgbm_graph" else "plain"])
    if name == "lightgbm_counts":
        X = {part: (f[list(COUNT_FEATURES)], y) for part, (f, y) in X.items()}
    model = _make(name, config)
    X_tr, y_tr = X["train"]
    t0 = time.perf_counter()
    model.fit(X_tr, y_tr, groups=X_tr["educator_id"].to_numpy())
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    p_te = model.predict_proba(X["test"][0])[:, 1]
    pred_s = time.perf_counter() - t0
    # frames come in (observed_at, evidence_id) order, with their outcomes
    parts = {"test": (X["test"][1], p_te)}
    if "valid" in X:
        parts["valid"] = (X["valid"][1], model.predict_proba(X["valid"][0])[:, 1])
    return parts, fit_s, pred_s


def _run_fit(fit: _Fit, config: BenchmarkConfig, split: KTSplit, skills: list[str],
             ev_test: pd.DataFrame, scores: _Scores, graphs: list[dict],
             progress: Progress) -> tuple[float, int]:
    """Every model on one fit; returns the feature-building seconds and pyBKT's undefined
    predictions (per-fold pyBKT only)."""
    progress(f"{fit.label}: building features", 0)
    t0 = time.perf_counter()
    settings = config.feature_settings(bool(split.train["time"].notna().any()))
    frames = _feature_frames(fit, config, settings, skills, ev_test, graphs)
    feature_s = time.perf_counter() - t0
    progress(f"{fit.label}: features built", 1)
    missing = 0
    for name in config.models:
        if name == "pybkt":
            if fit.k == 0 or not config.pybkt_per_fold:
                continue  # the whole-file fit runs alongside, in the background
            progress(f"{fit.label}: {name}", 0)
            (p_test, p_valid), fit_s, pred_s, n_missing = PyBKTJob(
                fit.train, [split.test, fit.valid], python=config.pybkt_python, seed=config.seed,
                **config.pybkt).result()
            missing += n_missing
            parts = {"test": (_outcomes(split.test), p_test),
                     "valid": (_outcomes(fit.valid), p_valid)}
        else:
            progress(f"{fit.label}: {name}", 0)
            parts, fit_s, pred_s = _fit_model(name, frames, config)
        auc = scores.add(name, fit.k, parts, fit_s, pred_s)
        progress(f"{fit.label}: {name}: test AUC {auc:.4f}, fit {fit_s:.1f} s", 1)
    return feature_s, missing


def _pybkt_notes(config: BenchmarkConfig, missing: int) -> list[str]:
    notes = []
    if missing:
        notes.append(f"pyBKT left {missing} predictions undefined (NaN); they were scored as 0.5.")
    notes.append(
        f"pyBKT ran in a separate virtual environment (`{config.pybkt_python}`: "
        + ", ".join(PYBKT_REQUIREMENTS) + "), with its pure-Python EM, num_fits="
        + str(config.pybkt.get("num_fits", 1)) + "; "
        + ("fitted on each train fold; it predicts the test and valid files from one fit, "
           "so its predict time covers both." if config.pybkt_per_fold else
           "untuned, so fitted once, on the whole training file, in a background process "
           "while the other models ran (its fit time is wall time on a shared machine); it "
           "has no fold or valid scores.")
    )
    return notes


def _finish_pybkt(job: PyBKTJob, split: KTSplit, scores: _Scores, progress: Progress,
                  notes: list[str]) -> int:
    """Wait for the background whole-file pyBKT fit and score it; a failure becomes a note (the
    other models' results are kept). Returns its undefined predictions."""
    progress("pyBKT: waiting for the background fit", 0)
    try:
        (p_test,), fit_s, pred_s, missing = job.result()
    except RuntimeError as err:
        notes.append(f"pyBKT did not finish: {str(err)[-500:]}")
        progress(f"pyBKT failed: {err}", 1)
        return 0
    auc = scores.add("pybkt", 0, {"test": (_outcomes(split.test), p_test)}, fit_s, pred_s)
    progress(f"pyBKT: test AUC {auc:.4f}, fit {fit_s:.1f} s", 1)
    return missing


def run_benchmark(config: BenchmarkConfig, progress: Progress = lambda _m, _n: None, *,
                  split: KTSplit | None = None) -> BenchmarkResult:
    """Run every configured model on the whole training file and on every fold (none when
    ``config.n_folds`` is 1); ``split`` is the data if already read (:func:`load_split`)."""
    config.check()
    if "pybkt" in config.models and config.pybkt_python is None:
        raise SetupError("the pybkt model needs pybkt_python, a Python that has pyBKT "
                         "(see pipelines.kt.pybkt_job.check_pybkt_python)")
    start = time.perf_counter()
    if split is None:
        progress(f"reading {config.data}", 0)
        split = load_split(config)
    folds = split.folds[: config.n_folds] if config.fits_folds else ()
    # the fold files' skills too: a slice (max_learners) of a fold file may hold others
    frames = [split.train, split.test] + [f for fold in folds for f in fold]
    skills = sorted(set().union(*(f["skill"] for f in frames)), key=lambda s: (len(s), s))
    ev_test = to_evidence(split.test, competencies=skills)
    job = None
    if "pybkt" in config.models and not config.pybkt_per_fold:
        progress("pyBKT: fitting on the training file in a background process", 0)
        job = PyBKTJob(split.train, [split.test], python=config.pybkt_python, seed=config.seed,
                       **config.pybkt)
    fits = [_Fit(0, split.train, None)] + [_Fit(k, tr, va) for k, (tr, va) in enumerate(folds, 1)]
    scores, graphs, feature_seconds, missing, notes = _Scores(), [], [], 0, []
    for fit in fits:
        feature_s, fit_missing = _run_fit(fit, config, split, skills, ev_test, scores, graphs,
                                          progress)
        feature_seconds.append(feature_s)
        missing += fit_missing
    if job is not None:
        missing = _finish_pybkt(job, split, scores, progress, notes)
    if "pybkt" in config.models:
        notes += _pybkt_notes(config, missing)
    return BenchmarkResult(config=config, split=split, folds=pd.DataFrame(scores.rows),
                           timings=pd.DataFrame(scores.timings), feature_seconds=feature_seconds,
                           graphs=graphs, notes=notes, seconds=time.perf_counter() - start)
