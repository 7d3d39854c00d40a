"""A renewal plan: the activities that meet every renewal rule by the deadline at the fewest hours.

A mixed-integer program solved by HiGHS through :func:`scipy.optimize.milp` (no hand-written
search). With the credit of :mod:`recommender.renewal` (``c[a]``, ``scope[r, a]``):

- ``x[a]`` integer: how many times activity ``a`` is planned, in ``[0, 1]`` for a one-shot
  activity not completed yet, ``[0, max_repeats]`` for a repeatable one (and at most one more
  than the number of its cool-downs that fit before the deadline); completed one-shot activities,
  ``exclude`` d ones (declined) and ones outside ``available`` get ``0``;
- ``y[r, f]`` continuous, for each rule ``r`` and capped format ``f``: the credited hours of ``f``
  counted toward ``r``, ``y <= cap[f]`` and ``y <= earned[r, f] + sum_{a in f} c[a] scope[r, a]
  x[a]`` (so it is the capped sum at the optimum);
- each rule: ``sum_{a uncapped} c[a] scope[r, a] x[a] + sum_f y[r, f] >= hours[r] - earned
  uncapped[r]``;
- each goal ``g`` (the educator's *unmet* goal competencies, the caller decides which): at least
  one planned activity targets ``g``;
- minimize ``sum hours[a] x[a]``, the clock hours the educator spends.

**Infeasible rules.** Taking every allowed activity as often as allowed maximizes every rule at
once (the constraints only ask for more), so a rule is infeasible exactly when that maximum falls
short; :attr:`RenewalPlan.shortfalls` names each such rule and by how many hours (and each goal
no allowed activity targets). The plan then still meets every other rule and gets each
infeasible one as close as it can (its requirement is lowered to the maximum).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp

from recommender.catalog import Catalog
from recommender.renewal import (
    ActivityCredit,
    RenewalRules,
    RuleProgress,
    activity_credit,
    credited,
    progress_rows,
    window_counts,
)

__all__ = ["PlannedActivity", "RenewalPlan", "Shortfall", "plan_renewal", "solve_renewal"]

MAX_REPEATS = 5
"""Default cap on how often a repeatable activity is planned within one window."""


@dataclass(frozen=True)
class PlannedActivity:
    """An activity of the plan, taken ``times`` times: ``hours`` and ``credit`` are totals."""

    activity_id: str
    title: str
    format: str
    times: int
    hours: float
    credit: float


@dataclass(frozen=True)
class Shortfall:
    """Why the rules cannot all be met: a rule short by ``hours`` even with every allowed
    activity, or a goal (``kind`` ``goal``) that no allowed activity targets."""

    kind: str  # "rule" or "goal"
    id: str
    hours: float
    reason: str


@dataclass(frozen=True)
class RenewalPlan:
    """The plan, each rule's projected progress (completed plus planned), and the shortfalls."""

    deadline: pd.Timestamp
    activities: tuple[PlannedActivity, ...]
    total_hours: float
    rules: tuple[RuleProgress, ...]
    shortfalls: tuple[Shortfall, ...]
    goals: tuple[str, ...]

    @property
    def feasible(self) -> bool:
        return not self.shortfalls


def solve_renewal(rules: RenewalRules, credit: ActivityCredit, earned: np.ndarray,
                  upper: np.ndarray, goal_cover: np.ndarray | None = None) -> np.ndarray:
    """The MILP: counts per activity (``upper[a]`` the most times ``a`` may be planned) meeting
    every rule given the ``earned`` counts, and each row of ``goal_cover`` (goal x activity,
    boolean) at least once, at the fewest hours. Requirements above what ``upper`` reaches are
    lowered to that maximum (see :func:`max_credit`)."""
    n = len(credit.ids)
    fmts = sorted(rules.caps)
    capped = np.isin(credit.format, fmts)
    n_rules, n_y = len(rules.rules), len(rules.rules) * len(fmts)
    need = np.minimum([r.hours for r in rules.rules], max_credit(rules, credit, earned, upper))
    earned_c = credit.scope * (credit.credit * earned)[None, :]
    rows, lo, hi = [], [], []
    for r in range(n_rules):  # the rule
        row = np.zeros(n + n_y)
        row[:n] = np.where(capped, 0.0, credit.scope[r] * credit.credit)
        row[n + r * len(fmts): n + (r + 1) * len(fmts)] = 1.0
        rows.append(row)
        lo.append(need[r] - earned_c[r][~capped].sum() - 1e-7)
        hi.append(np.inf)
        for j, f in enumerate(fmts):  # y[r, f] <= earned[r, f] + planned[r, f]
            link = np.zeros(n + n_y)
            in_f = credit.format == f
            link[:n] = -np.where(in_f, credit.scope[r] * credit.credit, 0.0)
            link[n + r * len(fmts) + j] = 1.0
            rows.append(link)
            lo.append(-np.inf)
            hi.append(earned_c[r][in_f].sum())
    if goal_cover is not None:
        for g in goal_cover:
            rows.append(np.concatenate([g.astype(float), np.zeros(n_y)]))
            lo.append(1.0)
            hi.append(np.inf)
    keep = np.flatnonzero(upper > 0)  # activities that cannot be planned leave the model
    if len(keep) == 0:
        return np.zeros(n, dtype=int)
    a = np.array(rows)
    cols = np.concatenate([keep, np.arange(n, n + n_y)])
    cap_ub = np.tile([rules.caps[f] for f in fmts], n_rules)
    res = milp(np.concatenate([credit.hours, np.zeros(n_y)])[cols],
               integrality=np.concatenate([np.ones(len(keep)), np.zeros(n_y)]),
               bounds=Bounds(np.zeros(len(cols)), np.concatenate([upper[keep], cap_ub])),
               constraints=[LinearConstraint(a[:, cols], lo, hi)])
    if res.x is None:  # cannot happen: requirements were lowered to what is reachable
        raise RuntimeError(f"renewal MILP failed: {res.message}")
    x = np.zeros(n, dtype=int)
    x[keep] = np.round(res.x[:len(keep)]).astype(int)
    return x


