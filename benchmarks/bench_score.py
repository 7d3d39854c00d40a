"""Benchmark: ``pdrec score`` on a LocalCluster of 1 and 2 workers, and what N workers would take.

Run with ``python benchmarks/bench_score.py [educators] [chunk]`` (default 20,000 educators in
partitions of 5,000, 12 months). It writes the workforce with
:func:`recommender.simulate.workforce.write_workforce` into a temporary folder (timed: the
generator's cost per chunk), then scores every partition with mastery (the evidence filter,
``--no-model``) and explained top-5:

- in this process (:func:`pipelines.score.score_folder_local`): the reference;
- on a ``LocalCluster`` of 1 worker and of 2 workers (one thread each, separate processes):
  :func:`pipelines.score.score_folder_dask`.

It prints a scaling table (wall time, educators per second, median seconds per partition, peak
memory per worker from each worker's ``ru_maxrss``), the ratios 2 workers / 1 worker and
1 worker / in-process, and on paper the wall time for 3.7 million educators (and 1 million) on N
workers from the measured per-partition cost: ``ceil(partitions / N) * median partition
seconds``, which assumes a worker per core and a shared file system that keeps up (on this
2-core machine, shared, the 2-worker figure is the check on that assumption).

The model prior is measured apart, on one partition of ``MODEL_EDUCATORS`` educators in this
process with a small mastery model fitted on a separate 1,000-educator cohort (a benchmark has
no registry; 100 trees): :class:`~recommender.estimate.MasteryEstimator` asks the model for
each educator's prior as of that educator's first completion, all educators in one feature
build with per-educator as-of times and one predict (until issue #16 item 3: one build per
distinct time, about one per educator), and the on-paper figures are printed for it too.

The store path (``pdrec score --from-store``, :mod:`pipelines.score_store`) is measured on the
first ``STORE_EDUCATORS`` educators of the first partition, loaded into a SQLite store as the API
stores them (profiles, goals, validated evidence, completions as feedback): educators per second
in this process (median of 3 runs, partitions of 500, evidence filter, explained top-5) reading
the store and writing parquet, and also writing the stored mastery (``--to-store``), against the
parquet path on the same educators in the same run. ``python benchmarks/bench_score.py store
[educators]`` runs that part alone.
"""

from __future__ import annotations

import math
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from timing import median_time  # benchmarks/timing.py (scripts run from this folder)

from pipelines.score import make_scorer, score_folder_dask, score_folder_local, score_partition
from recommender.catalog import default_catalog
from recommender.graph import default_framework
from recommender.simulate.workforce import write_workforce

AS_OF = "2026-08-01"
MONTHS = 12
STATES = (("1 million", 1_000_000), ("US, 3.7 million", 3_700_000))
WORKERS_ON_PAPER = (2, 8, 32, 128, 512)
MODEL_EDUCATORS = 1000
STORE_EDUCATORS = 1000
STORE_PARTITION = 500


def _predictor(graph, catalog):
    """A 100-tree mastery model fitted on a separate cohort, as a champion would be."""
    from recommender.evidence import validate_evidence
    from recommender.features import FeatureBuilder
    from recommender.models import LightGBMMastery
    from recommender.models.predictor import MasteryPredictor
    from recommender.simulate import generate

    data = generate(graph, catalog, n_educators=1000, months=MONTHS, random_state=99)
    ev = validate_evidence(data.evidence, competencies=list(graph),
                           now=pd.Timestamp("2100-01-01", tz="UTC")).valid
    builder = FeatureBuilder(graph, catalog=catalog).fit(ev)
    X, y = builder.training_frame(ev)
    model = LightGBMMastery(n_estimators=100, n_jobs=1).fit(X, y)
    return MasteryPredictor(builder, model, "bench")


