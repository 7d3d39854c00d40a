"""``pdrec generate-workforce`` and ``pdrec score``: a state's workforce, generated and scored.

``generate-workforce`` writes educators in chunks as partitioned parquet
(:func:`recommender.simulate.workforce.write_workforce`); ``score`` scores every partition with
:mod:`pipelines.score` on a ``dask.distributed`` cluster (a :class:`~dask.distributed.LocalCluster`
of ``--workers`` one-thread workers by default, ``--scheduler ADDRESS`` for a running cluster) or
in this process (``--single-process``). docs/scale.md has the commands and figures.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli_app import DataDir, app, champion_for, console, load_content, progress_bar


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
    input: Annotated[Path, typer.Option("--input", help="Workforce folder written by "
                                                         "`pdrec generate-workforce`.")],
    out: Annotated[Path, typer.Option(help="Output folder (mastery/, recommendations/).")],
    workers: Annotated[int, typer.Option(min=1, help="LocalCluster workers (one thread "
                                                     "each, one partition at a time).")] = 2,
    scheduler: Annotated[str | None, typer.Option(
        help="Address of a running dask scheduler (tcp://host:8786) instead of a "
             "LocalCluster; paths must be readable by its workers.")] = None,
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
    """Mastery and explained top-k for every educator of a partitioned workforce."""
    import pandas as pd

    from pipelines.score import make_scorer, partition_names, score_folder_dask, score_folder_local

    try:
        n_parts = len(partition_names(input))
    except FileNotFoundError as exc:
        console.print(f"[red]--input: {exc}[/red]")
        raise typer.Exit(2) from None
    graph, cat = load_content(framework, catalog)
    predictor, gains, severity, version = _model(model, data_dir, graph)
    scorer = make_scorer(graph, cat, as_of=as_of or pd.Timestamp.now(tz="UTC"),
                         predictor=predictor, gains=gains, severity=severity, k=k,
                         explain=explain, model_version=version)
    t0 = time.perf_counter()
    with progress_bar() as bar:
        task = bar.add_task("scoring partitions", total=n_parts)

        def advance(result, done: int, total: int) -> None:  # noqa: ARG001
            bar.update(task, completed=done)

        if single_process:
            results = score_folder_local(scorer, input, out, progress=advance)
        else:
            results = _on_dask(scorer, input, out, workers, scheduler, advance,
                               score_folder_dask)
    seconds = time.perf_counter() - t0
    console.print(f"{sum(r.educators for r in results)} educators in {len(results)} partitions "
                  f"-> {out} in {seconds:.1f} s; {sum(r.rejected for r in results)} evidence "
                  f"rows rejected; peak memory per worker "
                  f"{max(r.peak_rss_mb for r in results):.0f} MB")


def _on_dask(scorer, input, out, workers, scheduler, advance, run):
    """``run`` on a client of ``scheduler``, or of a LocalCluster of ``workers`` workers."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            console.print(f"dask scheduler {scheduler}")
            return run(scorer, input, out, client, progress=advance)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        console.print(f"dask LocalCluster: {workers} workers x 1 thread")
        return run(scorer, input, out, client, progress=advance)
