"""Policy evaluation in the simulator: how fast do educators reach their goals under a policy?

Protocol
--------
One population is drawn with :func:`recommender.simulate.initial_population` (same seed for
every policy, so all policies start from the same educators; ``params`` sets the world, e.g. a
scenario of :mod:`recommender.simulate.scenarios`); each educator's goal set is their ``goals``
from the population (one or two competencies). Before step 1 each educator gets an intake: one
``observation`` reading of every competency. Then, for ``steps`` steps (a step is a month):

1. the policy (:mod:`recommender.policies`) recommends an activity to every educator (never one
   already completed);
2. the educator accepts it with probability ``p_accept`` (else does nothing that step);
3. an accepted activity is applied with :func:`recommender.simulate.apply_activities` and costs
   its hours;
4. new evidence is observed with :func:`recommender.simulate.observe`: one
   ``activity_assessment`` reading of every target of the accepted activity, plus
   ``n_random_readings`` ``observation`` readings of random competencies (every educator);
5. skills drift (:func:`recommender.simulate.drift`).

Common random numbers
---------------------
Every draw of the world is a function of (seed, step, educator) only, never of the policy
(:func:`world_draws`): at each step one generator ``default_rng([seed, step])`` draws, in a
fixed order and shape, the acceptance uniforms (n,), the gain noise of a completion (n,), the
assessment noise per (educator, competency) (n, C), the random readings' competencies and
noise (n, R) and the drift (n, C); the intake noise (n, C) comes from ``default_rng([seed,
0])``. A policy's own randomness (the random policy's choice, the popular order) comes from a
stream of its own (:meth:`recommender.policies.PolicySetup.policy_rng`). So an educator who is
recommended the same activities by two policies has the same trajectory under both, and a
difference between two policies is the difference their choices make, not noise.

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
same resamples for every policy). Against a ``reference`` policy each metric also has a
**paired** difference ``d_<metric>`` (policy minus reference, e.g. ``d_hours_to_goal =
mean_e [min(T_e, H)(policy) - min(T_e, H)(reference)]``) with a paired bootstrap interval: each
resample takes the same educators under both policies, so the interval reflects how the
policies differ on the same people, not how the people differ. A policy against itself gets
exactly [0, 0].
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

from recommender.catalog import Catalog
from recommender.estimate import MasteryEstimator
from recommender.evidence import SOURCES
from recommender.policies import POLICIES, Completions, Policy, PolicySetup, Readings, SimState
from recommender.sim_estimators import EstimateFn, engine_estimate
from recommender.simulate import (
    EducatorPopulation,
    SimulationParams,
    apply_activities,
    catalog_arrays,
    drift,
    initial_population,
    observe,
    source_scales,
    true_mastery,
)
from recommender.simulate.params import RATER_KINDS

__all__ = [
    "HOURS_PER_STEP",
    "METRICS",
    "Outcomes",
    "WorldDraws",
    "compare_outcomes",
    "restricted_mean_hours",
    "run_policy",
    "simulate_policies",
    "world_draws",
]

METRICS = ("hours_to_goal", "share_mastered", "gain_per_hour")
HOURS_PER_STEP = 4.0
"""Default hours budget per simulated month for ``hours_to_goal`` (``H = 4 * steps``)."""

_OBSERVATION = SOURCES.index("observation")
_ASSESSMENT = SOURCES.index("activity_assessment")

Progress = Callable[[str, int, int], None]
"""``progress(policy, steps_done, steps)``, called after each simulated step of a policy."""


@dataclass(frozen=True, eq=False)
class WorldDraws:
    """One step's exogenous draws, the same for every policy (common random numbers).

    Attributes
    ----------
    accept : (n,) uniforms
        An educator accepts the recommendation when ``accept < p_accept``.
    gain : (n,) standard normals
        The gain noise of the educator's completion, if any.
    assessment : (n, C) standard normals
        The noise of an activity assessment of each competency.
    reading_competency : (n, R) ints in [0, C)
        The competencies of the random observations.
    reading : (n, R) standard normals
        Their noise.
    drift : (n, C) standard normals
        The month's random walk of every skill.
    """

    accept: np.ndarray
    gain: np.ndarray
    assessment: np.ndarray
    reading_competency: np.ndarray
    reading: np.ndarray
    drift: np.ndarray


def world_draws(seed: int, step: int, n_educators: int, n_competencies: int,
                n_random_readings: int) -> WorldDraws:
    """The draws of ``step`` (>= 1): ``default_rng([seed, step])`` in a fixed order and shape."""
    n, n_c = n_educators, n_competencies
    rng = np.random.default_rng([seed, step])
    return WorldDraws(
        accept=rng.random(n),
        gain=rng.standard_normal(n),
        assessment=rng.standard_normal((n, n_c)),
        reading_competency=rng.integers(0, n_c, (n, n_random_readings)),
        reading=rng.standard_normal((n, n_random_readings)),
        drift=rng.standard_normal((n, n_c)),
    )


def _intake_noise(seed: int, n_educators: int, n_competencies: int) -> np.ndarray:
    """Noise of the intake readings (n, C), from its own stream (step 0)."""
    return np.random.default_rng([seed, 0]).standard_normal((n_educators, n_competencies))


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
    goal_gained : float or None
        The same rise on the educator's goal competencies only (None when not recorded):
        what the hours bought toward the goals, e.g. for the team experiment's gain per hour.
    """

    reached: np.ndarray
    hours_at_goal: np.ndarray
    hours: np.ndarray
    gained: np.ndarray
    goal_gained: np.ndarray | None = None


