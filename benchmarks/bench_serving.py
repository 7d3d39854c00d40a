"""The serving path against the hardware's limit: features + prediction vs a bare booster predict.

Issue #16 item 3. A mastery model is fitted with the champion's parameters
(``experiments/configs/lightgbm.yaml``: up to 2,000 trees, learning rate 0.05, 31 leaves, early
stopping after 20 rounds on a held-out 15% of educators) on a generated cohort; a second generated cohort is
served. Every ratio is against the bare ``booster.predict`` of the very rows the path predicts,
measured in the same run:

(a) one educator (every competency of the framework): ``MasteryPredictor.mastery_grid`` (evidence
    -> features -> P(mastery) as an (educators, competencies) array, what the estimator reads;
    goal <= 4x the bare predict), and the whole estimator with its
    model prior as of the first completion, cache cold (``MasteryEstimator.estimate``: prior +
    filter), per educator, medians over ``--one`` educators;
(b) ``--many`` educators at once (default 10,000): the same two paths; goal <= 1.3x the bare
    predict of the same rows for ``mastery_grid``. The estimator's prior is one feature build with
    per-educator as-of times and one predict, so it is compared with the bare predict too.

Run: ``python benchmarks/bench_serving.py [--many 10000] [--one 200] [--train 2000]``
(``make bench`` runs it with the defaults). The batch runs interleave the three paths. Besides
wall time it prints the process's CPU time of each path: on the shared two-core machine other
processes' load stretches the wall time of a path of many short steps more than that of one
long C call, so the CPU ratio shows what the code itself costs. The process keeps freed memory
for reuse as ``pdrec score``'s processes do (:mod:`recommender.allocator`), and prints the minor
page faults of each batch call.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from timing import median_time  # benchmarks/timing.py (scripts run from this folder)

from pipelines.config import load_config
from recommender.allocator import keep_freed_memory
from recommender.catalog import default_catalog
from recommender.estimate import MasteryEstimator
from recommender.evidence import validate_evidence
from recommender.features import FeatureBuilder
from recommender.graph import default_framework
from recommender.models import LightGBMMastery
from recommender.models.predictor import MasteryPredictor
from recommender.simulate import generate

CONFIG = Path(__file__).resolve().parents[1] / "experiments" / "configs" / "lightgbm.yaml"
"""The champion's training config: the benchmark's model takes its ``params``."""


def _cohort(graph, catalog, n: int, seed: int):
    data = generate(graph, catalog, n_educators=n, months=12, random_state=seed)
    ev = validate_evidence(data.evidence, competencies=list(graph),
                           now=pd.Timestamp("2100-01-01", tz="UTC")).valid
    return ev, data.completions, data.educators


def _predictor(graph, catalog, n: int) -> MasteryPredictor:
    ev, done, edu = _cohort(graph, catalog, n, seed=99)
    builder = FeatureBuilder(graph, catalog=catalog).fit(ev, educators=edu)
    X, y = builder.training_frame(ev, completions=done, educators=edu)
    model = LightGBMMastery(**load_config(CONFIG).params, n_jobs=1).fit(X, y)
    return MasteryPredictor(builder, model, "bench")


def _bare(predictor: MasteryPredictor, matrix: np.ndarray) -> np.ndarray:
    """The bare booster predict the model's own predict makes (raw margins, its trees)."""
    model = predictor.model
    return model.booster_.predict(matrix, num_iteration=model.best_iteration_, raw_score=True,
                                  num_threads=model.n_jobs)


def _timed(fn, wall: list[float], cpu: list[float]) -> None:
    """Call ``fn`` once, appending its wall and process CPU seconds."""
    start, start_cpu = time.perf_counter(), time.process_time()
    fn()
    wall.append(time.perf_counter() - start)
    cpu.append(time.process_time() - start_cpu)


def _one(predictor, estimator, frames, ids, as_of) -> dict[str, float]:
    """Median ms per educator (wall and CPU) of the bare predict, ``mastery_grid`` and the cold
    estimator."""
    ev, done, edu = frames
    by_e = {k: dict(tuple(f.groupby("educator_id", sort=False))) for k, f in
            (("ev", ev), ("done", done), ("edu", edu))}
    empty = {"ev": ev.head(0), "done": done.head(0), "edu": edu.head(0)}
    times: dict[str, list[float]] = {"bare": [], "mastery": [], "estimate": []}
    cpu: dict[str, list[float]] = {k: [] for k in times}

    def cold(own, e, kw):
        estimator._prior_cache.clear()  # cold: the prior is computed, not recalled
        return estimator.estimate(own["ev"], [e], as_of=as_of, **kw)

    for e in ids:
        own = {k: by_e[k].get(e, empty[k]) for k in by_e}
        kw = {"completions": own["done"], "educators": own["edu"]}
        matrix = predictor.model.input_matrix(predictor.features(own["ev"], educator_ids=[e],
                                                            as_of=as_of, **kw))
        _timed(partial(_bare, predictor, matrix), times["bare"], cpu["bare"])
        _timed(partial(predictor.mastery_grid, own["ev"], educator_ids=[e], as_of=as_of, **kw),
               times["mastery"], cpu["mastery"])
        _timed(partial(cold, own, e, kw), times["estimate"], cpu["estimate"])
    return {**{k: statistics.median(v) * 1e3 for k, v in times.items()},
            **{f"{k}_min": min(v) * 1e3 for k, v in times.items()},
            **{f"{k}_cpu": statistics.median(v) * 1e3 for k, v in cpu.items()}}


