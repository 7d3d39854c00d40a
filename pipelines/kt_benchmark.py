"""Knowledge-tracing benchmark: the engine's mastery model against BKT, logistic and pyBKT.

The data is public knowledge-tracing (KT) data read by :mod:`pipelines.kt_data` (learner =
educator, skill = competency, correct = proficient, order = time). The protocol is the one the
published KT figures use: fit on the training learners, then predict **every response of the test
learners from that learner's earlier responses only**. Every model sees the same split, and every
model that uses features reads them from the engine's own :class:`~recommender.features.FeatureBuilder`
(a test row's features come from strictly earlier evidence of the same learner; skill difficulty
is learned from the training learners only).

Each model is fitted on the whole training file (the published protocol) and, for the spread,
once per train/valid fold (``train1..5`` / ``valid1..5`` of the DKVMN files): on fold ``k`` it is
fitted on ``train_k``, scored on ``valid_k`` (the only data any setting was chosen on) and on the
fixed test file. LightGBM stops early on a held-out share of its training learners. The report
gives the test metrics of the whole-file fit, and their mean and standard deviation over the folds.

Models (:data:`MODELS`):

- ``lightgbm``: the engine's :class:`~recommender.models.LightGBMNoGraph`; the data has no
  prerequisite graph, so the framework is the skills alone and no ``graph_`` feature is used;
- ``lightgbm_graph``: :class:`~recommender.models.LightGBMMastery` with a framework *learned from
  the training fold* (:func:`learn_skill_graph`): skill u is a prerequisite of v when learners
  commonly answer u right before v, made acyclic, and skills are grouped into domains by community
  detection on the same transitions, so ``graph_`` and ``dom_`` features carry related-skill signals;
- ``lightgbm_counts``: a reference, not the engine: LightGBM on the learner's and the skill's answer
  counts and rates only;
- ``logistic``, ``bkt``: the engine's baselines (:mod:`recommender.models.baselines`);
- ``pybkt``: pyBKT, the reference BKT implementation, run in a separate virtual environment that the
  benchmark creates (see :mod:`pipelines.kt_pybkt_runner` for why).

The run writes a Markdown report and logs one MLflow run per model (experiment ``kt-benchmark``,
through :mod:`pipelines.tracking`; nothing is registered as a ``mastery`` model version).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from pipelines.kt_data import SYNTHETIC_STEP, KTSplit, load_kt_split, to_evidence
from recommender.features import FeatureBuilder
from recommender.graph import build_framework
from recommender.models import (
    BKTMastery,
    LightGBMMastery,
    LightGBMNoGraph,
    LogisticMastery,
    mastery_metrics,
)

__all__ = [
    "MODELS",
    "PUBLISHED",
    "BenchmarkConfig",
    "BenchmarkResult",
    "learn_skill_graph",
    "skill_framework",
    "run_benchmark",
    "write_report",
]

MODELS = ("lightgbm", "lightgbm_graph", "lightgbm_counts", "logistic", "bkt", "pybkt")
"""Model names the benchmark knows, in report order."""

ENGINE_MODELS = ("lightgbm", "lightgbm_graph")
"""The engine's mastery model (without and with a learned graph)."""

PUBLISHED = (
    ("DKT (DKVMN paper, Zhang et al. 2017)", 0.805),
    ("DKVMN (DKVMN paper, Zhang et al. 2017)", 0.816),
    ("DKT (seewoo5/KT re-run on these files)", 0.818),
    ("DKVMN (seewoo5/KT re-run on these files)", 0.796),
    ("NPA (seewoo5/KT re-run on these files)", 0.818),
)
"""Published test AUCs on the assist2009_updated files (context only; see ../shared/data/README.md)."""

COUNT_FEATURES = ("educator_id", "competency_id", "own_n", "own_rate", "edu_n", "edu_rate")
"""The ``lightgbm_counts`` reference: answer counts and rates of the learner and on the skill."""

