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
                 "this process) and report both held-out qualities (the default, but for a "
                 "--workforce folder); --no-compare leaves the training frame off this machine.")
_SAMPLE_HELP = ("--dask --workforce: held-out educators evaluated, and training educators the "
                "activity gains and rater severity are learned from (default 10,000 each).")

_Dask = Annotated[bool, typer.Option(
    "--dask", help="Build the training frame and boost the trees on a Dask cluster "
                   "(lightgbm.dask) and compare with the single-machine fit (docs/scale.md).")]
_Workforce = Annotated[Path | None, typer.Option(
    help="Train on this workforce folder (educators/, evidence/, completions/ parquet "
         "partitions, as `pdrec generate-workforce` writes); with --dask it is read a "
         "partition at a time on the workers.")]


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


def _dask_trainer(scheduler: str | None, workers: int, options: dict, folder: bool):
    """A ``train(cfg, data_dir, step, **kw)`` on a client of ``scheduler``, or of a
    LocalCluster of ``workers`` workers: :func:`pipelines.train_workforce.train_workforce_on_dask`
    for a workforce ``folder``, else :func:`pipelines.train_dask.train_on_dask`."""
    from pipelines.train_dask import cluster_client, train_on_dask
    from pipelines.train_workforce import train_workforce_on_dask

    def run(cfg, data_dir: Path, step, **kw):
        with cluster_client(scheduler, workers) as client:
            if folder:
                return train_workforce_on_dask(cfg, client, step, **options, **kw)
            return train_on_dask(cfg, data_dir, client, step, **options, **kw)

    return run


def _trainer(cfg, dask: bool, scheduler: str | None, workers: int, partitions: int | None,
             compare: bool | None, sample_educators: int | None):
    """The run's ``train(cfg, data_dir, step, **kw)``: on Dask with ``--dask`` or
    ``--scheduler``, else :func:`pipelines.training.train`; a ValueError for options that do not
    apply to the run."""
    from pipelines.training import train

    folder = cfg.data["kind"] == "workforce"
    if not (dask or scheduler is not None):
        if partitions is not None or compare is not None or sample_educators is not None:
            raise ValueError("--partitions, --compare/--no-compare and --sample-educators are "
                             "options of a Dask training: add --dask (or --scheduler ADDRESS)")
        return train
    if folder and (partitions is not None or compare):
        raise ValueError("a workforce folder is trained on Dask a partition at a time: its "
                         "partitions are its files (no --partitions), and --compare would read "
                         "it whole on this machine (train it without --dask for the "
                         "single-machine fit)")
    if not folder and sample_educators is not None:
        raise ValueError("--sample-educators is an option of a workforce folder's Dask "
                         "training (--workforce DIR)")
    options = ({} if sample_educators is None else {"sample_educators": sample_educators}) \
        if folder else {"partitions": partitions, "compare": compare is not False}
    return _dask_trainer(scheduler, workers, options, folder)


@app.command()
def train(
    config: Annotated[Path, typer.Option(help="Training config (experiments/configs/NAME.yaml).")
                      ] = Path("experiments/configs/lightgbm.yaml"),
    data_dir: DataDir = Path("data"),
    register: Annotated[bool, typer.Option(help="Register the model as a new version.")] = True,
    dask: _Dask = False,
    scheduler: Annotated[str | None, typer.Option(
        help="--dask on the scheduler at this address (tcp://host:8786).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="--dask LocalCluster workers.")] = 2,
    partitions: Annotated[int | None, typer.Option(min=1, help=_PARTITIONS_HELP)] = None,
    compare: Annotated[bool | None, typer.Option(help=_COMPARE_HELP)] = None,
    workforce: _Workforce = None,
    sample_educators: Annotated[int | None, typer.Option(min=1, help=_SAMPLE_HELP)] = None,
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
        if given and (evidence is None or framework is None):
            raise ValueError("training from files needs --evidence FILE and --framework FILE "
                             f"(got {' '.join('--' + k for k in given)})")
        cfg = with_overrides(load_config(config), tenant=tenant, store_url=store_url,
                             split=split, before=before, files=given or None,
                             workforce=None if workforce is None else str(workforce))
        run_training = _trainer(cfg, dask, scheduler, workers, partitions, compare,
                                sample_educators)
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
