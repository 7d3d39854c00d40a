"""The Markdown report of a benchmark run: data and protocol, results, context, verdict, settings.

Published figures, the goal and the appended notes come from the dataset's card
(:mod:`pipelines.kt.card`), never from another dataset's.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.kt.card import DatasetCard
from pipelines.kt.config import COUNT_FEATURES, ENGINE_MODELS
from pipelines.kt.runner import BenchmarkResult

_LABELS = {
    "lightgbm": "Engine: LightGBM mastery model, no graph",
    "lightgbm_graph": "Engine: LightGBM mastery model + learned skill graph",
    "lightgbm_counts": "Reference: LightGBM on answer counts only",
    "logistic": "Engine baseline: logistic regression (same features)",
    "bkt": "Engine baseline: BKT (per skill)",
    "pybkt": "External peer: pyBKT 1.4.3 (standard BKT)",
}


def pm(mean: float, sd: float, digits: int = 4) -> str:
    """``mean ± sd`` (``n/a`` for a NaN mean, no ``± sd`` for a NaN sd)."""
    if np.isnan(mean):
        return "n/a"
    return f"{mean:.{digits}f}" + ("" if np.isnan(sd) else f" ± {sd:.{digits}f}")


def _header(result: BenchmarkResult, command: str) -> list[str]:
    return [
        f"# Knowledge-tracing benchmark: {result.split.name}",
        "",
        f"Written by `{command}` on {pd.Timestamp.now(tz='UTC'):%Y-%m-%d %H:%M} UTC "
        f"({result.seconds / 60:.1f} min on {os.cpu_count()} cores, LightGBM "
        f"n_jobs={result.config.n_jobs}, Python {platform.python_version()}).",
        "",
    ]


def _protocol(result: BenchmarkResult, n_folds: int) -> list[str]:
    cfg, split = result.config, result.split
    held_out = cfg.lightgbm.get("validation_fraction")
    stops = (f" (LightGBM stops early on a held-out {held_out:.0%} of its learners)"
             if held_out else "")
    time_is = ("the time is the data's timestamps" if result.has_times
               else "the answer order is the time: one synthetic minute per answer")
    if n_folds:
        fits = (f"- Each model is fitted on the whole training file{stops} and, for the spread, on "
                f"each of the {n_folds} train folds (`train_k`); every fit is scored on the whole "
                "test file. `valid AUC` is on `valid_k` (mean over folds): the only data settings "
                "were chosen on. The test file was not used to choose anything.")
    else:
        fits = (f"- Each model is fitted on the whole training file only{stops} (`--folds 1`: no "
                "fold fits, so no spread over folds and no valid scores) and scored on the whole "
                "test file.")
    return [
        "## Data and protocol",
        "",
        f"- Data: `{cfg.data}` ({cfg.fmt} format); files: "
        + ", ".join(f"{role} = `{name}`" for role, name in sorted(split.files.items())) + ".",
        f"- Training file: {split.train['learner'].nunique():,} learners, {len(split.train):,} "
        f"responses; test file: {split.test['learner'].nunique():,} learners, {len(split.test):,} "
        f"responses; {len(set(split.train['skill']) | set(split.test['skill']))} skills"
        + (f" (first {cfg.max_learners} learners of each file only)." if cfg.max_learners else "."),
        "- Every response of every test learner is predicted from that learner's earlier responses "
        f"only (the engine's feature builder uses strictly earlier evidence; {time_is}). Skill "
        "difficulty, the learned graph and all model parameters come from training learners only.",
        fits,
        "",
    ]


def _results(result: BenchmarkResult, ranked: pd.DataFrame, n_folds: int) -> list[str]:
    lines = [
        f"## Results on the test file ({len(result.split.test):,} responses)",
        "",
        "Fitted on the whole training file:",
        "",
        "| model | test AUC | RMSE | accuracy | log loss | fit s | predict s |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in ranked.itertuples(index=False):
        lines.append(
            f"| {_LABELS[row.model]} (`{row.model}`) | **{pm(row.auc, np.nan)}** | "
            f"{pm(row.rmse, np.nan)} | {pm(row.accuracy, np.nan)} | {pm(row.log_loss, np.nan)} | "
            f"{row.fit_seconds:.1f} | {row.predict_seconds:.1f} |"
        )
    if n_folds:
        lines += _fold_results(result, ranked, n_folds)
    fits = "the whole-file and fold fits" if n_folds else "fits"
    lines += [
        "",
        f"Fit and predict times are wall-clock seconds per fit (mean over {fits}), on a machine "
        "shared with other jobs; predict covers the whole test file. Feature building (the "
        "engine's `FeatureBuilder`: train, valid and test frames, both framework variants) took "
        f"{np.mean(result.feature_seconds):.1f} s per fit and is not in the fit times.",
    ]
    if result.graphs:
        lines += ["", "Learned skill graph (edges / domains): "
                  + ", ".join(f"{g['fit']} {g['edges']}/{g['domains']}" for g in result.graphs)
                  + "."]
    return lines


def _fold_results(result: BenchmarkResult, ranked: pd.DataFrame, n_folds: int) -> list[str]:
    lines = [
        "",
        f"Fitted on each of the {n_folds} train folds (mean ± sd over folds):",
        "",
        "| model | test AUC | RMSE | accuracy | log loss | valid AUC |",
        "|---|---|---|---|---|---|",
    ]
    for row in ranked.itertuples(index=False):
        if row.folds:
            lines.append(
                f"| `{row.model}` | **{pm(row.fold_auc, row.fold_auc_sd)}** | "
                f"{pm(row.fold_rmse, row.fold_rmse_sd)} | "
                f"{pm(row.fold_accuracy, row.fold_accuracy_sd)} | "
                f"{pm(row.fold_log_loss, row.fold_log_loss_sd)} | {pm(row.valid_auc, np.nan)} |"
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
    return lines


def _not_run(result: BenchmarkResult) -> list[str]:
    """The default models this run left out (pybkt without its environment), why, and how to
    include them; the commands of the message as a code block."""
    lines = []
    for model, why in result.config.skipped.items():
        lines += ["", "## Not run", ""]
        text = f"`{model}` ({_LABELS[model]}) was left out of the default models: {why}"
        was_code = False
        for line in text.split("\n"):
            is_code = line.startswith("    ")
            if is_code != was_code:
                lines.append("")
            lines.append(line)
            was_code = is_code
    return lines


def _published(card: DatasetCard) -> list[str]:
    lines = ["", "## Published figures on these files (context, not run here)", ""]
    if not card.published:
        return lines + [f"None given: {card.origin}. A dataset card or `--published MODEL=AUC` "
                        "adds them."]
    lines += [f"From {card.origin}." + (f" {card.about}" if card.about else ""), "",
              "| model | test AUC |", "|---|---|"]
    return lines + [f"| {name} | {auc:.3f} |" for name, auc in card.published]


def _verdict(summary: pd.DataFrame, card: DatasetCard) -> list[str]:
    if summary.empty:
        return ["No model ran."]
    targets = []
    if card.goal is not None:
        targets.append((card.goal, f"the {card.goal:g} goal"))
    if card.best_published is not None:
        targets.append((card.best_published,
                        f"the best published figure ({card.best_published:.3f})"))
    out = []
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
            for goal, label in targets:
                gap = top[col] - goal
                line += f" Against {label}: {'met' if gap >= 0 else 'missed'} by {abs(gap):.4f}."
        out.append(line)
    if not out:
        return ["No test scores."]
    if not targets:
        out.append(f"- No goal or published figure to compare with ({card.origin}).")
    return out


def _settings(result: BenchmarkResult) -> list[str]:
    cfg = result.config
    decay = (f"decay time constant = {cfg.decay_days:g} days" if result.has_times
             else f"decay time constant = {cfg.decay_answers:g} answers")
    lines = ["", "## Settings", "",
             f"- Feature builder: {json.dumps(cfg.feature_settings(result.has_times))} ({decay}).",
             f"- LightGBM: {json.dumps(cfg.lightgbm)}; `lightgbm_counts` reads only "
             f"{', '.join(c for c in COUNT_FEATURES if c != 'educator_id')}, without monotone "
             "constraints.",
             f"- Learned graph: each skill's {cfg.graph_max_parents} most related skills by "
             f"adjacent transitions (at least {cfg.graph_min_count}), oriented by which is answered "
             "first, strongest first, skipping cycle-closing edges; domains = Louvain communities.",
             f"- Logistic: {json.dumps(cfg.logistic)}; BKT: {json.dumps(cfg.bkt) or 'defaults'}; "
             f"pyBKT: {json.dumps(cfg.pybkt)}."]
    return lines + [f"- {note}" for note in result.notes]


def write_report(result: BenchmarkResult, path: Path, *, command: str,
                 card: DatasetCard | None = None) -> Path:
    """Write the Markdown report of a benchmark run; returns its path. ``card`` gives the
    published figures, the goal and the notes appended (none without a card)."""
    card = card or DatasetCard()
    summary = result.summary()
    n_folds = int(summary["folds"].max()) if len(summary) else 0
    ranked = summary.sort_values(["auc", "fold_auc"], ascending=False) if len(summary) else summary
    lines = _header(result, command) + _protocol(result, n_folds)
    if len(summary):
        lines += _results(result, ranked, n_folds)
    lines += _not_run(result) + _published(card)
    lines += ["", "## Verdict", ""] + _verdict(summary, card) + _settings(result)
    if card.notes is not None:
        lines += ["", Path(card.notes).read_text().strip()]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