PYBKT_REQUIREMENTS = ("pyBKT==1.4.3", "numpy<1.25", "pandas<2.1", "scikit-learn<1.6")
"""What the separate pyBKT environment installs: pyBKT and the versions it was released against."""

METRICS = ("auc", "rmse", "accuracy", "log_loss")
"""Metrics over all test responses."""

Progress = Callable[[str, int], None]  # (message, steps completed since the last call)


@dataclass
class BenchmarkConfig:
    """One benchmark run. Defaults are the settings chosen on ``valid1`` (never on the test file).

    ``decay_answers`` is the time constant of the decayed means in answers (synthetic minutes);
    with real timestamps (``time_col``) ``decay_days`` is used instead.
    """

    data: Path
    fmt: str = "sequences"
    csv_options: dict = field(default_factory=dict)
    models: tuple[str, ...] = MODELS
    max_learners: int | None = None
    n_folds: int = 5
    seed: int = 0
    n_jobs: int = 1
    decay_answers: float = 30.0
    decay_days: float = 30.0
    recent_window: int = 5
    graph_max_parents: int = 2
    graph_min_count: int = 20
    lightgbm: dict = field(default_factory=lambda: {
        "learning_rate": 0.05, "num_leaves": 63, "min_child_samples": 50, "n_estimators": 2000,
        "early_stopping_rounds": 50, "calibration": "sigmoid", "validation_fraction": 0.15,
    })
    logistic: dict = field(default_factory=lambda: {"C": 1.0, "max_iter": 300})
    bkt: dict = field(default_factory=dict)
    pybkt: dict = field(default_factory=lambda: {"num_fits": 1})
    pybkt_per_fold: bool = False
    cache_dir: Path = Path("data") / "kt_benchmark"

    def check(self) -> None:
        unknown = [m for m in self.models if m not in MODELS]
        if unknown or not self.models:
            raise ValueError(f"unknown model(s) {unknown or '(none given)'}; known: {', '.join(MODELS)}")
        if self.n_folds < 1:
            raise ValueError(f"n_folds must be >= 1; got {self.n_folds}")

    def feature_settings(self, has_times: bool) -> dict:
        decay = self.decay_days if has_times else self.decay_answers * (
            SYNTHETIC_STEP / pd.Timedelta(days=1))
        return {"decay_days": decay, "recent_window": self.recent_window, "sequence_context": True}


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

    def summary(self) -> pd.DataFrame:
        """One row per model: test metrics of the fit on the whole training file (``auc``, ...),
        their mean and sd over the fold fits (``fold_auc``, ``fold_auc_sd``, ...), the mean valid
        AUC over folds, and mean fit/predict seconds per fit."""
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


# ---------------------------------------------------------------------------------------------
# the framework: the skills, and optionally a graph learned from training data


def skill_framework(skills: Sequence[str], *, edges=(), domains: dict[str, str] | None = None,
                    name: str = "kt", names: dict[str, str] | None = None) -> nx.DiGraph:
    """A competency framework whose competencies are the skills (one domain unless given)."""
    domains = domains or {}
    names = names or {}
    return build_framework({
        "name": name,
        "title": f"Skills of {name}",
        "scale": {"min": 0, "max": 1, "proficient": 0.5},
        "competencies": [{"id": s, "name": names.get(s, s), "domain": domains.get(s, "skills")}
                         for s in skills],
        "edges": [{"from": u, "to": v} for u, v in edges],
    })