def max_credit(rules: RenewalRules, credit: ActivityCredit, earned: np.ndarray,
               upper: np.ndarray) -> np.ndarray:
    """Each rule's credited hours when every allowed activity is taken as often as allowed."""
    return credited(rules, credit, earned + upper)


def _upper(catalog: Catalog, credit: ActivityCredit, ever: set[str], allowed: np.ndarray,
           days_left: float, max_repeats: int) -> np.ndarray:
    """How many times each activity may be planned before the deadline."""
    acts = catalog.activities
    rep = acts["repeatable"].to_numpy(bool) if "repeatable" in acts else np.zeros(len(acts), bool)
    cool = acts["cooldown_days"].to_numpy(float) if "cooldown_days" in acts else np.zeros(
        len(acts))
    fits = np.where(cool > 0, 1 + np.floor(days_left / np.where(cool > 0, cool, 1.0)),
                    max_repeats)
    upper = np.where(rep, np.minimum(max_repeats, fits), (~np.isin(credit.ids, list(ever))))
    return np.where(allowed & (days_left > 0), upper, 0).astype(float)


def plan_renewal(rules: RenewalRules, catalog: Catalog, graph: nx.DiGraph,
                 completions: pd.DataFrame, *, deadline: object = None,
                 now: pd.Timestamp | None = None, goals: Iterable[str] = (),
                 exclude: Iterable[str] = (), available: Iterable[str] | None = None,
                 max_repeats: int = MAX_REPEATS) -> RenewalPlan:
    """Plan the activities that meet every rule by the deadline at the fewest hours.

    ``completions`` (``activity_id``, ``at``): all the educator's completions (in-window ones
    earn credit; a one-shot activity completed at any time is not planned again). ``goals``:
    competency ids each needing one planned activity that targets it (pass the unmet goals).
    """
    end = rules.resolve_deadline(deadline)
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    credit = activity_credit(rules, catalog, graph)
    earned, _ = window_counts(rules, credit, completions, end)
    ok = ~np.isin(credit.ids, list(set(exclude)))
    if available is not None:
        ok &= np.isin(credit.ids, list(set(available)))
    ever = set(completions["activity_id"].to_numpy().astype(str))
    upper = _upper(catalog, credit, ever, ok, (end - now).total_seconds() / 86400, max_repeats)
    shortfalls = [Shortfall("rule", r.id, round(float(r.hours - m), 6),
                            f"every allowed activity together reaches {m:g} of {r.hours:g} "
                            "hours by the deadline")
                  for r, m in zip(rules.rules, max_credit(rules, credit, earned, upper),
                                  strict=True) if m < r.hours - 1e-9]
    goals = tuple(dict.fromkeys(goals))
    t_act = catalog.targets["activity_id"].to_numpy().astype(str)
    t_comp = catalog.targets["competency_id"].to_numpy().astype(str)
    cover = np.array([np.isin(credit.ids, t_act[t_comp == g]) & (upper > 0) for g in goals],
                     dtype=bool).reshape(len(goals), len(credit.ids))
    shortfalls += [Shortfall("goal", g, 0.0, "no allowed activity targets this goal")
                   for g, row in zip(goals, cover, strict=True) if not row.any()]
    x = solve_renewal(rules, credit, earned, upper, cover[cover.any(axis=1)])
    acts = catalog.activities
    chosen = np.flatnonzero(x)
    planned = tuple(PlannedActivity(
        str(credit.ids[i]), str(acts["title"].iloc[i]), str(credit.format[i]), int(x[i]),
        float(credit.hours[i] * x[i]), float(credit.credit[i] * x[i])) for i in chosen)
    return RenewalPlan(end, planned, float(credit.hours @ x),
                       progress_rows(rules, credited(rules, credit, earned + x)),
                       tuple(shortfalls), goals)
