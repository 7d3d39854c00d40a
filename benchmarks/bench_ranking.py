"""Benchmark: rank the default catalog for 10,000 educators with :func:`rank_batch`.

Run with ``python benchmarks/bench_ranking.py [n_educators]``. Every educator has a random
mastery for every competency of the default educator framework, a goal, two completed
activities, the default request (k=5, diversified, no hard gate) with a 20-hour budget and
the default ranker params (:data:`recommender.ranking.DEFAULT_RANKER_PARAMS`). It
prints the median of 3 runs in seconds and per educator, and, as a reference measured in the
same process, the median of one numpy matmul of the same shapes (educators x competencies by
competencies x activities), with the ratio of the two.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from timing import median_time  # benchmarks/timing.py (scripts run from this folder)

from recommender.catalog import default_catalog
from recommender.graph import default_framework
from recommender.ranking import DEFAULT_RANKER_PARAMS, EducatorContext, RankingRequest, rank_batch

N_RUNS = 3


def make_inputs(n: int, graph, catalog, seed: int = 0):
    rng = np.random.default_rng(seed)
    comps = sorted(graph)
    educators = [f"t-{i:06d}" for i in range(n)]
    long = pd.DataFrame({
        "educator_id": np.repeat(educators, len(comps)),
        "competency_id": np.tile(comps, n),
        "p_mastery": rng.beta(2, 2, n * len(comps)),
        "uncertainty": rng.uniform(0.05, 0.3, n * len(comps)),
        "n_evidence": rng.integers(0, 10, n * len(comps)),
    })
    aids = catalog.activities.index.to_numpy()
    goals = rng.choice(comps, n)
    done = rng.choice(aids, (n, 2))
    contexts = {e: EducatorContext(goals=(goals[i],), completed=frozenset(done[i]))
                for i, e in enumerate(educators)}
    return long, contexts



def main(n: int = 10_000) -> None:
    graph = default_framework("educator")
    catalog = default_catalog(graph)
    long, contexts = make_inputs(n, graph, catalog)
    request = RankingRequest(k=5, max_hours=20)

    t_rank, ranked = median_time(
        lambda: rank_batch(graph, catalog, long, contexts=contexts, request=request,
                           params=DEFAULT_RANKER_PARAMS), N_RUNS)

    n_c, n_a = len(graph), len(catalog)
    rng = np.random.default_rng(1)
    m, w = rng.uniform(size=(n, n_c)), rng.uniform(size=(n_c, n_a))
    t_mm, _ = median_time(lambda: m @ w, N_RUNS)

    print(f"rank_batch: {n:,} educators x {n_a} activities x {n_c} competencies, "
          f"k={request.k}, max_hours={request.max_hours}")
    print(f"  rows returned: {len(ranked):,}")
    print(f"  median of {N_RUNS}: {t_rank:.3f} s  ({t_rank / n * 1e6:.1f} us per educator)")
    print(f"reference: one matmul ({n}x{n_c}) @ ({n_c}x{n_a}), median of {N_RUNS}: "
          f"{t_mm * 1e3:.2f} ms")
    print(f"ratio rank_batch / matmul: {t_rank / t_mm:.0f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