def _model_cost(graph, catalog, educators_file: Path) -> float:
    """Seconds per educator to score ``MODEL_EDUCATORS`` educators with the model prior."""
    root = educators_file.parent.parent
    name = educators_file.stem
    frames = {sub: pd.read_parquet(root / sub / f"{name}.parquet")
              for sub in ("evidence", "completions", "educators")}
    some = frames["educators"].head(MODEL_EDUCATORS)
    mine = {sub: f[f["educator_id"].isin(some["educator_id"])] for sub, f in frames.items()}
    scorer = make_scorer(graph, catalog, as_of=AS_OF, predictor=_predictor(graph, catalog),
                         k=5, explain=True, model_version="bench")
    t0 = time.perf_counter()
    score_partition(scorer, **mine)
    return (time.perf_counter() - t0) / len(some)


def _on_cluster(scorer, root: Path, out: Path, workers: int):
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        t0 = time.perf_counter()
        results = score_folder_dask(scorer, root, out, client)
        return time.perf_counter() - t0, results


def _row(label: str, seconds: float, results) -> dict:
    n = sum(r.educators for r in results)
    return {"run": label, "wall_s": seconds, "educators_per_s": n / seconds,
            "partition_s_median": statistics.median(r.seconds for r in results),
            "peak_mb_per_worker": max(r.peak_rss_mb for r in results)}


