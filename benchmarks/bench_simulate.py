"""Benchmark: generate synthetic educators (12 months, 10,000 and 100,000 educators), then compare
every policy in the simulator (500 educators, 30 steps, as ``pdrec simulate`` does).

Run with ``python benchmarks/bench_simulate.py [n_runs]``. It uses the default educator framework
and catalog when they load, otherwise a framework of 40 competencies in five domains (chains with
some cross links, depth up to 7) and 120 activities built in code. For each size it prints the
median wall time of ``n_runs`` runs of :func:`recommender.simulate.generate`, the rows produced
(evidence, completions, latent), evidence rows per second, and the process's peak memory. The
policy comparison (:func:`recommender.evaluation.simulate_policies`, one run, the engine on the
graph-shrunk evidence estimate since a benchmark has no champion model) prints its wall time and
each policy's share of it.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time

import numpy as np

from recommender.catalog import FORMATS, MODALITIES, build_catalog
from recommender.evaluation import simulate_policies
from recommender.graph import LEVELS, build_framework
from recommender.policies import POLICIES
from recommender.simulate import generate

SIZES = (10_000, 100_000)
MONTHS = 12
POLICY_EDUCATORS, POLICY_STEPS = 500, 30
DOMAINS = (
    ("instructional", "Instructional practice"),
    ("assessment", "Assessment literacy"),
    ("inclusion", "Serving students with disabilities"),
    ("language", "Serving English learners"),
    ("collaboration", "Professional learning community practice"),
)


def built_framework(n: int = 40, seed: int = 0):
    """``n`` competencies: one chain per domain plus random links to earlier competencies."""
    rng = np.random.default_rng(seed)
    k = len(DOMAINS)
    comps = []
    for i in range(n):
        domain, label = DOMAINS[i % k]
        prereqs = {f"C{i - k:02d}"} if i >= k else set()
        if i >= 2 * k and rng.random() < 0.4:
            prereqs.add(f"C{rng.integers(0, i - k):02d}")
        comps.append({"id": f"C{i:02d}", "name": f"{label} {i // k + 1}", "domain": domain,
                      "prerequisites": sorted(prereqs)})
    return build_framework({"name": "bench", "competencies": comps})


def built_catalog(graph, n: int = 120, seed: int = 0):
    """``n`` activities on 1-3 random competencies each."""
    rng = np.random.default_rng(seed)
    ids = sorted(graph)
    activities = []
    for i in range(n):
        k = int(rng.integers(1, 4))
        targets = rng.choice(ids, k, replace=False)
        activities.append({
            "id": f"A{i:03d}", "title": f"Activity {i}", "format": FORMATS[i % len(FORMATS)],
            "competencies": dict(zip(map(str, targets), (1.0, 0.5, 0.3)[:k], strict=True)),
            "hours": float(rng.integers(2, 30)), "modality": MODALITIES[i % len(MODALITIES)],
            "level": LEVELS[i % len(LEVELS)], "expected_gain": float(rng.uniform(0.05, 0.25)),
        })
    return build_catalog({"activities": activities}, graph)


def content():
    """The default framework and catalog if they load, else the built ones; and a label."""
    try:
        from recommender.catalog import default_catalog
        from recommender.graph import default_framework

        graph = default_framework("educator")
        return graph, default_catalog(graph), "default educator framework"
    except Exception as exc:  # noqa: BLE001 - any failure means "not authored yet"
        graph = built_framework()
        reason = f"{type(exc).__name__}"
        return graph, built_catalog(graph), f"built framework (default unavailable: {reason})"


def main(runs: int = 3) -> None:
    graph, catalog, label = content()
    print(f"{label}: {graph.number_of_nodes()} competencies, {graph.number_of_edges()} edges, "
          f"{len(catalog)} activities; {MONTHS} months; median of {runs} runs")
    for n in SIZES:
        times = []
        for run in range(runs):
            start = time.perf_counter()
            data = generate(graph, catalog, n_educators=n, months=MONTHS, random_state=run)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        rows = len(data.evidence)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{n:>7,} educators: median {median:6.2f} s (min {min(times):.2f}, max "
              f"{max(times):.2f}); evidence {rows:,} rows ({rows / median:,.0f} rows/s), "
              f"completions {len(data.completions):,}, latent {len(data.latent):,}; "
              f"peak RSS {peak_mb:,.0f} MB")
        del data
    policy_comparison(graph, catalog)


def policy_comparison(graph, catalog) -> None:
    """Time every policy of the simulator on one seed, as ``pdrec simulate`` runs them."""
    finished: dict[str, float] = {}

    def progress(policy: str, done: int, total: int) -> None:
        if done == total:
            finished[policy] = time.perf_counter()

    start = time.perf_counter()
    simulate_policies(graph, catalog, list(POLICIES), n_educators=POLICY_EDUCATORS,
                      steps=POLICY_STEPS, random_state=0, progress=progress)
    total = time.perf_counter() - start
    ends = [start, *finished.values()]
    shares = ", ".join(f"{p} {b - a:.1f} s" for p, a, b in zip(finished, ends, ends[1:],
                                                                   strict=False))
    print(f"policy comparison, {len(POLICIES)} policies x {POLICY_EDUCATORS} educators x "
          f"{POLICY_STEPS} steps: {total:.1f} s ({shares}; the rest is the bootstrap)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
