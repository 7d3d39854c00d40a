"""Benchmark: one pathway (:func:`plan_pathway`) and 10,000 at once (:func:`plan_pathways`).

Run with ``python benchmarks/bench_pathway.py [n_educators]``. Default educator framework and
catalog; every educator has a random mastery (beta(2, 2)) for about 90% of the competencies
(the rest missing: 0), two goals, two completed activities and one in progress, the default
request. It prints:

- single: the median of one ``plan_pathway`` call with a prepared index
  (:func:`prepare_pathway`, built once, as a server does), for a mastery table shaped as the
  API's (``p_mastery, n_evidence, p_bound``) and for a plain mapping; and, as the reference
  measured in the same process, the median of the pre-optimisation copy
  (``tests/recommender/pathway_reference.py``) on the same inputs, with the ratio;
- batch: the median of 3 ``plan_pathways`` calls for all educators, and the reference: the
  frozen copy called educator by educator on a sample (its median per educator times the
  number of educators), with the ratio.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from timing import median_time  # benchmarks/timing.py (scripts run from this folder)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' reference copy

from recommender.catalog import default_catalog  # noqa: E402
from recommender.graph import default_framework  # noqa: E402
from recommender.pathway import plan_pathway, plan_pathways, prepare_pathway  # noqa: E402
from recommender.ranking import EducatorContext  # noqa: E402
from tests.recommender.pathway_reference import reference_plan_pathway  # noqa: E402

N_RUNS = 3
SINGLE_RUNS = 200
REFERENCE_SAMPLE = 100


def make_inputs(n: int, graph, catalog, seed: int = 0):
    """Wide mastery (educators x competencies, NaN: missing), goals and contexts."""
    rng = np.random.default_rng(seed)
    comps = sorted(graph)
    educators = [f"t-{i:06d}" for i in range(n)]
    values = rng.beta(2, 2, (n, len(comps)))
    values[rng.uniform(size=values.shape) < 0.1] = np.nan
    wide = pd.DataFrame(values, index=educators, columns=comps)
    goal_cols = rng.integers(0, len(comps), (n, 2))
    goals = {e: [comps[j] for j in set(goal_cols[i].tolist())] for i, e in enumerate(educators)}
    aids = catalog.activities.index.to_numpy()
    picked = rng.choice(aids, (n, 3))
    contexts = {e: EducatorContext(completed=frozenset(picked[i, :2]),
                                   in_progress=frozenset(picked[i, 2:]))
                for i, e in enumerate(educators)}
    return wide, goals, contexts


def api_table(row: pd.Series) -> pd.DataFrame:
    """One educator's mastery as the API hands it to the planner."""
    row = row.dropna()
    return pd.DataFrame({"p_mastery": row.to_numpy(float),
                         "n_evidence": np.full(len(row), 3, dtype=np.int64),
                         "p_bound": np.clip(row.to_numpy(float) - 0.1, 0, 1)},
                        index=pd.Index(row.index, name="competency_id"))


def bench_single(graph, catalog, wide, goals, contexts) -> None:
    index = prepare_pathway(graph, catalog)
    t_prepare, _ = median_time(lambda: prepare_pathway(graph, catalog), N_RUNS)
    print(f"single pathway: default framework ({len(graph)} competencies, {len(catalog)} "
          f"activities); index built once in {t_prepare * 1e3:.1f} ms")
    head = wide.iloc[:1000]
    sizes = plan_pathways(graph, catalog, head, {e: goals[e] for e in head.index},
                          contexts={e: contexts[e] for e in head.index},
                          index=index).steps.groupby("educator_id").size()
    for which, e in (("first educator", wide.index[0]), ("longest plan of the first 1,000",
                                                          sizes.idxmax())):
        table, mapping = api_table(wide.loc[e]), wide.loc[e].dropna().to_dict()
        print(f" {which} ({e}, goals {goals[e]}):")
        for label, mastery in (("API table", table), ("mapping", mapping)):
            t_fast, plan = median_time(
                lambda m=mastery, e=e: plan_pathway(graph, catalog, m, goals[e],
                                               context=contexts[e], index=index), SINGLE_RUNS)
            t_ref, ref = median_time(
                lambda m=mastery, e=e: reference_plan_pathway(graph, catalog, m, goals[e],
                                                         context=contexts[e]), SINGLE_RUNS // 4)
            assert plan == ref, "the fast plan differs from the reference"
            print(f"  {label}: {len(plan.steps)} steps; median of {SINGLE_RUNS}: "
                  f"{t_fast * 1e3:.3f} ms; reference (pre-optimisation copy) median of "
                  f"{SINGLE_RUNS // 4}: {t_ref * 1e3:.2f} ms; ratio reference / fast: "
                  f"{t_ref / t_fast:.0f}x")


def bench_batch(graph, catalog, wide, goals, contexts) -> None:
    n = len(wide)
    index = prepare_pathway(graph, catalog)
    t_batch, batch = median_time(
        lambda: plan_pathways(graph, catalog, wide, goals, contexts=contexts, index=index),
        N_RUNS)
    sample = list(wide.index[:REFERENCE_SAMPLE])

    def reference_loop():
        return [reference_plan_pathway(graph, catalog, wide.loc[e].dropna().to_dict(), goals[e],
                                       context=contexts[e]) for e in sample]

    t_ref, plans = median_time(reference_loop, N_RUNS)
    mine = batch.steps[batch.steps["educator_id"].isin(sample)]
    assert list(mine["activity_id"]) == [s.activity_id for p in plans for s in p.steps]
    per_ref = t_ref / len(sample)
    print(f"batch: plan_pathways for {n:,} educators ({len(batch.steps):,} steps)")
    print(f"  median of {N_RUNS}: {t_batch:.3f} s  ({t_batch / n * 1e6:.1f} us per educator)")
    print(f"reference: the pre-optimisation plan_pathway, educator by educator on {len(sample)} "
          f"of them, median of {N_RUNS}: {per_ref * 1e3:.2f} ms per educator "
          f"(~{per_ref * n:.0f} s for {n:,})")
    print(f"ratio reference / plan_pathways per educator: {per_ref * n / t_batch:.0f}x")


def main(n: int = 10_000) -> None:
    graph = default_framework("educator")
    catalog = default_catalog(graph)
    wide, goals, contexts = make_inputs(n, graph, catalog)
    bench_single(graph, catalog, wide, goals, contexts)
    bench_batch(graph, catalog, wide, goals, contexts)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
