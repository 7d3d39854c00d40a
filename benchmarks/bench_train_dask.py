"""Benchmark: ``pdrec train --dask``, training frame built in the driver vs on the workers.

Run with ``python benchmarks/bench_train_dask.py [educators] [repeats]`` (default 3,000
synthetic educators x 12 months, 3 runs of each path, 2 workers). Both paths fit the same
100-tree :class:`~recommender.models.LightGBMMastery` on the same data, split and fitted
builder (:func:`pipelines.training.prepare_fold`) with ``lightgbm.dask`` on a fresh
``LocalCluster`` of 2 one-thread worker processes:

- **driver frame** (the earlier path): the whole training frame built in the driver, its
  matrix scattered to the workers (:func:`pipelines.train_dask.fit_on_dask`);
- **worker frames** (``pdrec train --dask`` now): each educator partition's frame and matrix
  built on a worker, boosted where they lie (:func:`pipelines.train_dask.fit_frames_on_dask`).

Each run is one fresh child process (and cluster), so ``ru_maxrss`` is that run's peak: the
driver's (the child's: data loaded, split and builder fitted in both paths) and each worker's,
read before the held-out frame is built for the AUC printed beside them. The table gives
medians over the runs and the ratios worker frames / driver frame, measured in this one run.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

MONTHS = 12
TREES = 100
WORKERS = 2


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _run(path: str, data_dir: str, queue) -> None:
    """One measured training in this (child) process; puts its figures on ``queue``."""
    from dask.distributed import Client, LocalCluster

    from pipelines.config import TrainConfig
    from pipelines.train_dask import fit_frames_on_dask, fit_on_dask
    from pipelines.training import prepare_fold
    from recommender.models import make_model, mastery_metrics

    config = TrainConfig(name="bench", model="lightgbm",
                         data={"kind": "synthetic", "path": "synthetic"},
                         split={"test_size": 0.2, "seed": 0}, params={"n_estimators": TREES})
    with LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        start_mb = _rss_mb()
        t0 = time.perf_counter()
        fold = prepare_fold(config, Path(data_dir))
        model = make_model("lightgbm", n_estimators=TREES, random_state=config.seed)
        if path == "driver frame":
            data = fold.data
            X, y = fold.builder.training_frame(fold.train_evidence, completions=data.completions,
                                               educators=data.educators)
            fitted = fit_on_dask(model, X, y, client)
            del X, y
        else:
            fitted = fit_frames_on_dask(model, fold, client)
        seconds = time.perf_counter() - t0
        driver = _peak_mb()
        workers = sorted(client.run(_peak_mb).values())
        X_test, y_test = fold.test_frame()
        auc = mastery_metrics(y_test, fitted.predict_proba(X_test)[:, 1])["auc"]
    queue.put({"path": path, "wall_s": seconds, "driver_peak_mb": driver,
               "driver_peak_above_start_mb": driver - start_mb,
               "worker_peak_mb_max": workers[-1], "worker_peak_mb_min": workers[0],
               "rows": fitted.n_train_rows_ + fitted.n_valid_rows_, "auc": auc})


def _child(path: str, data_dir: Path) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_run, args=(path, str(data_dir), queue))
    proc.start()
    got = queue.get()
    proc.join()
    return got


def main(educators: int = 3000, repeats: int = 3) -> None:
    from recommender.catalog import default_catalog
    from recommender.graph import default_framework
    from recommender.simulate import generate, write_synthetic

    graph = default_framework("educator")
    with tempfile.TemporaryDirectory() as tmp:
        write_synthetic(generate(graph, default_catalog(graph), n_educators=educators,
                                 months=MONTHS, random_state=0), Path(tmp) / "synthetic")
        runs = [_child(path, Path(tmp)) for _ in range(repeats)
                for path in ("driver frame", "worker frames")]
    table = pd.DataFrame(runs).groupby("path", sort=False).median()
    print(f"pdrec train --dask: {educators:,} educators x {MONTHS} months, "
          f"{int(table['rows'].iloc[0]):,} training rows, {TREES} trees, LocalCluster of "
          f"{WORKERS} workers; medians of {repeats} runs, each in a fresh process and cluster "
          "(peak memory: ru_maxrss)")
    print(table.round(3).to_string())
    old, new = table.loc["driver frame"], table.loc["worker frames"]
    for col in ("wall_s", "driver_peak_mb", "driver_peak_above_start_mb", "worker_peak_mb_max"):
        print(f"ratio worker frames / driver frame, {col}: {new[col] / old[col]:.2f}")
    print(f"held-out AUC, worker frames - driver frame: {new['auc'] - old['auc']:+.4f}")
    spread = statistics.pstdev(r["wall_s"] for r in runs if r["path"] == "worker frames")
    print(f"wall-time spread of the worker-frames runs (std): {spread:.2f} s")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