def learn_skill_graph(
    evidence: pd.DataFrame, *, max_parents: int = 2, min_count: int = 20, seed: int = 0
) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Prerequisite edges and domains learned from training evidence alone.

    Transitions are counted over each learner's consecutive records on two different skills.
    Two skills are related by how often they follow each other (either way); each skill keeps
    its ``max_parents`` most related skills seen at least ``min_count`` times, oriented from the
    skill more often answered first to the other. Edges are added strongest first, skipping any
    that would close a cycle, so the result is a DAG. Domains are the Louvain communities of the
    undirected transition graph (weights = transition counts, ``seed`` fixed).

    Returns ``(edges, domain_of_skill)``.
    """
    ev = evidence.sort_values(["educator_id", "observed_at", "evidence_id"], kind="stable")
    skills = np.sort(pd.unique(ev["competency_id"]))
    code = pd.Index(skills).get_indexer(ev["competency_id"])
    learner = pd.factorize(ev["educator_id"])[0]
    same = learner[1:] == learner[:-1]
    u, v = code[:-1][same], code[1:][same]
    keep = u != v
    n = len(skills)
    counts = np.bincount(u[keep] * n + v[keep], minlength=n * n).reshape(n, n).astype(float)
    related = counts + counts.T
    candidates = {}
    for j in range(n):  # per skill (not per record): its strongest related skills
        order = np.argsort(-related[j], kind="stable")[:max_parents]
        for i in order:
            if related[j, i] >= min_count and i != j:
                a, b = (i, j) if counts[i, j] >= counts[j, i] else (j, i)
                candidates[(a, b)] = related[j, i]
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    edges = []
    for (a, b), _w in sorted(candidates.items(), key=lambda kv: (-kv[1], kv[0])):
        if not nx.has_path(graph, b, a):
            graph.add_edge(a, b)
            edges.append((str(skills[a]), str(skills[b])))
    undirected = nx.Graph()
    undirected.add_nodes_from(range(n))
    iu, ju = np.nonzero(np.triu(related, 1) >= min_count)
    undirected.add_weighted_edges_from(zip(iu.tolist(), ju.tolist(), related[iu, ju].tolist(),
                                           strict=True))
    communities = nx.community.louvain_communities(undirected, weight="weight", seed=seed)
    domains = {}
    for k, members in enumerate(sorted(communities, key=lambda c: (-len(c), min(c)))):
        for i in members:
            domains[str(skills[i])] = f"cluster{k:02d}"
    return edges, domains


# ---------------------------------------------------------------------------------------------
# pyBKT in its own environment


def pybkt_python(cache_dir: Path, log: Callable[[str], None] = lambda _: None) -> Path:
    """The Python of a virtual environment holding pyBKT (created under ``cache_dir`` once)."""
    venv = Path(cache_dir).resolve() / "pybkt-venv"
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    stamp = venv / ".requirements"
    wanted = "\n".join(PYBKT_REQUIREMENTS)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    log(f"creating the pyBKT environment in {venv} ({', '.join(PYBKT_REQUIREMENTS)})")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PYBKT_REQUIREMENTS],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stamp.write_text(wanted)
    return python


class PyBKTJob:
    """pyBKT fitted on training responses once, predicting every response of each frame of
    ``tests`` (row order kept), in a subprocess that runs while the caller does other work."""

    def __init__(self, train: pd.DataFrame, tests: Sequence[pd.DataFrame], *, python: Path,
                 seed: int, num_fits: int):
        self.tests = list(tests)
        self._tmp = tempfile.TemporaryDirectory(prefix="pybkt-")
        self.folder = Path(self._tmp.name)
        named = [("train", train)] + [(f"test{i}", t) for i, t in enumerate(self.tests)]
        for name, frame in named:
            pd.DataFrame({
                "row": np.arange(len(frame)),
                "user_id": frame["learner"].to_numpy(),
                "skill_name": frame["skill"].to_numpy(),
                "correct": (frame["correct"].to_numpy() >= 0.5).astype(int),
                "order_id": _global_order(frame),
            }).to_csv(self.folder / f"{name}.csv", index=False)
        (self.folder / "options.json").write_text(
            json.dumps({"seed": seed, "num_fits": num_fits, "tests": len(self.tests)}))
        runner = Path(__file__).with_name("kt_pybkt_runner.py")
        self._log = open(self.folder / "stderr.txt", "w")  # noqa: SIM115 (closed in result)
        self.process = subprocess.Popen([str(python), str(runner), str(self.folder)],
                                        stdout=subprocess.DEVNULL, stderr=self._log)

    def result(self) -> tuple[list[np.ndarray], float, float, int]:
        """Wait; return ``(predictions per test frame, fit_s, predict_s, n_missing)``. A
        prediction pyBKT leaves undefined (NaN) is replaced by 0.5 and counted."""
        code = self.process.wait()
        self._log.close()
        try:
            if code:
                tail = (self.folder / "stderr.txt").read_text()[-3000:]
                raise RuntimeError(f"pyBKT failed (exit {code}):\n{tail}")
            out, missing = [], 0
            for i, test in enumerate(self.tests):
                pred = pd.read_csv(self.folder / f"predictions{i}.csv")
                p = np.full(len(test), np.nan)
                p[pred["row"].to_numpy()] = pred["p"].to_numpy(dtype=float)
                missing += int(np.isnan(p).sum())
                out.append(np.where(np.isnan(p), 0.5, p))
            timing = json.loads((self.folder / "timing.json").read_text())
        finally:
            self._tmp.cleanup()
        return out, timing["fit_seconds"], timing["predict_seconds"], missing


def _global_order(frame: pd.DataFrame) -> np.ndarray:
    """A global order id that sorts answers by learner, then position (what pyBKT sorts by)."""
    learner = pd.factorize(frame["learner"])[0].astype(np.int64)
    position = frame["position"].to_numpy(dtype=np.int64)
    return learner * (int(position.max(initial=0)) + 1) + position


# ---------------------------------------------------------------------------------------------
# the run


def _metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    m = mastery_metrics(y, np.clip(p, 0.0, 1.0))
    return {"auc": m["auc"], "rmse": float(np.sqrt(m["brier"])),
            "accuracy": float(np.mean((p >= 0.5) == (y == 1))), "log_loss": m["log_loss"],
            "n": float(len(y))}


def run_benchmark(config: BenchmarkConfig, progress: Progress = lambda _m, _n: None) -> BenchmarkResult:
    """Run every configured model on every fold; see the module docstring for the protocol."""
    config.check()
    start = time.perf_counter()
    progress(f"reading {config.data}", 0)
    split = load_kt_split(config.data, fmt=config.fmt, max_learners=config.max_learners,
                          n_folds=config.n_folds, seed=config.seed, **config.csv_options)
    folds = split.folds[: config.n_folds]
    has_times = bool(split.train["time"].notna().any())
    skills = sorted(set(split.train["skill"]) | set(split.test["skill"]),
                    key=lambda s: (len(s), s))
    ev_test = to_evidence(split.test, competencies=skills)
    python, job, pybkt_missing = None, None, 0
    if "pybkt" in config.models:
        python = pybkt_python(config.cache_dir, log=lambda m: progress(m, 0))
        if not config.pybkt_per_fold:  # untuned: one fit on the whole training file, started now
            progress("pyBKT: fitting on the training file in a background process", 0)
            job = PyBKTJob(split.train, [split.test], python=python, seed=config.seed,
                           **config.pybkt)
    settings = config.feature_settings(has_times)
    rows, timings, feature_seconds, graphs = [], [], [], []
    needs_graph = "lightgbm_graph" in config.models
    needs_plain = any(m != "pybkt" and m != "lightgbm_graph" for m in config.models)

    fits = [(0, split.train, None)] + [(k, tr, va) for k, (tr, va) in enumerate(folds, start=1)]
    for k, train_r, valid_r in fits:
        label = "whole train file" if k == 0 else f"fold {k}"
        progress(f"{label}: building features", 0)
        t0 = time.perf_counter()
        evidence = {"train": to_evidence(train_r, competencies=skills), "test": ev_test}
        if valid_r is not None:
            evidence["valid"] = to_evidence(valid_r, competencies=skills)
        frames = {}
        if needs_plain:
            builder = FeatureBuilder(skill_framework(skills), **settings).fit(evidence["train"])
            frames["plain"] = {part: builder.training_frame(e) for part, e in evidence.items()}
        if needs_graph:
            edges, domains = learn_skill_graph(evidence["train"],
                                               max_parents=config.graph_max_parents,
                                               min_count=config.graph_min_count, seed=config.seed)
            graphs.append({"fit": label, "edges": len(edges),
                           "domains": len(set(domains.values()))})
            builder = FeatureBuilder(skill_framework(skills, edges=edges, domains=domains),
                                     **settings).fit(evidence["train"])
            frames["graph"] = {part: builder.training_frame(e) for part, e in evidence.items()}
        feature_seconds.append(time.perf_counter() - t0)
        progress(f"{label}: features built", 1)

        for name in config.models:
            if name == "pybkt":
                if k == 0 or not config.pybkt_per_fold:
                    continue  # the whole-file fit runs alongside, in the background (below)
                progress(f"{label}: {name}", 0)
                (p_test, p_valid), fit_s, pred_s, missing = PyBKTJob(
                    train_r, [split.test, valid_r], python=python, seed=config.seed,
                    **config.pybkt).result()
                pybkt_missing += missing
                parts = {"test": (_outcomes(split.test), p_test),
                         "valid": (_outcomes(valid_r), p_valid)}
            else:
                progress(f"{label}: {name}", 0)
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
            for part, (y, p) in parts.items():
                rows.append({"model": name, "fold": k, "part": part, **_metrics(y, p)})
            timings.append({"model": name, "fold": k, "fit_seconds": fit_s,
                            "predict_seconds": pred_s})
            progress(f"{label}: {name}: test AUC {rows[-len(parts)]['auc']:.4f}, "
                     f"fit {fit_s:.1f} s", 1)

    notes = []
    if job is not None:
        progress("pyBKT: waiting for the background fit", 0)
        try:
            (p_test,), fit_s, pred_s, pybkt_missing = job.result()
        except RuntimeError as err:  # keep the other models' results; say what happened
            notes.append(f"pyBKT did not finish: {str(err)[-500:]}")
            progress(f"pyBKT failed: {err}", 1)
        else:
            rows.append({"model": "pybkt", "fold": 0, "part": "test",
                         **_metrics(_outcomes(split.test), p_test)})
            timings.append({"model": "pybkt", "fold": 0, "fit_seconds": fit_s,
                            "predict_seconds": pred_s})
            progress(f"pyBKT: test AUC {rows[-1]['auc']:.4f}, fit {fit_s:.1f} s", 1)
    if pybkt_missing:
        notes.append(f"pyBKT left {pybkt_missing} predictions undefined (NaN); they were scored as 0.5.")
    if "pybkt" in config.models:
        notes.append(
            "pyBKT ran in a separate virtual environment created by the benchmark ("
            + ", ".join(PYBKT_REQUIREMENTS) + "), with its pure-Python EM, num_fits="
            + str(config.pybkt.get("num_fits", 1)) + "; "
            + ("fitted on each train fold; it predicts the test and valid files from one fit, "
               "so its predict time covers both." if config.pybkt_per_fold else
               "untuned, so fitted once, on the whole training file, in a background process "
               "while the other models ran (its fit time is wall time on a shared machine); it "
               "has no fold or valid scores.")
        )
    return BenchmarkResult(config=config, split=split, folds=pd.DataFrame(rows),
                           timings=pd.DataFrame(timings), feature_seconds=feature_seconds,
                           graphs=graphs, notes=notes, seconds=time.perf_counter() - start)


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


# ---------------------------------------------------------------------------------------------
# the report


_LABELS = {
    "lightgbm": "Engine: LightGBM mastery model, no graph",
    "lightgbm_graph": "Engine: LightGBM mastery model + learned skill graph",
    "lightgbm_counts": "Reference: LightGBM on answer counts only",
    "logistic": "Engine baseline: logistic regression (same features)",
    "bkt": "Engine baseline: BKT (per skill)",
    "pybkt": "External peer: pyBKT 1.4.3 (standard BKT)",
}


def _pm(mean: float, sd: float, digits: int = 4) -> str:
    if np.isnan(mean):
        return "n/a"
    return f"{mean:.{digits}f}" + ("" if np.isnan(sd) else f" ± {sd:.{digits}f}")


def write_report(result: BenchmarkResult, path: Path, *, command: str,
                 notes_file: Path | None = None) -> Path:
    """Write the Markdown report of a benchmark run; returns its path."""
    cfg, split = result.config, result.split
    summary = result.summary()
    n_folds = int(summary["folds"].max()) if len(summary) else 0
    lines = [
        f"# Knowledge-tracing benchmark: {split.name}",
        "",
        f"Written by `{command}` on {pd.Timestamp.now(tz='UTC'):%Y-%m-%d %H:%M} UTC "
        f"({result.seconds / 60:.1f} min on {os.cpu_count()} cores, LightGBM n_jobs={cfg.n_jobs}, "
        f"Python {platform.python_version()}).",
        "",
        "## Data and protocol",
        "",
        f"- Data: `{cfg.data}` ({cfg.fmt} format); files: "
        + ", ".join(f"{role} = `{name}`" for role, name in sorted(split.files.items())) + ".",
        f"- Training file: {split.train['learner'].nunique():,} learners, {len(split.train):,} "
        f"responses; test file: {split.test['learner'].nunique():,} learners, {len(split.test):,} "
        f"responses; {len(set(split.train['skill']) | set(split.test['skill']))} skills"
        + (f" (first {cfg.max_learners} learners of each file only)." if cfg.max_learners else "."),
        "- Every response of every test learner is predicted from that learner's earlier responses "
        "only (the engine's feature builder uses strictly earlier evidence; the answer order is the "
        "time: one synthetic minute per answer). Skill difficulty, the learned graph and all model "
        "parameters come from training learners only.",
        "- Each model is fitted on the whole training file (LightGBM stops early on a held-out "
        f"15% of its learners) and, for the spread, on each of the {n_folds} train folds "
        "(`train_k`); every fit is scored on the whole test file. `valid AUC` is on `valid_k` "
        "(mean over folds): the only data settings were chosen on. The test file was not used to "
        "choose anything.",
        "",
    ]
    n_test = len(split.test)
    ranked = summary.sort_values(["auc", "fold_auc"], ascending=False)
    lines += [
        f"## Results on the test file ({n_test:,} responses)",
        "",
        "Fitted on the whole training file:",
        "",
        "| model | test AUC | RMSE | accuracy | log loss | fit s | predict s |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in ranked.itertuples(index=False):
        lines.append(
            f"| {_LABELS[row.model]} (`{row.model}`) | **{_pm(row.auc, np.nan)}** | "
            f"{_pm(row.rmse, np.nan)} | {_pm(row.accuracy, np.nan)} | {_pm(row.log_loss, np.nan)} | "
            f"{row.fit_seconds:.1f} | {row.predict_seconds:.1f} |"
        )
    lines += [
        "",
        f"Fitted on each of the {n_folds} train folds (mean ± sd over folds):",
        "",
        "| model | test AUC | RMSE | accuracy | log loss | valid AUC |",
        "|---|---|---|---|---|---|",
    ]
    for row in ranked.itertuples(index=False):
        if row.folds:
            lines.append(
                f"| `{row.model}` | **{_pm(row.fold_auc, row.fold_auc_sd)}** | "
                f"{_pm(row.fold_rmse, row.fold_rmse_sd)} | "
                f"{_pm(row.fold_accuracy, row.fold_accuracy_sd)} | "
                f"{_pm(row.fold_log_loss, row.fold_log_loss_sd)} | {_pm(row.valid_auc, np.nan)} |"
            )
    lines += [
        "",
        "Test AUC per fold:",
        "",
        "| model | " + " | ".join(f"fold {k}" for k in range(1, n_folds + 1)) + " |",
        "|---|" + "---|" * n_folds,
    ]
    test = result.folds[(result.folds["part"] == "test") & (result.folds["fold"] > 0)]
    for model in ranked["model"]:
        aucs = test[test["model"] == model].sort_values("fold")["auc"]
        if len(aucs):
            lines.append(f"| `{model}` | " + " | ".join(f"{a:.4f}" for a in aucs) + " |")
    lines += [
        "",
        "Fit and predict times are wall-clock seconds per fit (mean over the whole-file and fold "
        "fits), on a machine shared with other jobs; predict covers the whole test file. Feature "
        f"building (the engine's `FeatureBuilder`: train, valid and test frames, both framework "
        f"variants) took {np.mean(result.feature_seconds):.1f} s per fit and is not in the fit "
        "times.",
    ]
    if result.graphs:
        lines += ["", "Learned skill graph (edges / domains): "
                  + ", ".join(f"{g['fit']} {g['edges']}/{g['domains']}" for g in result.graphs)
                  + "."]
    lines += ["", "## Published figures on these files (context, not run here)", "",
              "| model | test AUC |", "|---|---|"]
    lines += [f"| {name} | {auc:.3f} |" for name, auc in PUBLISHED]
    lines += ["", "## Verdict", ""]
    lines += _verdict(summary)
    has_times = bool(split.train["time"].notna().any())
    lines += ["", "## Settings", "",
              f"- Feature builder: {json.dumps(cfg.feature_settings(has_times))}"
              f" (decay time constant = {cfg.decay_answers:g} answers).",
              f"- LightGBM: {json.dumps(cfg.lightgbm)}; `lightgbm_counts` reads only "
              f"{', '.join(c for c in COUNT_FEATURES if c != 'educator_id')}, without monotone "
              "constraints.",
              f"- Learned graph: each skill's {cfg.graph_max_parents} most related skills by "
              f"adjacent transitions (at least {cfg.graph_min_count}), oriented by which is answered "
              "first, strongest first, skipping cycle-closing edges; domains = Louvain communities.",
              f"- Logistic: {json.dumps(cfg.logistic)}; BKT: {json.dumps(cfg.bkt) or 'defaults'}; "
              f"pyBKT: {json.dumps(cfg.pybkt)}."]
    for note in result.notes:
        lines.append(f"- {note}")
    if notes_file is not None and Path(notes_file).exists():
        lines += ["", Path(notes_file).read_text().strip()]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _verdict(summary: pd.DataFrame) -> list[str]:
    if summary.empty:
        return ["No model ran."]
    out = []
    published = max(a for _, a in PUBLISHED)
    for col, what in (("auc", "fitted on the whole training file"),
                      ("fold_auc", "mean over the fold fits")):
        ranked = summary.dropna(subset=[col]).sort_values(col, ascending=False)
        if ranked.empty:
            continue
        best = ranked.iloc[0]
        line = f"- Test AUC {what}: best is `{best['model']}` ({best[col]:.4f})."
        engine = ranked[ranked["model"].isin(ENGINE_MODELS)]
        others = ranked[~ranked["model"].isin(ENGINE_MODELS)]
        if not engine.empty:
            top = engine.iloc[0]
            if not others.empty:
                margin = top[col] - others.iloc[0][col]
                line += (f" The engine's model (`{top['model']}`, {top[col]:.4f}) is "
                         f"{abs(margin):.4f} {'above' if margin > 0 else 'below'} the best other "
                         f"model (`{others.iloc[0]['model']}`).")
            for goal, label in ((0.83, "the 0.83 goal"),
                                (published, f"the best published deep model ({published:.3f})")):
                gap = top[col] - goal
                line += f" Against {label}: {'met' if gap >= 0 else 'missed'} by {abs(gap):.4f}."
        out.append(line)
    return out or ["No test scores."]


# ---------------------------------------------------------------------------------------------
# the command (called by ``pdrec benchmark-kt``)


def run_command(*, data: Path, fmt: str, csv_options: dict, models: str, max_learners: int | None,
                folds: int, n_jobs: int, data_dir: Path, out: Path | None, notes: Path | None,
                command: str, progress_factory, console) -> dict:
    """Run, report, log to MLflow; print the table. Returns the report path and run ids."""
    from pipelines import tracking

    chosen = tuple(m.strip() for m in models.split(",") if m.strip())
    config = BenchmarkConfig(data=Path(data), fmt=fmt, csv_options=csv_options, models=chosen,
                             max_learners=max_learners, n_folds=folds, n_jobs=n_jobs,
                             cache_dir=Path(data_dir) / "kt_benchmark")
    config.check()
    has_pybkt = int("pybkt" in chosen)  # pyBKT: one background fit unless per fold
    total = (folds + 1) * (1 + len(chosen) - has_pybkt) + has_pybkt * (
        folds if config.pybkt_per_fold else 1)
    with progress_factory() as bar:
        task = bar.add_task(f"benchmark-kt {Path(data).name}", total=total)

        def step(message: str, n: int) -> None:
            if n:
                bar.advance(task, n)
            bar.console.log(message)

        result = run_benchmark(config, step)
    summary = result.summary()
    name = result.split.name.replace("_updated", "")
    path = write_report(result, out or Path("experiments") / "reports" / f"kt_{name}.md",
                        command=command, notes_file=notes)
    tracking.configure(data_dir)
    run_ids = {}
    for row in summary.to_dict("records"):
        model = row["model"]
        fold_rows = result.folds[result.folds["model"] == model]
        metrics = {(k if k.startswith("fold_") or k == "valid_auc" else f"test_{k}"): v
                   for k, v in row.items()
                   if k not in ("model", "folds") and not k.endswith("_seconds")}
        metrics.update({k: v for k, v in row.items() if k.endswith("_seconds")})
        for r in fold_rows.itertuples(index=False):
            metrics[f"{r.part}_auc_fold{r.fold}"] = r.auc
        params = {"model": model, "dataset": result.split.name, "data": str(config.data),
                  "format": fmt, "folds": row["folds"], "max_learners": max_learners,
                  **config.feature_settings(bool(result.split.train["time"].notna().any()))}
        settings = {"lightgbm": config.lightgbm, "lightgbm_graph": config.lightgbm,
                    "lightgbm_counts": config.lightgbm, "logistic": config.logistic,
                    "bkt": config.bkt, "pybkt": config.pybkt}[model]
        params.update({f"model.{k}": v for k, v in settings.items()})
        run_ids[model] = tracking.log_benchmark_run(
            run_name=f"{result.split.name}:{model}", params=params,
            metrics={k: float(v) for k, v in metrics.items() if pd.notna(v)},
            tags={"model": model, "dataset": result.split.name, "command": command},
            artifacts={"report.md": path.read_text(),
                       "folds.csv": fold_rows.to_csv(index=False)},
        )
    from rich.table import Table

    table = Table(title=f"{result.split.name}: test file (fit on the whole training file; "
                        f"AUC over {folds} fold fits)")
    for col in ("model", "AUC", "fold AUC", "RMSE", "accuracy", "log loss", "fit s"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in summary.sort_values(["auc", "fold_auc"], ascending=False).itertuples(index=False):
        table.add_row(r.model, f"{r.auc:.4f}", _pm(r.fold_auc, r.fold_auc_sd), f"{r.rmse:.4f}",
                      f"{r.accuracy:.4f}", f"{r.log_loss:.4f}", f"{r.fit_seconds:.1f}")
    console.print(table)
    console.print(f"report: {path}; MLflow experiment {tracking.BENCHMARK_EXPERIMENT!r}")
    return {"report": path, "runs": run_ids, "summary": summary, "result": result}
