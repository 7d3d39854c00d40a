"""Benchmark: one educator's renewal plan (:func:`recommender.renewal_plan.plan_renewal`).

Run with ``python benchmarks/bench_renewal.py``. Default educator framework and catalog (148
activities); the rules of ``docs/renewal.md``'s example (150 hours in 5 years, 30 of them
interpersonal, video reflection capped at 10 hours, coaching cycles credited 1.5x); an educator
with three completions in the window and two unmet goals. It prints the median of
``SINGLE_RUNS`` calls of:

- ``plan_renewal`` (the MILP, everything included: credit, window, bounds, solve);
- a greedy reference in the same process: activities by credit per hour (goal-targeting ones
  first), taken until every rule is met (:func:`greedy_plan`), and the ratio; the greedy plan's
  total hours next to the MILP's (the optimum) says what the solver buys;
- ``plan_pathway`` for the same goals (the pathway planner an API answer already pays for), and
  the ratio.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from timing import median_time  # benchmarks/timing.py (scripts run from this folder)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recommender.catalog import default_catalog  # noqa: E402
from recommender.graph import default_framework  # noqa: E402
from recommender.pathway import plan_pathway, prepare_pathway  # noqa: E402
from recommender.ranking import EducatorContext, RankingRequest  # noqa: E402
from recommender.renewal import activity_credit, build_rules, credited, window_counts  # noqa: E402
from recommender.renewal_plan import plan_renewal  # noqa: E402

SINGLE_RUNS = 50
NOW = pd.Timestamp("2026-01-01", tz="UTC")
RULES = {"name": "State licence renewal", "window_years": 5, "deadline": "2027-06-30",
         "rules": [{"id": "total", "kind": "total", "hours": 150},
                   {"id": "interpersonal", "kind": "category", "category": "interpersonal",
                    "hours": 30}],
         "caps": {"video_reflection": 10}, "multipliers": {"coaching_cycle": 1.5}}
COMPLETIONS = pd.DataFrame({"activity_id": ["ACT-001", "ACT-002", "ACT-003"],
                            "at": pd.to_datetime(["2023-09-01", "2024-03-01", "2025-01-15"],
                                                 utc=True)})  # as the API reads them
GOALS = ["INS.ELL", "REL.PLC"]


def greedy_plan(rules, catalog, graph, completions, goals):
    """Total hours of the greedy plan: the best credit per hour first (goal-targeting ones
    before the rest), one-shot activities not yet completed, until every rule is met."""
    credit = activity_credit(rules, catalog, graph)
    earned, _ = window_counts(rules, credit, completions, rules.deadline)
    t = catalog.targets
    goal_acts = np.isin(credit.ids, t.loc[t["competency_id"].isin(goals), "activity_id"])
    order = np.lexsort((-(credit.credit / credit.hours), ~goal_acts))
    left = ~np.isin(credit.ids, completions["activity_id"])
    need = np.array([r.hours for r in rules.rules])
    x = np.zeros(len(credit.ids))
    for i in order:
        if np.all(credited(rules, credit, earned + x) >= need):
            break
        if left[i]:
            x[i] = 1
    return float(credit.hours @ x)


def main() -> None:
    graph = default_framework()
    catalog = default_catalog(graph)
    rules = build_rules(RULES, catalog.vocabularies.allowed("format"))
    milp_t, plan = median_time(lambda: plan_renewal(rules, catalog, graph, COMPLETIONS, now=NOW,
                                                    goals=GOALS), SINGLE_RUNS)
    greedy_t, greedy_hours = median_time(
        lambda: greedy_plan(rules, catalog, graph, COMPLETIONS, GOALS), SINGLE_RUNS)
    index = prepare_pathway(graph, catalog)
    mastery = {c: 0.3 for c in graph}
    context = EducatorContext(completed=frozenset(COMPLETIONS["activity_id"]))
    path_t, _ = median_time(lambda: plan_pathway(graph, catalog, mastery, GOALS, context=context,
                                                 request=RankingRequest(), index=index),
                            SINGLE_RUNS)
    print(f"renewal plan (MILP, {len(catalog)} activities): median {milp_t * 1e3:.1f} ms, "
          f"{plan.total_hours:g} h, {len(plan.activities)} activities, "
          f"rules met: {all(r.met for r in plan.rules)}")
    print(f"greedy reference: median {greedy_t * 1e3:.1f} ms, {greedy_hours:g} h "
          f"(MILP/greedy time {milp_t / greedy_t:.2f}x; greedy spends "
          f"{greedy_hours - plan.total_hours:g} h more)")
    print(f"plan_pathway (same goals, prepared index): median {path_t * 1e3:.2f} ms "
          f"(MILP/pathway {milp_t / path_t:.1f}x)")


if __name__ == "__main__":
    main()
