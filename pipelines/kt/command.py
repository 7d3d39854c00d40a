"""``pdrec benchmark-kt``: check the setup, run, write the report, log to MLflow, print the table.

Everything that can stop a run (models, folds, the dataset card, pyBKT's Python, the data) is
checked before the first fit, so a long run never ends in a setup error.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.table import Table

from pipelines import tracking
from pipelines.kt.card import resolve_card
from pipelines.kt.config import MODELS, BenchmarkConfig, SetupError
from pipelines.kt.pybkt_job import (
    check_pybkt_python,
    pybkt_problem,
    pybkt_setup,
    pybkt_venv,
    venv_python,
)
from pipelines.kt.report import pm, write_report
from pipelines.kt.runner import BenchmarkResult, load_split, run_benchmark


def default_report_path(data_dir: Path, name: str) -> Path:
    """``DATA_DIR/kt_benchmark/kt_NAME.md``: outside the tracked ``experiments/reports/``."""
    return Path(data_dir) / "kt_benchmark" / f"kt_{name}.md"


def default_models(data_dir: Path) -> tuple[tuple[str, ...], Path | None, dict[str, str]]:
    """The models a run without ``--models`` (and without ``--pybkt-python``) fits: every one of
    :data:`MODELS`, pybkt only when the default environment under ``data_dir`` has pyBKT.

    Returns ``(models, pyBKT's Python or None, skipped)``; ``skipped`` maps ``"pybkt"``, when left
    out, to why and how to include it.
    """
    venv = pybkt_venv(data_dir)
    python = venv_python(venv)
    problem = pybkt_problem(python)
    if problem is None:
        return MODELS, python, {}
    why = (f"pyBKT runs in a Python of its own, and {problem}. To include it, create that "
           "environment once (the 'pybkt' dependency group of pyproject.toml):\n"
           f"{pybkt_setup(venv)}\n"
           "or pass --pybkt-python PATH (a Python that has pyBKT).")
    return tuple(m for m in MODELS if m != "pybkt"), None, {"pybkt": why}


def _log_runs(result: BenchmarkResult, summary: pd.DataFrame, report: Path, command: str) -> dict:
    """One MLflow run per model (experiment ``kt-benchmark``); returns model -> run id."""
    config = result.config
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
                  "format": config.fmt, "folds": row["folds"], "max_learners": config.max_learners,
                  **config.feature_settings(result.has_times)}
        settings = {"lightgbm": config.lightgbm, "lightgbm_graph": config.lightgbm,
                    "lightgbm_counts": config.lightgbm, "logistic": config.logistic,
                    "bkt": config.bkt, "pybkt": config.pybkt}[model]
        params.update({f"model.{k}": v for k, v in settings.items()})
        run_ids[model] = tracking.log_benchmark_run(
            run_name=f"{result.split.name}:{model}", params=params,
            metrics={k: float(v) for k, v in metrics.items() if pd.notna(v)},
            tags={"model": model, "dataset": result.split.name, "command": command},
            artifacts={"report.md": report.read_text(),
                       "folds.csv": fold_rows.to_csv(index=False)},
        )
    return run_ids


def _table(result: BenchmarkResult, summary: pd.DataFrame) -> Table:
    n_folds = int(summary["folds"].max()) if len(summary) else 0
    folds = f"AUC over {n_folds} fold fits" if n_folds else "no fold fits"
    table = Table(title=f"{result.split.name}: test file (fit on the whole training file; {folds})")
    for col in ("model", "AUC", "fold AUC", "RMSE", "accuracy", "log loss", "fit s"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in summary.sort_values(["auc", "fold_auc"], ascending=False).itertuples(index=False):
        table.add_row(r.model, f"{r.auc:.4f}", pm(r.fold_auc, r.fold_auc_sd), f"{r.rmse:.4f}",
                      f"{r.accuracy:.4f}", f"{r.log_loss:.4f}", f"{r.fit_seconds:.1f}")
    return table


def _config(*, models: str | None, pybkt_python: Path | None, data_dir: Path,
            **settings) -> BenchmarkConfig:
    """The run's checked :class:`BenchmarkConfig` (``settings`` are its fields), with pyBKT's
    Python when pybkt runs and the default models it skipped (see :func:`run_command`)."""
    skipped, found = {}, None
    if models is not None:
        chosen = tuple(m.strip() for m in models.split(",") if m.strip())
    elif pybkt_python is not None:  # a Python named for pyBKT: it runs, so it must work
        chosen = MODELS
    else:
        chosen, found, skipped = default_models(data_dir)
    config = BenchmarkConfig(models=chosen, skipped=skipped, **settings)
    config.check()
    if found is not None:
        config.pybkt_python = found
    elif "pybkt" in chosen:
        venv = pybkt_venv(data_dir)
        config.pybkt_python = check_pybkt_python(pybkt_python or venv_python(venv), venv=venv)
    return config


def run_command(*, data: Path, fmt: str, csv_options: dict, models: str | None,
                max_learners: int | None, folds: int, n_jobs: int, data_dir: Path,
                out: Path | None, card: Path | None, cards_dir: Path | None,
                published: list[str] | None, goal: float | None, notes: Path | None,
                pybkt_python: Path | None, command: str, progress_factory, console) -> dict:
    """Check the setup, run, report, log to MLflow; print the table. Returns the report path,
    run ids, summary and result. Setup problems raise :class:`~pipelines.kt.config.SetupError`
    before any fit.

    ``models`` None is :func:`default_models`: pybkt is skipped (said on the console and in the
    report) when its default environment is absent. A ``models`` list naming pybkt, or a
    ``pybkt_python``, needs a Python that has pyBKT.
    """
    config = _config(models=models, pybkt_python=pybkt_python, data_dir=data_dir,
                     data=Path(data), fmt=fmt, csv_options=csv_options,
                     max_learners=max_learners, n_folds=folds, n_jobs=n_jobs)
    chosen = config.models
    for model, why in config.skipped.items():
        console.print(f"{model} skipped: {why}", style="yellow", markup=False, highlight=False)
    console.log(f"reading {config.data}")
    try:
        split = load_split(config)
    except (ValueError, FileNotFoundError) as exc:  # a missing or malformed dataset
        raise SetupError(f"--data {data}: {exc}") from exc
    dataset_card = resolve_card(config.data, split.name, card=card, cards_dir=cards_dir,
                                published=published, goal=goal, notes=notes)
    n_fits = 1 + (len(split.folds[:folds]) if config.fits_folds else 0)
    has_pybkt = int("pybkt" in chosen)  # pyBKT: one background fit unless per fold
    total = n_fits * (1 + len(chosen) - has_pybkt) + has_pybkt * (
        n_fits - 1 if config.pybkt_per_fold else 1)
    with progress_factory() as bar:
        task = bar.add_task(f"benchmark-kt {Path(data).name}", total=total)

        def step(message: str, n: int) -> None:
            if n:
                bar.advance(task, n)
            bar.console.log(message)

        result = run_benchmark(config, step, split=split)
    summary = result.summary()
    path = write_report(result, out or default_report_path(data_dir, split.name), command=command,
                        card=dataset_card)
    tracking.configure(data_dir)
    run_ids = _log_runs(result, summary, path, command)
    console.print(_table(result, summary))
    console.print(f"report: {path}; MLflow experiment {tracking.BENCHMARK_EXPERIMENT!r}")
    for model in config.skipped:
        console.print(f"{model} was skipped (no environment); the report says how to include it",
                      style="yellow", markup=False, highlight=False)
    return {"report": path, "runs": run_ids, "summary": summary, "result": result}