def _goals_met(pop: EducatorPopulation) -> np.ndarray:
    goals = pop.goals
    theta = pop.theta[np.arange(pop.n_educators)[:, None], np.maximum(goals, 0)]
    return np.where(goals >= 0, theta >= 0, True).all(axis=1)


def _read(pop: EducatorPopulation, educator: np.ndarray, competency: np.ndarray, source: int,
          step: int, noise: np.ndarray) -> Readings:
    """Readings of ``source`` on (educator, competency) pairs of the current skills."""
    score = observe(pop, competency, source, educator_idx=educator, noise=noise)
    low, high = source_scales(pop, source)
    norm = np.clip((score - low) / (high - low), 0.0, 1.0) * np.ones(len(educator))
    proficient = score >= float(pop.scale["proficient"])
    rated = pop.sources.rater[source] == RATER_KINDS.index("evaluator")
    rater = pop.evaluator[educator] if rated else np.full(len(educator), -1)
    return Readings(educator, competency, np.full(len(educator), source), proficient,
                    np.full(len(educator), step), norm, rater)


def run_policy(policy: Policy, setup: PolicySetup, *, steps: int, p_accept: float,
               n_random_readings: int, progress: Progress | None = None) -> Outcomes:
    """Run ``policy`` on ``setup.population`` for ``steps`` steps (module docstring), the
    world's draws from ``setup.seed``."""
    pop0 = pop = setup.population
    acts, seed = setup.activities, setup.seed
    n, n_c = pop.n_educators, pop.n_competencies
    every = np.arange(n)
    readings = [_read(pop, np.repeat(every, n_c), np.tile(np.arange(n_c), n), _OBSERVATION, 0,
                      _intake_noise(seed, n, n_c).ravel())]
    completed = np.zeros((n, len(acts)), dtype=bool)
    log: list[Completions] = []
    hours = np.zeros(n)
    reached = _goals_met(pop)
    hours_at_goal = np.where(reached, 0.0, np.nan)
    for step in range(1, steps + 1):
        draws = world_draws(seed, step, n, n_c, n_random_readings)
        pick = policy.choose(SimState(step, pop, acts, completed, readings, log))
        act = np.where((pick >= 0) & (draws.accept < p_accept), pick, -1)
        after = pop.with_theta(apply_activities(pop, act, acts, noise=draws.gain))
        doers = np.flatnonzero(act >= 0)
        completed[doers, act[doers]] = True
        log.append(Completions(doers, act[doers], np.full(len(doers), step)))
        hours[doers] += acts.hours[act[doers]]

        # evidence: assessment of every target of the accepted activity, and random observations
        target_e, target_c = np.nonzero(acts.weights[np.maximum(act, 0)] > 0)
        keep = act[target_e] >= 0
        target_e, target_c = target_e[keep], target_c[keep]
        readings.append(_read(after, target_e, target_c, _ASSESSMENT, step,
                              draws.assessment[target_e, target_c]))
        readings.append(_read(after, np.repeat(every, n_random_readings),
                              draws.reading_competency.ravel(), _OBSERVATION, step,
                              draws.reading.ravel()))

        pop = after.with_theta(drift(after, noise=draws.drift))
        now = _goals_met(pop) & ~reached
        hours_at_goal[now] = hours[now]
        reached |= now
        if progress:
            progress(policy.name, step, steps)

    rise = true_mastery(pop) - true_mastery(pop0)
    on_goal = np.zeros_like(rise, dtype=bool)
    on_goal[np.nonzero(pop0.goals >= 0)[0], pop0.goals[pop0.goals >= 0]] = True
    return Outcomes(reached=reached, hours_at_goal=hours_at_goal, hours=hours,
                    gained=rise.sum(axis=1), goal_gained=np.where(on_goal, rise, 0.0).sum(axis=1))


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
    """Metrics (last axis, in :data:`METRICS` order) of the educators ``idx``: one row, or one
    row per resample."""
    reached = r.reached[idx]
    hours_to_goal = restricted_mean_hours(reached, r.hours_at_goal[idx], hours_budget)
    with np.errstate(invalid="ignore", divide="ignore"):
        gain_per_hour = r.gained[idx].sum(axis=-1) / r.hours[idx].sum(axis=-1)
    return np.stack([hours_to_goal, reached.mean(axis=-1), gain_per_hour], axis=-1)