def _many(predictor, estimator, frames, ids, as_of, runs: int) -> dict[str, float]:
    """Median seconds (wall and CPU) of the bare predict, ``mastery_grid`` and the cold estimator for
    ``ids``, the three interleaved run by run (so each run's three share the machine's load)."""
    ev, done, edu = frames
    kw = {"completions": done, "educators": edu}
    matrix = predictor.model.input_matrix(predictor.features(ev, educator_ids=ids, as_of=as_of, **kw))

    def cold():
        estimator._prior_cache.clear()
        return estimator.estimate(ev, ids, as_of=as_of, **kw)

    paths = {"bare": lambda: _bare(predictor, matrix),
             "mastery": lambda: predictor.mastery_grid(ev, educator_ids=ids, as_of=as_of, **kw),
             "estimate": cold}
    times: dict[str, list[float]] = {k: [] for k in paths}
    cpu: dict[str, list[float]] = {k: [] for k in paths}
    faults: dict[str, list[int]] = {k: [] for k in paths}
    for _ in range(runs):
        for k, fn in paths.items():
            start, start_faults = time.process_time(), _minor_faults()
            times[k].append(median_time(fn, runs=1)[0])
            cpu[k].append(time.process_time() - start)
            faults[k].append(_minor_faults() - start_faults)
    return {**{k: statistics.median(v) for k, v in times.items()},
            **{f"{k}_cpu": statistics.median(v) for k, v in cpu.items()},
            **{f"{k}_faults": statistics.median(v) for k, v in faults.items()},
            "rows": len(matrix)}


def _minor_faults() -> int:
    """This process's minor page faults so far (pages the allocator had given back and the
    process touched again)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--many", type=int, default=10_000, help="educators served at once")
    parser.add_argument("--one", type=int, default=200, help="educators timed one by one")
    parser.add_argument("--train", type=int, default=2000, help="educators the model is fit on")
    parser.add_argument("--runs", type=int, default=3, help="repeats of the batch timings")
    args = parser.parse_args()

    kept = keep_freed_memory()  # as pdrec score's processes do (recommender.allocator)
    graph = default_framework("educator")
    catalog = default_catalog(graph)
    t0 = time.perf_counter()
    predictor = _predictor(graph, catalog, args.train)
    model = predictor.model
    print(f"model: {args.train:,} training educators, {model.best_iteration_} trees (early "
          f"stopping of the champion's parameters), fitted in {time.perf_counter() - t0:.0f} s")
    ev, done, edu = _cohort(graph, catalog, args.many, seed=7)
    as_of = ev["observed_at"].max() + pd.Timedelta(seconds=1)
    estimator = MasteryEstimator(graph, catalog, predictor=predictor)
    ids = edu["educator_id"].to_numpy(object)
    n_c = graph.number_of_nodes()

    one = _one(predictor, estimator, (ev, done, edu), ids[: args.one], as_of)
    print(f"\n(a) one educator x {n_c} competencies, medians over {args.one} educators:")
    print(f"  bare booster.predict of the {n_c} rows   {one['bare']:7.2f} ms  (reference)")
    print(f"  features + prediction (mastery_grid)   {one['mastery']:7.2f} ms  "
          f"ratio {one['mastery'] / one['bare']:.2f}  (goal <= 4)")
    print(f"  estimator, model prior cold + filter   {one['estimate']:7.2f} ms  "
          f"ratio {one['estimate'] / one['bare']:.2f}")
    print(f"  fastest of each (a loaded machine inflates long calls most): bare "
          f"{one['bare_min']:.2f} ms, mastery {one['mastery_min']:.2f} ms (ratio "
          f"{one['mastery_min'] / one['bare_min']:.2f}), estimator {one['estimate_min']:.2f} ms")
    print(f"  CPU time medians: bare {one['bare_cpu']:.2f} ms, mastery {one['mastery_cpu']:.2f} ms "
          f"(ratio {one['mastery_cpu'] / one['bare_cpu']:.2f}), estimator "
          f"{one['estimate_cpu']:.2f} ms")

    many = _many(predictor, estimator, (ev, done, edu), ids, as_of, args.runs)
    print(f"\n(b) {len(ids):,} educators at once ({many['rows']:,} rows, {len(ev):,} evidence "
          f"rows, {len(done):,} completions), medians of {args.runs}:")
    print(f"  bare booster.predict                   {many['bare']:7.2f} s   (reference, "
          f"{many['rows'] / many['bare'] / 1e6:.2f}M rows/s)")
    print(f"  features + prediction (mastery_grid)   {many['mastery']:7.2f} s   "
          f"ratio {many['mastery'] / many['bare']:.2f}  (goal <= 1.3)")
    print(f"  estimator, model prior cold + filter   {many['estimate']:7.2f} s   "
          f"ratio {many['estimate'] / many['bare']:.2f}")
    print(f"  CPU time of the process (what other engineers' load on the shared cores does not "
          f"inflate as much): bare {many['bare_cpu']:.2f} s, mastery {many['mastery_cpu']:.2f} s "
          f"(ratio {many['mastery_cpu'] / many['bare_cpu']:.2f}), estimator "
          f"{many['estimate_cpu']:.2f} s (ratio {many['estimate_cpu'] / many['bare_cpu']:.2f})")
    print(f"  minor page faults per call (freed memory {'kept' if kept else 'given back'} by the "
          f"allocator): bare {many['bare_faults']:,.0f}, mastery {many['mastery_faults']:,.0f}, "
          f"estimator {many['estimate_faults']:,.0f}")


if __name__ == "__main__":
    main()