def main(educators: int = 20_000, chunk: int = 5000) -> None:
    graph = default_framework("educator")
    catalog = default_catalog(graph)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "workforce"
        t0 = time.perf_counter()
        summary = write_workforce(graph, catalog, root, educators=educators, months=MONTHS,
                                  chunk_size=chunk, seed=0)
        gen_s = time.perf_counter() - t0
        print(f"generate-workforce: {educators:,} educators x {MONTHS} months in "
              f"{len(summary.chunks)} chunks, {summary.evidence_rows:,} evidence rows: "
              f"{gen_s:.1f} s ({gen_s / len(summary.chunks):.2f} s per {chunk:,}-educator chunk; "
              f"1,000,000 educators on paper: {gen_s / educators * 1e6 / 60:.1f} min)")
        scorer = make_scorer(graph, catalog, as_of=AS_OF, k=5, explain=True)
        rows = []
        t0 = time.perf_counter()
        local = score_folder_local(scorer, root, Path(tmp) / "local")
        rows.append(_row("in-process (reference)", time.perf_counter() - t0, local))
        for workers in (1, 2):
            seconds, results = _on_cluster(scorer, root, Path(tmp) / f"dask{workers}", workers)
            rows.append(_row(f"LocalCluster, {workers} worker(s)", seconds, results))
        model_s = _model_cost(graph, catalog, root / "educators" / f"{summary.chunks[0]}.parquet")
        store_path(min(STORE_EDUCATORS, educators), root)
    table = pd.DataFrame(rows).set_index("run")
    print(f"\npdrec score: {educators:,} educators, partitions of {chunk:,}, evidence filter "
          "(--no-model) + explained top-5 (peak memory: each worker process's ru_maxrss)")
    print(table.round(2).to_string())
    one, two = table["wall_s"].iloc[1], table["wall_s"].iloc[2]
    print(f"ratio 2 workers / 1 worker (wall): {two / one:.2f} (ideal 0.50)")
    print(f"ratio 1 worker / in-process (wall): {one / table['wall_s'].iloc[0]:.2f}")
    per_part = table["partition_s_median"].iloc[1]
    print(f"\non paper, from {per_part:.1f} s per {chunk:,}-educator partition on one worker:")
    for name, n in STATES:
        parts = math.ceil(n / chunk)
        cells = ", ".join(f"{w} workers {math.ceil(parts / w) * per_part / 60:.1f} min"
                          for w in WORKERS_ON_PAPER)
        print(f"  {name} ({parts} partitions): {cells}")
    print(f"\nwith the model prior: {model_s * 1000:.0f} ms per educator in-process "
          f"({MODEL_EDUCATORS} educators, 100 trees); on paper for 3.7 million: "
          + ", ".join(f"{w} workers {3.7e6 * model_s / w / 3600:.1f} h" for w in WORKERS_ON_PAPER))
    print(f"this process's peak memory: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def _fill_store(url: str, frames: dict[str, pd.DataFrame], graph) -> None:
    """Tenant ``bench`` stored as the API stores it: educators, validated evidence, feedback."""
    from recommender.evidence import proficient_threshold, validate_evidence
    from recommender.store import open_store

    store = open_store(url)
    try:
        store.ensure_tenant("bench")
        edu = frames["educators"]
        profile_cols = [c for c in edu.columns if c not in ("educator_id", "goals")]
        for row in edu.to_dict("records"):  # setup: one write per educator, as the API does
            store.put_educator("bench", row["educator_id"],
                               goals=[g for g in str(row.get("goals") or "").split("|") if g],
                               profile={c: row[c] for c in profile_cols})
        valid = validate_evidence(frames["evidence"], competencies=list(graph),
                                  proficient_at=proficient_threshold(graph.graph["scale"])).valid
        store.ingest_evidence("bench", valid)
        done = frames["completions"]
        store.add_feedback("bench", [
            {"educator_id": e, "activity_id": a, "event": "completed", "at": t.to_pydatetime()}
            for e, a, t in zip(done["educator_id"], done["activity_id"], done["completed_at"],
                               strict=True)])
    finally:
        store.dispose()


def store_path(educators: int = STORE_EDUCATORS, root: Path | None = None) -> None:
    """Educators per second of the store path against the parquet path, same educators."""
    from pipelines.score_store import make_job, score_store_local, store_partitions
    from recommender.store import open_store

    graph = default_framework("educator")
    catalog = default_catalog(graph)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if root is None:
            root = tmp / "workforce"
            write_workforce(graph, catalog, root, educators=educators, months=MONTHS,
                            chunk_size=educators, seed=0)
        name = sorted(p.stem for p in (root / "educators").glob("*.parquet"))[0]
        frames = {sub: pd.read_parquet(root / sub / f"{name}.parquet")
                  for sub in ("educators", "evidence", "completions")}
        ids = frames["educators"]["educator_id"].head(educators)
        frames = {sub: f[f["educator_id"].isin(ids)] for sub, f in frames.items()}
        mini = tmp / "mini"
        for sub, frame in frames.items():
            (mini / sub).mkdir(parents=True)
            frame.to_parquet(mini / sub / "part.parquet", index=False)
        url = f"sqlite:///{tmp / 'pdrec.db'}"
        t0 = time.perf_counter()
        _fill_store(url, frames, graph)
        load_s = time.perf_counter() - t0
        store = open_store(url, run_migrations=False)
        parts = store_partitions(store, "bench", STORE_PARTITION)
        store.dispose()
        scorer = make_scorer(graph, catalog, as_of=AS_OF, k=5, explain=True)
        n = len(ids)
        runs = {
            "parquet -> parquet (reference)":
                lambda: score_folder_local(scorer, mini, tmp / "p"),
            "store -> parquet": lambda: score_store_local(
                make_job(url, "bench", as_of=AS_OF, out=tmp / "s"), parts),
            "store -> parquet + store (--to-store)": lambda: score_store_local(
                make_job(url, "bench", as_of=AS_OF, out=tmp / "t", to_store=True), parts),
        }
        rows = [{"run": label, "median_s": (sec := median_time(fn, runs=3)[0]),
                 "educators_per_s": n / sec} for label, fn in runs.items()]
    table = pd.DataFrame(rows).set_index("run")
    print(f"\npdrec score --from-store: {n:,} educators ({len(parts)} partitions of "
          f"{STORE_PARTITION}), evidence filter + explained top-5, in this process, median of 3 "
          f"(loading them into SQLite took {load_s:.1f} s)")
    print(table.round(2).to_string())
    ref = table["median_s"].iloc[0]
    for label in table.index[1:]:
        print(f"ratio {label} / parquet path (time): {table.at[label, 'median_s'] / ref:.2f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["store"]:
        store_path(*(int(a) for a in sys.argv[2:3]))
    else:
        main(*(int(a) for a in sys.argv[1:3]))
