"""Policy evaluation in the simulator: how fast do educators reach their goals under a policy?

Protocol
--------
One population is drawn with :func:`recommender.simulate.initial_population` (same seed for
every policy, so all policies start from the same educators); each educator's goal set is their
``goals`` from the population (one or two competencies). Before step 1 each educator gets an
intake: one ``observation`` reading of every competency. Then, for ``steps`` steps (a step is a
month):

1. the policy (:mod:`recommender.policies`) recommends an activity to every educator (never one
   already completed);
2. the educator accepts it with probability ``p_accept`` (else does nothing that step);
3. an accepted activity is applied with :func:`recommender.simulate.apply_activities` and costs
   its hours;
4. new evidence is observed with :func:`recommender.simulate.observe`: one
   ``activity_assessment`` reading of every target of the accepted activity, plus
   ``n_random_readings`` ``observation`` readings of random competencies (every educator);
5. skills drift (:func:`recommender.simulate.drift`).

Each policy uses its own generator seeded from ``random_state`` (common random numbers as far
as the policies' paths allow).

Metrics (truth: mastered means ``theta >= 0``)
----------------------------------------------
``hours_to_goal``   **restricted mean hours to goal** over *all* educators (a censored
                    measure, comparable across policies):
                    ``mean_e min(T_e, H)`` with ``T_e`` the hours educator ``e`` had spent when
                    every goal was first mastered (0 for goals mastered at the start) and
                    ``T_e = inf`` when that did not happen within the ``steps`` months; ``H``
                    is the hours budget (``hours_budget``, default :data:`HOURS_PER_STEP` per
                    step: 120 h for 30 steps). So an educator who does not reach the goal within
                    the time budget, or needs more than ``H`` hours, counts as ``H``: the
                    measure never rewards a policy for leaving educators short of their goal,
                    and it cannot be lowered by recommending short activities that do not get
                    there. (The mean over reachers only is not comparable: a policy that gets
                    only the easy cases there looks fast.) See :func:`restricted_mean_hours`.
``share_mastered``  share of educators with every goal mastered within the ``steps`` months.
``gain_per_hour``   sum over educators and competencies of the rise in ``sigmoid(theta)``,
                    divided by the total hours spent.

Each has a 95% percentile bootstrap interval over educators (``n_boot`` resamples, seeded; the
same resamples for every policy).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

from recommender.catalog import Catalog
from recommender.evidence import SOURCES
from recommender.policies import POLICIES, Completions, Policy, PolicySetup, Readings, SimState
from recommender.sim_estimators import MasteryEstimator, graph_mastery
from recommender.simulate import (
    EducatorPopulation,
    apply_activities,
    catalog_arrays,
    drift,
    initial_population,
    observe,
    source_scales,
    true_mastery,
)

__all__ = [
    "HOURS_PER_STEP",
    "METRICS",
    "Outcomes",
    "compare_outcomes",
    "restricted_mean_hours",
    "run_policy",
    "simulate_policies",
]

METRICS = ("hours_to_goal", "share_mastered", "gain_per_hour")
HOURS_PER_STEP = 4.0
"""Default hours budget per simulated month for ``hours_to_goal`` (``H = 4 * steps``)."""

_OBSERVATION = SOURCES.index("observation")
_ASSESSMENT = SOURCES.index("activity_assessment")


@dataclass(frozen=True, eq=False)
class Outcomes:
    """Per-educator results of one policy run, arrays of shape (n_educators,).

    Attributes
    ----------
    reached : bool
        Every goal mastered within the steps.
    hours_at_goal : float
        Hours spent when that first happened (0 when mastered at the start; NaN if never).
    hours : float
        Hours spent in all.
    gained : float
        Rise in true P(mastery), summed over competencies.
    """

    reached: np.ndarray
    hours_at_goal: np.ndarray
    hours: np.ndarray
    gained: np.ndarray


def _goals_met(pop: EducatorPopulation) -> np.ndarray:
    goals = pop.goals
    theta = pop.theta[np.arange(pop.n_educators)[:, None], np.maximum(goals, 0)]
    return np.where(goals >= 0, theta >= 0, True).all(axis=1)


def _read(pop: EducatorPopulation, educator: np.ndarray, competency: np.ndarray, source: int,
          step: int, rng: np.random.Generator) -> Readings:
    """Readings of ``source`` on (educator, competency) pairs of the current skills."""
    score = observe(pop, competency, source, rng, educator_idx=educator)
    low, high = source_scales(pop, source)
    norm = np.clip((score - low) / (high - low), 0.0, 1.0) * np.ones(len(educator))
    proficient = score >= float(pop.scale["proficient"])
    return Readings(educator, competency, np.full(len(educator), source), proficient,
                    np.full(len(educator), step), norm)


def run_policy(policy: Policy, setup: PolicySetup, *, steps: int, seed: int, p_accept: float,
               n_random_readings: int) -> Outcomes:
    """Run ``policy`` on ``setup.population`` for ``steps`` steps (module docstring)."""
    rng = np.random.default_rng(seed)
    pop0 = pop = setup.population
    acts = setup.activities
    n, n_c = pop.n_educators, pop.n_competencies
    intake = _read(pop, np.repeat(np.arange(n), n_c), np.tile(np.arange(n_c), n), _OBSERVATION,
                   0, rng)
    readings: list[Readings] = [intake]
    completed = np.zeros((n, len(acts)), dtype=bool)
    log: list[Completions] = []
    hours = np.zeros(n)
    reached = _goals_met(pop)
    hours_at_goal = np.where(reached, 0.0, np.nan)
    for step in range(1, steps + 1):
        pick = policy.choose(SimState(step, pop, acts, completed, readings, log, rng))
        accept = (pick >= 0) & (rng.random(n) < p_accept)
        act = np.where(accept, pick, -1)
        after = pop.with_theta(apply_activities(pop, act, acts, rng))
        doers = np.flatnonzero(act >= 0)
        completed[doers, act[doers]] = True
        log.append(Completions(doers, act[doers], np.full(len(doers), step)))
        hours[doers] += acts.hours[act[doers]]

        # evidence: assessment of every target of the accepted activity, and random observations
        target_e, target_c = np.nonzero(acts.weights[np.maximum(act, 0)] > 0)
        keep = act[target_e] >= 0
        readings.append(_read(after, target_e[keep], target_c[keep], _ASSESSMENT, step, rng))
        random_e = np.repeat(np.arange(n), n_random_readings)
        random_c = rng.integers(0, n_c, len(random_e))
        readings.append(_read(after, random_e, random_c, _OBSERVATION, step, rng))

        pop = after.with_theta(drift(after, rng))
        now = _goals_met(pop) & ~reached
        hours_at_goal[now] = hours[now]
        reached |= now

    gained = (true_mastery(pop) - true_mastery(pop0)).sum(axis=1)
    return Outcomes(reached=reached, hours_at_goal=hours_at_goal, hours=hours, gained=gained)


def restricted_mean_hours(reached: np.ndarray, hours_at_goal: np.ndarray,
                          budget: float) -> np.ndarray:
    """Restricted mean hours to goal: ``mean min(T, budget)``, ``T = inf`` for non-reachers.

    Parameters
    ----------
    reached : bool array, shape (..., n)
        Whether each educator mastered every goal within the time budget.
    hours_at_goal : float array, shape (..., n)
        Hours spent when that happened (ignored, may be NaN, where ``reached`` is False).
    budget : float > 0
        Hours budget ``H``: non-reachers, and reachers who needed more, count as ``H``.

    Returns
    -------
    ndarray of shape (...)
        The mean over the last axis (e.g. one value per bootstrap resample).
    """
    if not budget > 0:
        raise ValueError(f"budget must be a number of hours > 0; got {budget!r}")
    reached = np.asarray(reached, dtype=bool)
    t = np.where(reached, np.asarray(hours_at_goal, dtype=float), np.inf)
    return np.minimum(t, float(budget)).mean(axis=-1)


def _metrics(r: Outcomes, idx: np.ndarray, hours_budget: float) -> np.ndarray:
    """Metrics of the educators ``idx`` (rows of resamples, or one row)."""
    reached = r.reached[idx]
    hours_to_goal = restricted_mean_hours(reached, r.hours_at_goal[idx], hours_budget)
    with np.errstate(invalid="ignore", divide="ignore"):
        gain_per_hour = r.gained[idx].sum(axis=-1) / r.hours[idx].sum(axis=-1)
    return np.stack([hours_to_goal, reached.mean(axis=-1), gain_per_hour], axis=-1)


def compare_outcomes(outcomes: Mapping[str, Outcomes], *, hours_budget: float,
                     boot_idx: np.ndarray, steps: int) -> pd.DataFrame:
    """The comparison table: one row per policy, metrics with percentile bootstrap intervals
    over the resamples ``boot_idx`` (n_boot, n_educators), the same for every policy."""
    rows = []
    for policy, r in outcomes.items():
        n = len(r.reached)
        point = _metrics(r, np.arange(n), hours_budget)
        boot = _metrics(r, boot_idx, hours_budget)
        lo = np.nanpercentile(boot, 2.5, axis=0)
        hi = np.nanpercentile(boot, 97.5, axis=0)
        row = {"policy": policy}
        for j, m in enumerate(METRICS):
            row[m] = point[j]
            row[f"{m}_ci_low"] = lo[j]
            row[f"{m}_ci_high"] = hi[j]
        row["total_hours"] = float(r.hours.sum())
        row["n_educators"] = n
        row["steps"] = int(steps)
        row["hours_budget"] = hours_budget
        rows.append(row)
    return pd.DataFrame(rows)


def simulate_policies(
    graph: nx.DiGraph,
    catalog: Catalog,
    policies: Sequence[str] = tuple(POLICIES),
    *,
    n_educators: int,
    steps: int,
    random_state: int = 0,
    p_accept: float = 0.7,
    k: int = 3,
    estimate: MasteryEstimator | None = None,
    n_random_readings: int = 3,
    n_boot: int = 1000,
    hours_budget: float | None = None,
    gains: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Run each policy on the same simulated educators and compare them (module docstring).

    Parameters
    ----------
    graph, catalog
        Framework and activity catalog.
    policies : sequence of str
        Names from :data:`recommender.policies.POLICIES`.
    n_educators, steps : int >= 1
    random_state : int, default=0
        Same seed, same table.
    p_accept : float in [0, 1], default=0.7
    k : int >= 1, default=3
        Recommendations per step (only the first can be accepted).
    estimate : callable, optional
        ``estimate(evidence_so_far) -> mastery_long`` used by the ``engine`` policy; default
        :func:`recommender.sim_estimators.graph_mastery`.
    n_random_readings : int, default=3
        Observations of random competencies per educator per step.
    n_boot : int, default=1000
        Bootstrap resamples for the 95% intervals.
    hours_budget : float > 0, optional
        ``H`` of the restricted mean ``hours_to_goal``; default ``HOURS_PER_STEP * steps``.
    gains : DataFrame, optional
        Learned gain posteriors (``gain_mean`` by ``(activity_id, competency_id)``, e.g.
        :func:`pipelines.tracking.load_champion_gains`) for the ``engine`` policy's ranker; the
        other ranker policies keep the catalog prior gains.

    Returns
    -------
    DataFrame
        One row per policy: ``policy``, then for each metric of :data:`METRICS` the value and
        ``<metric>_ci_low``, ``<metric>_ci_high``; then ``total_hours``, ``n_educators``,
        ``steps``, ``hours_budget``.
    """
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        raise ValueError(f"unknown policies {unknown}; expected some of {list(POLICIES)}")
    if not policies:
        raise ValueError("no policy to simulate")
    if not 0 <= p_accept <= 1:
        raise ValueError(f"p_accept must be in [0, 1]; got {p_accept!r}")
    if int(steps) < 1 or int(n_educators) < 1 or int(k) < 1:
        raise ValueError("n_educators, steps and k must be >= 1")
    hours_budget = HOURS_PER_STEP * int(steps) if hours_budget is None else float(hours_budget)
    if not np.isfinite(hours_budget) or hours_budget <= 0:
        raise ValueError(
            f"hours_budget must be a finite number of hours > 0; got {hours_budget!r}")
    pop0 = initial_population(graph, int(n_educators), random_state=random_state)
    setup = PolicySetup(
        graph=graph, catalog=catalog, population=pop0,
        activities=catalog_arrays(catalog, pop0.competencies), k=int(k),
        estimate=graph_mastery(graph) if estimate is None else estimate, gains=gains,
        seed=random_state + 1,
    )
    boot_rng = np.random.default_rng(random_state + 7919)
    boot_idx = boot_rng.integers(0, pop0.n_educators, (n_boot, pop0.n_educators))
    outcomes = {
        name: run_policy(POLICIES[name](setup), setup, steps=int(steps), seed=setup.seed,
                         p_accept=p_accept, n_random_readings=n_random_readings)
        for name in policies
    }
    return compare_outcomes(outcomes, hours_budget=hours_budget, boot_idx=boot_idx,
                            steps=int(steps))