def _with_interval(row: dict, prefix: str, point: np.ndarray | None, boot: np.ndarray | None
                   ) -> None:
    """Add ``<prefix><metric>`` and its 95% percentile interval for every metric to ``row``
    (NaN for all three when ``point`` is None)."""
    if point is None or boot is None:
        point = lo = hi = np.full(len(METRICS), np.nan)
    else:
        lo = np.nanpercentile(boot, 2.5, axis=0)
        hi = np.nanpercentile(boot, 97.5, axis=0)
    for j, m in enumerate(METRICS):
        row[f"{prefix}{m}"] = point[j]
        row[f"{prefix}{m}_ci_low"] = lo[j]
        row[f"{prefix}{m}_ci_high"] = hi[j]


def compare_outcomes(outcomes: Mapping[str, Outcomes], *, hours_budget: float,
                     boot_idx: np.ndarray, steps: int, reference: str | None = None
                     ) -> pd.DataFrame:
    """The comparison table: one row per policy of ``outcomes``.

    Each metric of :data:`METRICS` with its 95% percentile bootstrap interval over the
    resamples ``boot_idx`` (n_boot, n_educators), the same for every policy; then the paired
    differences against ``reference`` (``d_<metric>``, ``d_<metric>_ci_low``,
    ``d_<metric>_ci_high``: policy minus reference on the same resamples; NaN when
    ``reference`` is None or not among ``outcomes``); then ``reference``, ``total_hours``,
    ``n_educators``, ``steps``, ``hours_budget``.
    """
    every = np.arange(len(next(iter(outcomes.values())).reached))
    point = {name: _metrics(r, every, hours_budget) for name, r in outcomes.items()}
    boot = {name: _metrics(r, boot_idx, hours_budget) for name, r in outcomes.items()}
    paired = reference in outcomes
    rows = []
    for name, r in outcomes.items():
        row = {"policy": name}
        _with_interval(row, "", point[name], boot[name])
        if paired:
            _with_interval(row, "d_", point[name] - point[reference],
                           boot[name] - boot[reference])
        else:
            _with_interval(row, "d_", None, None)
        row["reference"] = reference if paired else None
        row["total_hours"] = float(r.hours.sum())
        row["n_educators"] = len(every)
        row["steps"] = int(steps)
        row["hours_budget"] = hours_budget
        rows.append(row)
    return pd.DataFrame(rows)


