"""``pdrec train``: fit a mastery model on synthetic data, a tenant's store or your own files.

The data come from the config (``experiments/configs/NAME.yaml``), or from the command line:
``--tenant`` reads one tenant's data from the store (:mod:`pipelines.store_data`), ``--evidence``
with ``--framework`` reads files (:mod:`pipelines.file_data`). Every run logs its model card;
rows rejected from files are printed (counts by file and reason, and the first few rows) and
logged with the run as ``rejections.csv``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from pipelines.cli_app import DataDir, app, console, print_mapping, progress_bar

__all__ = ["train", "print_rejections"]

_FILE_HELP = "Training from files (instead of the config's data): "
_PARTITIONS_HELP = ("--dask: educator partitions of the fitting fold (default: one per 100,000 "
                    "records, at least one per worker; the validation fold in proportion).")
_COMPARE_HELP = ("--dask: also fit the single-machine model (the whole training frame built in "
                 "this process) and report both held-out qualities; --no-compare leaves the "
                 "training frame off this machine.")


def print_rejections(rejections: pd.DataFrame | None, shown: int = 10) -> None:
    """Counts of rejected rows by file and reason, then the first ``shown`` rows."""
    if rejections is None or rejections.empty:
        return
    counts = rejections.groupby(["file", "field"], sort=False).size().rename("rows").reset_index()
    table = Table(title=f"{len(rejections):,} rejected rows (the good rows beside them were kept)")
    for col in ("file", "field", "rows", "example reason"):
        table.add_column(col)
    first = rejections.drop_duplicates(["file", "field"]).set_index(["file", "field"])["reason"]
    for row in counts.itertuples(index=False):
        table.add_row(row.file, row.field, str(row.rows), first.loc[(row.file, row.field)])
    console.print(table)
    head = rejections.head(shown)
    for r in head.itertuples(index=False):
        console.print(f"  {r.file} row {r.row} ({r.field}): {r.reason}", markup=False,
                      highlight=False)
    if len(rejections) > shown:
        console.print(f"  ... {len(rejections) - shown:,} more in the run's rejections.csv")


def _dask_trainer(scheduler: str | None, workers: int, partitions: int | None, compare: bool):
    """A ``train(cfg, data_dir, step, **kw)`` running :func:`pipelines.train_dask.train_on_dask`
    on a client of ``scheduler``, or of a LocalCluster of ``workers`` workers."""
    from pipelines.train_dask import cluster_client, train_on_dask

    def run(cfg, data_dir: Path, step, **kw):
        with cluster_client(scheduler, workers) as client:
            return train_on_dask(cfg, data_dir, client, step, partitions=partitions,
                                 compare=compare, **kw)

    return run


def _trainer(dask: bool, scheduler: str | None, workers: int, partitions: int | None,
             compare: bool):
    """The run's ``train(cfg, data_dir, step, **kw)``: on Dask with ``--dask`` or
    ``--scheduler``, else :func:`pipelines.training.train`; a ValueError for Dask options
    given without Dask."""
    from pipelines.training import train

    if dask or scheduler is not None:
        return _dask_trainer(scheduler, workers, partitions, compare)
    if partitions is not None or not compare:
        raise ValueError("--partitions and --no-compare are options of a Dask training: "
                         "add --dask (or --scheduler ADDRESS)")
    return train


@app.command()
def train(
    config: Annotated[Path, typer.Option(help="Training config (experiments/configs/NAME.yaml).")
                      ] = Path("experiments/configs/lightgbm.yaml"),
    data_dir: DataDir = Path("data"),
    register: Annotated[bool, typer.Option(help="Register the model as a new version.")] = True,
    dask: Annotated[bool, typer.Option(
        "--dask", help="Build the training frame and boost the trees on a Dask cluster "
                       "(lightgbm.dask) and compare with the single-machine fit "
                       "(docs/scale.md).")] = False,
    scheduler: Annotated[str | None, typer.Option(
        help="--dask on the scheduler at this address (tcp://host:8786).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="--dask LocalCluster workers.")] = 2,
    partitions: Annotated[int | None, typer.Option(min=1, help=_PARTITIONS_HELP)] = None,
    compare: Annotated[bool, typer.Option(help=_COMPARE_HELP)] = True,
    tenant: Annotated[str | None, typer.Option(
        help="Train on this tenant's data in the store instead of the config's data.")] = None,
    store_url: Annotated[str | None, typer.Option(
        help="Store to read --tenant from (default: DATABASE_URL, else DATA_DIR/pdrec.db).")] = None,
    evidence: Annotated[Path | None, typer.Option(
        help=_FILE_HELP + "evidence in the evidence contract (.csv, .jsonl or .parquet).")] = None,
    framework: Annotated[str | None, typer.Option(
        help="Framework of --evidence: a YAML/JSON file, or 'educator' or 'leader'.")] = None,
    catalog: Annotated[Path | None, typer.Option(
        help="Activity catalog file of --framework (default: none; the shipped one for "
             "'educator').")] = None,
    completions: Annotated[Path | None, typer.Option(
        help="Completed activities: educator_id, activity_id, completed_at.")] = None,
    educators: Annotated[Path | None, typer.Option(
        help="Educator profiles: educator_id, years_experience, role, subject, grade_band, "
             "goals.")] = None,
    split: Annotated[str | None, typer.Option(
        help="'educator' (held-out educators) or 'time' (test on the latest records).")] = None,
    before: Annotated[str | None, typer.Option(
        help="Time split: train on records before this date, test on the rest.")] = None,
    audit: Annotated[bool, typer.Option(
        help="Log the equity audit of the model's recommendations to the held-out educators "
             "(docs/audit.md).")] = True,
) -> dict:
    """Build features, fit, evaluate on held-out data, log one MLflow run with its model card."""
    from pipelines import tracking
    from pipelines.config import load_config, with_overrides

    files = {"evidence": evidence, "framework": framework, "catalog": catalog,
             "completions": completions, "educators": educators}
    given = {k: v for k, v in files.items() if v is not None}
    try:
        run_training = _trainer(dask, scheduler, workers, partitions, compare)
        if given and (evidence is None or framework is None):
            raise ValueError("training from files needs --evidence FILE and --framework FILE "
                             f"(got {' '.join('--' + k for k in given)})")
        cfg = with_overrides(load_config(config), tenant=tenant, store_url=store_url,
                             split=split, before=before, files=given or None)
    except ValueError as exc:
        console.print(str(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None
    uri = tracking.configure(data_dir)
    steps = ["loading data", "building features", "fitting", "evaluating", "logging to MLflow"]
    with progress_bar() as bar:
        task = bar.add_task(f"train {cfg.name}", total=len(steps))

        def step(message: str) -> None:
            done = next((i for i, s in enumerate(steps) if message.startswith(s[:7])), None)
            if done is not None:
                bar.update(task, completed=done)
            bar.console.log(message)

        try:
            result = run_training(cfg, data_dir, step, audit=audit)
        except (ValueError, FileNotFoundError) as exc:  # bad files: name them, no traceback
            bar.stop()
            console.print(str(exc), style="red", markup=False, highlight=False)
            raise typer.Exit(2) from None
        step("logging to MLflow")
        logged = tracking.log_training(result, register=register)
        bar.update(task, completed=len(steps))
    _print_result(cfg, result)
    console.print(f"run {logged['run_id']} in {uri}; registered version {logged['version']}")
    return logged


def _print_result(cfg, result) -> None:
    """The rejected rows, held-out metrics, model card, subgroups and equity audit of a run."""
    from pipelines.model_card import card_summary
    from pipelines.subgroups import subgroup_summary
    from pipelines.train_audit import audit_summary

    print_rejections(result.rejections)
    metrics = {k: round(v, 4) for k, v in result.metrics.items()}
    held = "later records" if cfg.split["by"] == "time" else "held-out educators"
    print_mapping(f"{cfg.name}: {held} (split {result.split_id})", metrics)
    console.print(f"model card: {card_summary(result.card)}")
    console.print(f"subgroups: {subgroup_summary(result.card.get('subgroups'))}")
    console.print(f"equity audit: {audit_summary(result.audit, result.audit_note)}",
                  markup=False, highlight=False)
