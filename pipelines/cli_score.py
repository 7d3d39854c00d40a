"""``pdrec generate-workforce`` and ``pdrec score``: a state's workforce, generated and scored.

``generate-workforce`` writes educators in chunks as partitioned parquet
(:func:`recommender.simulate.workforce.write_workforce`); ``score`` scores every partition with
:mod:`pipelines.score` on a ``dask.distributed`` cluster (a :class:`~dask.distributed.LocalCluster`
of ``--workers`` one-thread workers by default, ``--scheduler ADDRESS`` for a running cluster) or
in this process (``--single-process``). With ``--from-store --tenant T`` it reads one tenant of
the store instead and scores it on the API's own path (:mod:`pipelines.score_store`), writing
parquet (``--out``) and/or the stored mastery the API reads (``--to-store``). docs/scale.md has
the commands and figures.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli_app import DataDir, app, champion_for, console, load_content, progress_bar
from recommender.allocator import KEEP_FREED_ENV, keep_freed_memory


@app.command("generate-workforce")
def generate_workforce(
    out: Annotated[Path, typer.Option(help="Output folder (educators/, evidence/, "
                                           "completions/, one file per chunk).")],
    educators: Annotated[int, typer.Option(min=1, help="Educators in all.")] = 100_000,
    months: Annotated[int, typer.Option(min=1, help="Months simulated.")] = 12,
    chunk: Annotated[int, typer.Option(min=1, help="Educators per chunk (partition).")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 0,
    framework: Annotated[str, typer.Option(help="'educator', 'leader' or a file.")] = "educator",
    catalog: Annotated[Path | None, typer.Option(help="Activity catalog file.")] = None,
) -> None:
    """Generate a workforce as parquet partitioned by educator chunk, one chunk in memory."""
    from recommender.simulate.workforce import write_workforce

    graph, cat = load_content(framework, catalog)
    if cat is None:
        console.print(f"[red]--catalog: framework {graph.graph['name']!r} has no default "
                      "catalog; pass its activity catalog file[/red]")
        raise typer.Exit(2)
    t0 = time.perf_counter()
    with progress_bar() as bar:
        task = bar.add_task("generating educators", total=educators)
        summary = write_workforce(graph, cat, out, educators=educators, months=months,
                                  chunk_size=chunk, seed=seed,
                                  progress=lambda done, _: bar.update(task, completed=done))
    console.print(f"{summary.educators} educators in {len(summary.chunks)} chunks, "
                  f"{summary.evidence_rows} evidence rows, {summary.completion_rows} completions "
                  f"-> {out} ({time.perf_counter() - t0:.1f} s)")


def _model(use_model: bool, data_dir: Path, graph):
    """(predictor, gains, severity, version) of the champion, or Nones with ``--no-model``."""
    if not use_model:
        console.print("mastery: the evidence filter without a model (--no-model)")
        return None, None, None, None
    champion = champion_for(graph, data_dir)
    console.print(f"mastery: champion model version {champion.version} as the prior")
    severity = None
    if champion.severity is not None and {"rater_id", "severity"} <= set(champion.severity):
        severity = champion.severity.set_index("rater_id")["severity"]
    return champion.predictor, champion.gains, severity, champion.version


@app.command()
def score(
    input: Annotated[Path | None, typer.Option(
        "--input", help="Workforce folder written by `pdrec generate-workforce`.")] = None,
    from_store: Annotated[bool, typer.Option(
        "--from-store", help="Read the educators of --tenant from the store (DATABASE_URL, "
                             "else DATA_DIR/pdrec.db) instead of --input.")] = False,
    tenant: Annotated[str | None, typer.Option(help="Tenant scored with --from-store.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Output folder (mastery/, recommendations/); optional with --to-store.")] = None,
    to_store: Annotated[bool, typer.Option(
        "--to-store", help="With --from-store: write the mastery to the store, keyed as the "
                           "API keys it, so the API's next read is a hit.")] = False,
    partition_size: Annotated[int, typer.Option(
        min=1, help="Educators per partition with --from-store (id order).")] = 500,
    workers: Annotated[int, typer.Option(min=1, help="LocalCluster workers (one thread "
                                                     "each, one partition at a time).")] = 2,
    scheduler: Annotated[str | None, typer.Option(
        help="Address of a running dask scheduler (tcp://host:8786) instead of a "
             "LocalCluster; paths (and the store) must be reachable by its workers.")] = None,
    single_process: Annotated[bool, typer.Option(
        "--single-process", help="Score in this process, without Dask.")] = False,
    k: Annotated[int, typer.Option(min=1, help="Recommendations per educator.")] = 5,
    as_of: Annotated[str | None, typer.Option(help="Scoring time (default now, UTC).")] = None,
    explain: Annotated[bool, typer.Option(help="Reasons and explanations per pick.")] = True,
    model: Annotated[bool, typer.Option(help="Use the champion model as the prior.")] = True,
    framework: Annotated[str, typer.Option(help="'educator', 'leader' or a file.")] = "educator",
    catalog: Annotated[Path | None, typer.Option(help="Activity catalog file.")] = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """Mastery and explained top-k for every educator of a partitioned workforce (--input) or
    of one tenant of the store (--from-store --tenant T), on Dask or in this process."""
    import pandas as pd

    t0 = time.perf_counter()
    when = pd.Timestamp(as_of) if as_of else pd.Timestamp.now(tz="UTC")
    run = dict(workers=workers, scheduler=scheduler, single_process=single_process)
    if from_store:
        _check_store_args(input, tenant, out, to_store, as_of)
        results, where = _score_store(tenant, out, to_store, partition_size, k, when, explain,
                                      model, framework, catalog, data_dir, run)
    else:
        if input is None or out is None or to_store:
            console.print("[red]--input and --out are required without --from-store "
                          "(--to-store needs --from-store)[/red]")
            raise typer.Exit(2)
        results, where = _score_folder(input, out, k, when, explain, model, framework, catalog,
                                       data_dir, run), str(out)
    console.print(f"{sum(r.educators for r in results)} educators in {len(results)} partitions "
                  f"-> {where} in {time.perf_counter() - t0:.1f} s; "
                  f"{sum(r.rejected for r in results)} evidence rows rejected; peak memory "
                  f"per worker {max((r.peak_rss_mb for r in results), default=0):.0f} MB")


def _check_store_args(input: Path | None, tenant: str | None, out: Path | None,
                      to_store: bool, as_of: str | None) -> None:
    """Exit 2 naming the option when --from-store is combined wrongly. ``--to-store`` scores
    as of now: the API serves the stored rows from now on, as if computed at this moment."""
    problem = ("--input: give either --input or --from-store, not both" if input is not None
               else "--tenant: required with --from-store" if not tenant
               else "--out or --to-store: say where the results go" if out is None
               and not to_store
               else f"--as-of {as_of!r}: --to-store writes what the API serves now; omit "
                    "--as-of (or drop --to-store)" if to_store and as_of else None)
    if problem:
        console.print(f"[red]{problem}[/red]")
        raise typer.Exit(2)


def _run(total: int, label: str, local, distributed, run: dict):
    """``local(progress)`` or ``distributed(client, progress)`` under a progress bar."""
    with progress_bar() as bar:
        task = bar.add_task(label, total=total)

        def advance(result, done: int, total: int) -> None:  # noqa: ARG001
            bar.update(task, completed=done)

        if run["single_process"]:
            keep_freed_memory()
            return local(advance)
        return _on_dask(run["workers"], run["scheduler"],
                        lambda client: distributed(client, advance))


def _score_folder(input: Path, out: Path, k: int, when, explain: bool, model: bool,
                  framework: str, catalog: Path | None, data_dir: Path, run: dict):
    """Every partition of a workforce folder (``pipelines.score``)."""
    from pipelines.score import make_scorer, partition_names, score_folder_dask, score_folder_local

    try:
        n_parts = len(partition_names(input))
    except FileNotFoundError as exc:
        console.print(f"[red]--input: {exc}[/red]")
        raise typer.Exit(2) from None
    graph, cat = load_content(framework, catalog)
    predictor, gains, severity, version = _model(model, data_dir, graph)
    scorer = make_scorer(graph, cat, as_of=when, predictor=predictor, gains=gains,
                         severity=severity, k=k, explain=explain, model_version=version)
    return _run(n_parts, "scoring partitions",
                lambda p: score_folder_local(scorer, input, out, progress=p),
                lambda c, p: score_folder_dask(scorer, input, out, c, progress=p), run)


def _score_store(tenant: str, out: Path | None, to_store: bool, size: int, k: int, when,
                 explain: bool, model: bool, framework: str, catalog: Path | None,
                 data_dir: Path, run: dict):
    """Every educator of ``tenant`` in the store, on the API's path (``pipelines.score_store``)."""
    from api.settings import Settings
    from pipelines.score_store import (
        NoEducators,
        make_job,
        score_store_dask,
        score_store_local,
        served_models,
        served_state,
        store_partitions,
    )
    from pipelines.serve import database_url, project_store

    url = database_url(data_dir)
    try:
        with project_store(data_dir) as store:
            parts = store_partitions(store, tenant, size)
    except NoEducators as exc:
        console.print(f"[red]--tenant: {exc}[/red]")
        raise typer.Exit(2) from None
    settings = Settings(data_dir=data_dir, database_url=url, load_model=model,
                        framework=framework, catalog=catalog)
    default, own = served_models(settings, tenant)
    job = make_job(url, tenant, as_of=when, settings=settings, k=k, explain=explain, out=out,
                   to_store=to_store, model=default, tenant_model=own)
    state = served_state(job)
    console.print(f"tenant {tenant}: {sum(len(ids) for _, ids in parts)} educators in "
                  f"{len(parts)} partitions; mastery key {state.key} ("
                  + (f"model {state.name} version {state.version}, {state.scope}"
                     if not state.fallback else f"the evidence filter: {state.reason}") + ")")
    where = " and ".join(([str(out)] if out else []) + (["the store"] if to_store else []))
    return _run(len(parts), "scoring partitions",
                lambda p: score_store_local(job, parts, progress=p),
                lambda c, p: score_store_dask(job, parts, c, progress=p), run), where


def _on_dask(workers: int, scheduler: str | None, run):
    """``run(client)`` on a client of ``scheduler``, or of a LocalCluster of ``workers``."""
    import dask
    from dask.distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            console.print(f"dask scheduler {scheduler}")
            return run(client)
    # the workers keep freed memory for the next partition (recommender.allocator): set in
    # their environment before they start, where glibc reads it
    keep = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in KEEP_FREED_ENV.items()}
    with dask.config.set(keep), LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True,
            dashboard_address=":0") as cluster, Client(cluster) as client:
        console.print(f"dask LocalCluster: {workers} workers x 1 thread")
        return run(client)
