"""Benchmark: ``pdrec train --dask``, the data and training frame in the driver vs on the workers.

Run with ``python benchmarks/bench_train_dask.py [educators] [repeats] [sample]`` (default
3,000 generated educators x 12 months in a workforce folder of 500-educator partitions, 3 runs
of each path, 2 workers, 1,000 sampled held-out educators). Every path fits the same 100-tree
:class:`~recommender.models.LightGBMMastery` on the same data and split with ``lightgbm.dask``
on a fresh ``LocalCluster`` of 2 one-thread worker processes:

- **driver frame** (the first path): the folder read and the builder fitted in the driver
  (:func:`pipelines.training.prepare_fold`), the whole training frame built there, its matrix
  scattered to the workers (:func:`pipelines.train_dask.fit_on_dask`);
- **worker frames** (``pdrec train --dask`` on a config's data): the data read and the builder
  fitted in the driver, each educator partition's frame and matrix built on a worker
  (:func:`pipelines.train_dask.fit_frames_on_dask`);
- **workforce folder** (``pdrec train --dask --workforce DIR``): the folder read a partition at
  a time on the workers, the builder fitted on their summaries, the matrices built there
  (:func:`pipelines.train_workforce.train_workforce_on_dask`).

Each run is one fresh child process (and cluster), so ``ru_maxrss`` is that run's peak: the
driver's (the child's) and each worker's, read when the model is fitted, before the held-out
evaluation (the full held-out frame for the first two paths; ``sample`` held-out educators for
the folder's, as ``--sample-educators``). The table gives medians over the runs and the ratios
to the driver-frame path, measured in this one run.
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
PARTITION_EDUCATORS = 500


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _run(path: str, folder: str, sample: int, queue) -> None:
    """One measured training in this (child) process; puts its figures on ``queue``."""
    from dask.distributed import Client, LocalCluster

    from pipelines.config import TrainConfig
    from pipelines.train_dask import fit_frames_on_dask, fit_on_dask
    from pipelines.training import prepare_fold
    from recommender.models import make_model, mastery_metrics

    config = TrainConfig(name="bench", model="lightgbm",
                         data={"kind": "workforce", "path": folder},
                         split={"test_size": 0.2, "seed": 0}, params={"n_estimators": TREES})
    with LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        start_mb = _rss_mb()
        t0 = time.perf_counter()
        if path == "workforce folder":
            queue.put(_run_folder(config, client, sample, start_mb, t0))
            return
        fold = prepare_fold(config, Path(folder))
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


def _run_folder(config, client, sample: int, start_mb: float, t0: float) -> dict:
    """The workforce-folder path; its peaks read when the evaluation begins (the fit done)."""
    from pipelines.train_workforce import train_workforce_on_dask

    at_fit: dict = {}

    def progress(message: str) -> None:
        if message.startswith("evaluating on a sample") and not at_fit:
            at_fit.update(wall_s=time.perf_counter() - t0, driver_peak_mb=_peak_mb(),
                          workers=sorted(client.run(_peak_mb).values()))

    result = train_workforce_on_dask(config, client, progress, sample_educators=sample,
                                     audit=False)
    workers = at_fit.pop("workers")
    return {"path": "workforce folder", **at_fit,
            "driver_peak_above_start_mb": at_fit["driver_peak_mb"] - start_mb,
            "worker_peak_mb_max": workers[-1], "worker_peak_mb_min": workers[0],
            "rows": result.metrics["n_train_rows"], "auc": result.metrics["auc"]}


def _child(path: str, folder: Path, sample: int) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_run, args=(path, str(folder), sample, queue))
    proc.start()
    got = queue.get()
    proc.join()
    return got


PATHS = ("driver frame", "worker frames", "workforce folder")


def main(educators: int = 3000, repeats: int = 3, sample: int = 1000) -> None:
    from recommender.catalog import default_catalog
    from recommender.graph import default_framework
    from recommender.simulate.workforce import write_workforce

    graph = default_framework("educator")
    with tempfile.TemporaryDirectory() as tmp:
        wrote = write_workforce(graph, default_catalog(graph), tmp, educators=educators,
                                months=MONTHS, chunk_size=PARTITION_EDUCATORS, seed=0)
        runs = [_child(path, Path(tmp), sample) for _ in range(repeats) for path in PATHS]
    table = pd.DataFrame(runs).groupby("path", sort=False).median()
    print(f"pdrec train --dask: {educators:,} educators x {MONTHS} months in "
          f"{len(wrote.chunks)} partitions, {int(table['rows'].iloc[0]):,} training rows, "
          f"{TREES} trees, LocalCluster of {WORKERS} workers; medians of {repeats} runs, each "
          "in a fresh process and cluster (peak memory: ru_maxrss, when the model is fitted; "
          f"the folder path's AUC on {sample:,} sampled held-out educators)")
    print(table.round(3).to_string())
    old = table.loc["driver frame"]
    for path in PATHS[1:]:
        new = table.loc[path]
        for col in ("wall_s", "driver_peak_mb", "driver_peak_above_start_mb",
                    "worker_peak_mb_max"):
            print(f"ratio {path} / driver frame, {col}: {new[col] / old[col]:.2f}")
        print(f"held-out AUC, {path} - driver frame: {new['auc'] - old['auc']:+.4f}")
    for path in PATHS:
        spread = statistics.pstdev(r["wall_s"] for r in runs if r["path"] == path)
        print(f"wall-time spread of the {path} runs (std): {spread:.2f} s")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