def _check_arguments(policies: Sequence[str], reference: str | None, p_accept: float,
                     n_educators: int, steps: int, k: int, hours_budget: float) -> None:
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        raise ValueError(f"unknown policies {unknown}; expected some of {list(POLICIES)}")
    if not policies:
        raise ValueError("no policy to simulate")
    if reference is not None and reference not in POLICIES:
        raise ValueError(f"unknown reference policy {reference!r}; expected one of "
                         f"{list(POLICIES)} or None")
    if not 0 <= p_accept <= 1:
        raise ValueError(f"p_accept must be in [0, 1]; got {p_accept!r}")
    for name, value in (("n_educators", n_educators), ("steps", steps), ("k", k)):
        if int(value) < 1:
            raise ValueError(f"{name} must be >= 1; got {value!r}")
    if not np.isfinite(hours_budget) or hours_budget <= 0:
        raise ValueError(
            f"hours_budget must be a finite number of hours > 0; got {hours_budget!r}")


def simulate_policies(
    graph: nx.DiGraph,
    catalog: Catalog,
    policies: Sequence[str] = tuple(POLICIES),
    *,
    n_educators: int,
    steps: int,
    random_state: int = 0,
    params: SimulationParams | None = None,
    reference: str | None = "engine-no-model",
    p_accept: float = 0.7,
    k: int = 3,
    estimate: EstimateFn | None = None,
    n_random_readings: int = 3,
    n_boot: int = 1000,
    hours_budget: float | None = None,
    gains: pd.DataFrame | None = None,
    progress: Progress | None = None,
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
        Same seed, same table; the world's draws are common to every policy.
    params : SimulationParams, optional
        The world (e.g. :func:`recommender.simulate.scenario_params`); the policies do not see
        it. Default ``SimulationParams()``.
    reference : str or None, default='engine-no-model'
        The policy the paired differences ``d_<metric>`` are taken against, when it is among
        ``policies`` (else those columns are NaN).
    p_accept : float in [0, 1], default=0.7
    k : int >= 1, default=3
        Recommendations per step (only the first can be accepted).
    estimate : callable, optional
        ``estimate(evidence_so_far) -> mastery_long`` used by the ``engine`` policy; default
        the engine's estimator without a model (:class:`recommender.estimate.MasteryEstimator`
        through :func:`recommender.sim_estimators.engine_estimate`).
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
    progress : callable, optional
        ``progress(policy, steps_done, steps)`` after each step of each policy.

    Returns
    -------
    DataFrame
        :func:`compare_outcomes`: one row per policy, metrics with 95% intervals, paired
        differences against ``reference`` with paired 95% intervals.
    """
    hours_budget = HOURS_PER_STEP * int(steps) if hours_budget is None else float(hours_budget)
    _check_arguments(policies, reference, p_accept, n_educators, steps, k, hours_budget)
    pop0 = initial_population(graph, int(n_educators), params=params, random_state=random_state)
    setup = PolicySetup(
        graph=graph, catalog=catalog, population=pop0,
        activities=catalog_arrays(catalog, pop0.competencies), k=int(k),
        estimate=(engine_estimate(MasteryEstimator(graph, catalog)) if estimate is None
                  else estimate), gains=gains,
        seed=random_state + 1,
    )
    boot_rng = np.random.default_rng(random_state + 7919)
    boot_idx = boot_rng.integers(0, pop0.n_educators, (n_boot, pop0.n_educators))
    outcomes = {
        name: run_policy(POLICIES[name](setup), setup, steps=int(steps), p_accept=p_accept,
                         n_random_readings=n_random_readings, progress=progress)
        for name in dict.fromkeys(policies)
    }
    return compare_outcomes(outcomes, hours_budget=hours_budget, boot_idx=boot_idx,
                            steps=int(steps), reference=reference)
