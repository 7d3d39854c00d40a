"""Policy evaluation in the simulator: how fast do educators reach their goals under a policy?

Protocol
--------
One population is drawn with :func:`recommender.simulate.initial_population` (same seed for
every policy, so all policies start from the same educators); each educator's goal set is their
``goals`` from the population (one or two competencies). Before step 1 each educator gets an
intake: one ``observation`` reading of every competency. Then, for ``steps`` steps (a step is a
month):

1. the policy recommends ``k`` activities to every educator (never one already completed);
2. the educator accepts the first with probability ``p_accept`` (else does nothing that step);
3. an accepted activity is applied with :func:`recommender.simulate.apply_activities` and costs
   its hours;
4. new evidence is observed with :func:`recommender.simulate.observe`: one
   ``activity_assessment`` reading of every target of the accepted activity, plus
   ``n_random_readings`` ``observation`` readings of random competencies (every educator);
5. skills drift (:func:`recommender.simulate.drift`).

Each policy uses its own generator seeded from ``random_state`` (common random numbers as far
as the policies' paths allow).

Policies (all but ``oracle`` see only evidence and goals)
---------------------------------------------------------
``random``         a uniformly random not-yet-completed activity order.
``popular``        a fixed order: how often the simulator's own self-directed choice model
                   (:func:`recommender.simulate.choose_activities`, softmax on need and goals)
                   picks each activity for the initial population, i.e. what educators choose
                   for themselves; ties by fewer hours.
``weakest-first``  activities ranked by the weight-averaged ``1 - p`` of their targets, ``p`` the
                   smoothed evidence estimate below; no graph, no goals.
``graph-rule``     the graph without the model: the first step of the product's own pathway
                   (:func:`recommender.pathway.plan_pathway`) on the smoothed evidence
                   estimate, i.e. the first unmastered goal or prerequisite of a goal in
                   topological order and its activity with the most prior gain per log-hour
                   (``_PathwayRule``; mastered here means a smoothed share >= 0.5, and when
                   nothing looks unmastered it keeps practising the goals). What a coach with
                   the framework and the evidence, but no engine, would do.
``engine-no-model`` an ablation: the engine's ranker (:func:`recommender.ranking.rank_batch`:
                   need, readiness, goal hours saved, catalog prior gains) on the smoothed
                   evidence estimate instead of a mastery model. ``engine`` minus this is what
                   the model and the learned gains add. (Before 2026-11-23 this policy was
                   called ``graph-rule``.)
``engine``         ``rank_batch`` on the ``estimate`` callable given to
                   :func:`simulate_policies`; by default :func:`graph_mastery`: the smoothed
                   estimate shrunk towards the mean estimate of each competency's direct
                   prerequisites (a graph prior instead of a flat one). No trained model is
                   used by default. With ``gains`` (the champion's learned gain posteriors)
                   the engine's ranker uses their posterior means instead of the catalog
                   prior gains. An ``estimate`` with a ``completions`` parameter (such as
                   :func:`model_mastery`) also gets the activities completed so far, as the
                   API passes the completions recorded as feedback, and one with an
                   ``educators`` parameter the profiles, as the API passes the stored ones.
``oracle``         ``rank_batch`` on the latent ``true_mastery``.

The smoothed evidence estimate (:func:`smoothed_mastery`) is, per (educator, competency),
``(a + sum w * proficient) / (a + b + sum w)`` with ``a = b = 1`` and recency weights
``w = 0.5 ** (age_days / half_life_days)`` (half-life 60 days), 0.5 without evidence.

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

import inspect
from collections.abc import Callable, Sequence
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from recommender.catalog import Catalog
from recommender.evidence import SOURCES
from recommender.ranking import EducatorContext, RankingRequest, prepare, rank_batch
from recommender.simulate import (
    EducatorPopulation,
    apply_activities,
    catalog_arrays,
    choose_activities,
    drift,
    initial_population,
    observe,
    source_scales,
    true_mastery,
)

__all__ = [
    "HOURS_PER_STEP",
    "METRICS",
    "model_mastery",
    "POLICIES",
    "graph_mastery",
    "plot_policies",
    "restricted_mean_hours",
    "simulate_policies",
    "smoothed_mastery",
]

POLICIES = ("random", "popular", "weakest-first", "graph-rule", "engine-no-model", "engine",
            "oracle")
METRICS = ("hours_to_goal", "share_mastered", "gain_per_hour")
HOURS_PER_STEP = 4.0
"""Default hours budget per simulated month for ``hours_to_goal`` (``H = 4 * steps``)."""
_START = pd.Timestamp("2025-08-01", tz="UTC")
_DAY = pd.Timedelta(days=1)
_STEP_DAYS = 30

MasteryEstimator = Callable[..., pd.DataFrame]
"""``estimate(evidence_so_far) -> mastery_long``; an estimator with a ``completions`` parameter
also gets the completed activities so far (``educator_id, activity_id, completed_at``), one with
an ``educators`` parameter the educators' profiles (the population's ``educators`` frame)."""


def smoothed_mastery(evidence: pd.DataFrame, *, now=None, half_life_days: float = 60.0,
                     prior: tuple[float, float] = (1.0, 1.0)) -> pd.DataFrame:
    """Smoothed, recency-weighted share of proficient records per (educator, competency).

    Returns a long frame ``educator_id, competency_id, p_mastery, n_evidence`` (pairs with
    evidence only; the ranker treats the others as cold).
    """
    if evidence.empty:
        return pd.DataFrame(columns=["educator_id", "competency_id", "p_mastery", "n_evidence"])
    t = pd.to_datetime(evidence["observed_at"], utc=True)
    now = t.max() if now is None else pd.Timestamp(now)
    age = ((now - t) / _DAY).to_numpy(float)
    w = 0.5 ** (np.maximum(age, 0) / half_life_days)
    frame = pd.DataFrame({
        "educator_id": evidence["educator_id"].to_numpy(object),
        "competency_id": evidence["competency_id"].to_numpy(object),
        "w": w,
        "wp": w * evidence["proficient"].to_numpy(bool),
        "n": 1,
    })
    g = frame.groupby(["educator_id", "competency_id"], sort=True).sum()
    a, b = prior
    return pd.DataFrame({
        "educator_id": g.index.get_level_values(0).to_numpy(object),
        "competency_id": g.index.get_level_values(1).to_numpy(object),
        "p_mastery": (a + g["wp"].to_numpy()) / (a + b + g["w"].to_numpy()),
        "n_evidence": g["n"].to_numpy(np.int64),
    })


def _wide(long: pd.DataFrame, educators: np.ndarray, comps: Sequence[str],
          column: str, fill: float) -> np.ndarray:
    out = np.full((len(educators), len(comps)), fill)
    if len(long):
        r = pd.Index(educators).get_indexer(long["educator_id"])
        c = pd.Index(list(comps)).get_indexer(long["competency_id"])
        keep = (r >= 0) & (c >= 0)
        out[r[keep], c[keep]] = long[column].to_numpy(float)[keep]
    return out


def _long(p: np.ndarray, educators: np.ndarray, comps: Sequence[str]) -> pd.DataFrame:
    n_e, n_c = p.shape
    return pd.DataFrame({
        "educator_id": np.repeat(educators, n_c),
        "competency_id": np.tile(np.asarray(comps, dtype=object), n_e),
        "p_mastery": np.clip(p.ravel(), 0.0, 1.0),
    })


def model_mastery(predictor) -> MasteryEstimator:
    """An estimator backed by a trained mastery model (the engine's own).

    ``predictor`` is a :class:`recommender.models.predictor.MasteryPredictor` (anything with its
    ``mastery(evidence, educator_ids=, as_of=, completions=, educators=)`` method): every step,
    P(mastery) of every competency is predicted from the evidence, the completed activities so
    far and the educators' profiles, as the API serves it (it passes the completions recorded
    as feedback, the model's ``dose_`` features, without which every learning activity looks as
    if it never happened; and the stored profiles, the model's ``prof_`` features).
    """

    def estimate(evidence: pd.DataFrame, completions: pd.DataFrame | None = None,
                 educators: pd.DataFrame | None = None) -> pd.DataFrame:
        as_of = evidence["observed_at"].max() + pd.Timedelta(seconds=1)
        ids = pd.unique(evidence["educator_id"])
        return predictor.mastery(evidence, educator_ids=ids, as_of=as_of,
                                 completions=completions, educators=educators)

    return estimate


def graph_mastery(graph: nx.DiGraph, *, strength: float = 2.0, **smooth_kwargs
                  ) -> MasteryEstimator:
    """An estimator: :func:`smoothed_mastery`, shrunk towards the graph's prerequisites.

    In topological order, ``p[c] = (n[c] * s[c] + strength * prior[c]) / (n[c] + strength)``
    with ``s`` the smoothed share, ``n`` the number of evidence records and ``prior[c]``
    the mean of ``p`` over the direct prerequisites of ``c`` (0.5 for a root): a competency with
    little evidence is assumed about as mastered as what it builds on.
    """
    comps = list(nx.lexicographical_topological_sort(graph))
    preds = [[comps.index(q) for q in graph.predecessors(c)] for c in comps]

    def estimate(evidence: pd.DataFrame) -> pd.DataFrame:
        base = smoothed_mastery(evidence, **smooth_kwargs)
        educators = np.asarray(sorted(set(base["educator_id"])), dtype=object)
        s = _wide(base, educators, comps, "p_mastery", 0.5)
        n = _wide(base, educators, comps, "n_evidence", 0.0)
        p = np.empty_like(s)
        for j, ps in enumerate(preds):  # loop over competencies, vectorized over educators
            prior = p[:, ps].mean(axis=1) if ps else np.full(len(educators), 0.5)
            p[:, j] = (n[:, j] * s[:, j] + strength * prior) / (n[:, j] + strength)
        return _long(p, educators, comps)

    return estimate


def _evidence_frame(parts: list[tuple[np.ndarray, ...]], educators: np.ndarray,
                    comps: Sequence[str]) -> pd.DataFrame:
    e, c, s, prof, step, norm = (np.concatenate(x) for x in zip(*parts, strict=True))
    return pd.DataFrame({
        "evidence_id": np.char.add("sim", np.arange(len(e)).astype(str)).astype(object),
        "educator_id": educators[e],
        "competency_id": np.asarray(comps, dtype=object)[c],
        "source": np.asarray(SOURCES, dtype=object)[s],
        "score_norm": norm,
        "proficient": prof,
        "observed_at": _START + pd.to_timedelta(step * _STEP_DAYS, unit="D"),
    })


def _completions_frame(parts: list[tuple[np.ndarray, ...]], educators: np.ndarray,
                      act_ids: np.ndarray) -> pd.DataFrame:
    """Completed activities so far; an activity accepted at a step is completed at its time."""
    if not parts:
        return pd.DataFrame({"educator_id": pd.Series([], dtype=object),
                             "activity_id": pd.Series([], dtype=object),
                             "completed_at": pd.Series([], dtype="datetime64[ns, UTC]")})
    e, a, step = (np.concatenate(x) for x in zip(*parts, strict=True))
    return pd.DataFrame({
        "educator_id": educators[e],
        "activity_id": act_ids[a],
        "completed_at": _START + pd.to_timedelta(step * _STEP_DAYS, unit="D"),
    })


def _extra_inputs(estimate: MasteryEstimator) -> frozenset[str]:
    """Which of ``completions`` and ``educators`` the estimator takes."""
    try:
        params = inspect.signature(estimate).parameters
    except (TypeError, ValueError):
        return frozenset()
    return frozenset({"completions", "educators"} & set(params))


def _rank_first(graph, catalog, act_index: pd.Index, mastery_long: pd.DataFrame,
                educators: np.ndarray, goals: list[tuple[str, ...]], completed: np.ndarray,
                k: int, act_ids: np.ndarray, index) -> np.ndarray:
    """First recommendation of ``rank_batch`` for each educator (-1 when none)."""
    contexts = {
        e: EducatorContext(goals=g, completed=act_ids[np.flatnonzero(done)])
        for e, g, done in zip(educators, goals, completed, strict=True)
    }
    ranked = rank_batch(graph, catalog, mastery_long, contexts=contexts,
                        request=RankingRequest(k=k), index=index)
    first = ranked[ranked["rank"] == 1]
    out = np.full(len(educators), -1, dtype=np.int64)
    rows = pd.Index(educators).get_indexer(first["educator_id"])
    out[rows] = act_index.get_indexer(first["activity_id"])
    return out


class _PathwayRule:
    """The first step of :func:`recommender.pathway.plan_pathway` for many educators at once.

    For each educator: the unmastered (``p < threshold``) goals and prerequisites of goals; the
    first of them in the order of ``lexicographical_topological_sort`` of that subgraph that
    has an activity not yet completed; its activity with the highest ``g / log1p(hours)``
    (catalog prior gains), ties by smallest id. When every goal and prerequisite looks mastered
    the plan is empty; the rule then keeps practising the goals (the pathway to them with the
    threshold ignored) rather than stopping on an estimate. -1 when no activity is left.
    Vectorized over educators; the loop runs over competencies skipped because none of their
    activities is left (rarely more than one pass).
    """

    def __init__(self, graph: nx.DiGraph, catalog: Catalog, comps: Sequence[str],
                 acts, threshold: float):
        self.threshold = threshold
        pos = {c: j for j, c in enumerate(comps)}
        n_c = len(comps)
        self.adj = np.zeros((n_c, n_c))  # [q, c] = 1 for an edge q -> c
        self.anc = np.zeros((n_c, n_c), dtype=bool)  # [g, c]: c is an ancestor of g
        for c in comps:
            for q in graph.predecessors(c):
                self.adj[pos[q], pos[c]] = 1.0
            self.anc[pos[c], [pos[q] for q in nx.ancestors(graph, c)]] = True
        self.id_rank = np.argsort(np.argsort(np.asarray(comps, dtype=str)))
        value = (acts.expected_gain[:, None] * acts.weights) / np.log1p(acts.hours)[:, None]
        targets = acts.weights > 0
        self.value = np.where(targets, value, -np.inf).T  # (C, A)
        self.id_order = np.argsort(np.argsort(acts.activity_ids.astype(str)))  # (A,)

    def __call__(self, p: np.ndarray, goal_cols: np.ndarray, completed: np.ndarray
                 ) -> np.ndarray:
        n, n_c = p.shape
        goal = np.zeros((n, n_c), dtype=bool)
        rows, slots = np.nonzero(goal_cols >= 0)
        goal[rows, goal_cols[rows, slots]] = True
        wanted = (goal | (goal.astype(float) @ self.anc > 0)) & (p < self.threshold)
        looks_done = ~wanted.any(axis=1)
        wanted[looks_done] = goal[looks_done]  # keep practising the goals themselves
        pick = np.full(n, -1, dtype=np.int64)
        todo = wanted.any(axis=1)
        while todo.any():
            r = np.flatnonzero(todo)
            w = wanted[r]
            source = w & ((w.astype(float) @ self.adj) == 0)  # no unmastered prerequisite left
            first = np.argmin(np.where(source, self.id_rank, n_c), axis=1)
            key = np.where(completed[r], -np.inf, self.value[first])
            best = key.max(axis=1)
            has = best > -np.inf
            ties = key == best[:, None]
            choice = np.argmin(np.where(ties, self.id_order, len(self.id_order)), axis=1)
            pick[r[has]] = choice[has]
            wanted[r, first] = False  # planned, or skipped: no activity left for it
            todo[r[has]] = False
            todo &= wanted.any(axis=1)
        return pick


_RULE_THRESHOLD = 0.5
"""Mastery cut of ``graph-rule`` on the smoothed share: proficient more often than not (the
ranker's default of 0.7 is for calibrated P(mastery); one proficient intake reading gives a
smoothed 0.67, so at 0.7 the rule would start every pathway at the framework's roots)."""


def _popularity_order(pop: EducatorPopulation, acts, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    counts = np.zeros(len(acts))
    for _ in range(3):  # three months of self-directed choices by the initial population
        a = choose_activities(pop, acts, rng)
        np.add.at(counts, a[a >= 0], 1)
    return np.lexsort((acts.hours, -counts))


def _run_policy(policy: str, graph, catalog, pop0: EducatorPopulation, *, steps: int,
                seed: int, p_accept: float, k: int, estimate: MasteryEstimator,
                n_random_readings: int, gains: pd.DataFrame | None = None
                ) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    pop = pop0
    acts = catalog_arrays(catalog, pop.competencies)
    act_ids = acts.activity_ids.astype(object)
    act_index = pd.Index(act_ids)
    comps = pop.competencies
    n, n_c, n_a = pop.n_educators, pop.n_competencies, len(acts)
    educators = pop.educator_ids
    goal_sets = [tuple(comps[j] for j in row if j >= 0) for row in pop.goals]
    goal_cols = pop.goals
    prof_at = float(pop.scale["proficient"])
    obs_code = SOURCES.index("observation")
    assess_code = SOURCES.index("activity_assessment")
    popular = _popularity_order(pop0, acts, seed + 1)
    wn = acts.weights / acts.weights.sum(axis=1, keepdims=True)
    index = prepare(graph, catalog, gains if policy == "engine" else None)  # once per policy
    pathway_rule = (_PathwayRule(graph, catalog, comps, acts, _RULE_THRESHOLD)
                    if policy == "graph-rule" else None)

    def goals_met(p: EducatorPopulation) -> np.ndarray:
        th = p.theta[np.arange(n)[:, None], np.maximum(goal_cols, 0)]
        return np.where(goal_cols >= 0, th >= 0, True).all(axis=1)

    def read(p, e, c, src, step):
        score = observe(p, c, src, rng, educator_idx=e)
        low, high = source_scales(p, src)
        norm = np.clip((score - low) / (high - low), 0.0, 1.0) * np.ones(len(e))
        return (e, c, np.full(len(e), src), score >= prof_at, np.full(len(e), step), norm)

    # intake: one observation of every competency
    e0 = np.repeat(np.arange(n), n_c)
    c0 = np.tile(np.arange(n_c), n)
    parts = [read(pop, e0, c0, obs_code, 0)]

    completed = np.zeros((n, n_a), dtype=bool)
    done_parts: list[tuple[np.ndarray, ...]] = []  # (educator, activity, step) completions
    extra = _extra_inputs(estimate) if policy == "engine" else frozenset()
    hours = np.zeros(n)
    reached = goals_met(pop)
    hours_at_goal = np.where(reached, 0.0, np.nan)
    for step in range(1, steps + 1):
        if policy in ("random", "popular"):
            key = (rng.random((n, n_a)) if policy == "random"
                   else np.broadcast_to(np.argsort(popular).astype(float), (n, n_a)).copy())
            key[completed] = np.inf
            pick = np.argmin(key, axis=1)
            pick[completed.all(axis=1)] = -1
        elif policy == "weakest-first":
            p = _wide(smoothed_mastery(_evidence_frame(parts, educators, comps)), educators,
                      comps, "p_mastery", 0.5)
            score = (1.0 - p) @ wn.T
            score[completed] = -np.inf
            pick = np.argmax(score, axis=1)
            pick[completed.all(axis=1)] = -1
        elif policy == "graph-rule":
            p = _wide(smoothed_mastery(_evidence_frame(parts, educators, comps)), educators,
                      comps, "p_mastery", 0.5)
            pick = pathway_rule(p, goal_cols, completed)
        else:
            if policy == "oracle":
                mastery = _long(true_mastery(pop), educators, comps)
            elif policy == "engine-no-model":
                mastery = smoothed_mastery(_evidence_frame(parts, educators, comps))
            else:
                evidence = _evidence_frame(parts, educators, comps)
                kw = {}
                if "completions" in extra:
                    kw["completions"] = _completions_frame(done_parts, educators, act_ids)
                if "educators" in extra:
                    kw["educators"] = pop0.educators
                mastery = estimate(evidence, **kw)
            pick = _rank_first(graph, catalog, act_index, mastery, educators, goal_sets,
                               completed, k, act_ids, index)
        accept = (pick >= 0) & (rng.random(n) < p_accept)
        act = np.where(accept, pick, -1)
        after = pop.with_theta(apply_activities(pop, act, acts, rng))
        doers = np.flatnonzero(act >= 0)
        completed[doers, act[doers]] = True
        done_parts.append((doers, act[doers], np.full(len(doers), step)))
        hours[doers] += acts.hours[act[doers]]

        # evidence: assessment of every target of the accepted activity, and random observations
        te, tc = np.nonzero(acts.weights[np.maximum(act, 0)] > 0)
        keep = act[te] >= 0
        parts.append(read(after, te[keep], tc[keep], assess_code, step))
        re = np.repeat(np.arange(n), n_random_readings)
        rc = rng.integers(0, n_c, len(re))
        parts.append(read(after, re, rc, obs_code, step))

        pop = after.with_theta(drift(after, rng))
        now = goals_met(pop) & ~reached
        hours_at_goal[now] = hours[now]
        reached |= now

    gained = (true_mastery(pop) - true_mastery(pop0)).sum(axis=1)
    return {"reached": reached, "hours_at_goal": hours_at_goal, "gained": gained,
            "hours": hours}


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


def _metrics(r: dict[str, np.ndarray], idx: np.ndarray, hours_budget: float) -> np.ndarray:
    """Metrics of the educators ``idx`` (rows of resamples, or one row)."""
    reached = r["reached"][idx]
    hours_to_goal = restricted_mean_hours(reached, r["hours_at_goal"][idx], hours_budget)
    with np.errstate(invalid="ignore", divide="ignore"):
        gain_per_hour = r["gained"][idx].sum(axis=-1) / r["hours"][idx].sum(axis=-1)
    return np.stack([hours_to_goal, reached.mean(axis=-1), gain_per_hour], axis=-1)


def simulate_policies(
    graph: nx.DiGraph,
    catalog: Catalog,
    policies: Sequence[str] = POLICIES,
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
        Names from :data:`POLICIES`.
    n_educators, steps : int >= 1
    random_state : int, default=0
        Same seed, same table.
    p_accept : float in [0, 1], default=0.7
    k : int >= 1, default=3
        Recommendations per step (only the first can be accepted).
    estimate : callable, optional
        ``estimate(evidence_so_far) -> mastery_long`` used by the ``engine`` policy; default
        :func:`graph_mastery`.
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
    estimate = graph_mastery(graph) if estimate is None else estimate
    pop0 = initial_population(graph, int(n_educators), random_state=random_state)
    boot_rng = np.random.default_rng(random_state + 7919)
    boot_idx = boot_rng.integers(0, pop0.n_educators, (n_boot, pop0.n_educators))
    rows = []
    for policy in policies:
        r = _run_policy(policy, graph, catalog, pop0, steps=int(steps),
                        seed=random_state + 1, p_accept=p_accept, k=int(k),
                        estimate=estimate, n_random_readings=n_random_readings, gains=gains)
        point = _metrics(r, np.arange(pop0.n_educators), hours_budget)
        boot = _metrics(r, boot_idx, hours_budget)
        lo = np.nanpercentile(boot, 2.5, axis=0)
        hi = np.nanpercentile(boot, 97.5, axis=0)
        row = {"policy": policy}
        for j, m in enumerate(METRICS):
            row[m] = point[j]
            row[f"{m}_ci_low"] = lo[j]
            row[f"{m}_ci_high"] = hi[j]
        row["total_hours"] = float(r["hours"].sum())
        row["n_educators"] = pop0.n_educators
        row["steps"] = int(steps)
        row["hours_budget"] = hours_budget
        rows.append(row)
    return pd.DataFrame(rows)


def plot_policies(table: pd.DataFrame, path) -> Path:
    """Save a PNG with one bar chart per metric (95% bootstrap error bars); return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    budget = float(table["hours_budget"].iloc[0])
    titles = {"hours_to_goal": f"hours to goal (restricted mean; not reached = {budget:g} h)",
              "share_mastered": "share with goals mastered within budget",
              "gain_per_hour": "mastery gained per hour"}
    fig, axes = plt.subplots(1, len(METRICS), figsize=(5 * len(METRICS), 4.2))
    x = np.arange(len(table))
    for ax, m in zip(axes, METRICS, strict=True):
        v = table[m].to_numpy(float)
        err = np.vstack([v - table[f"{m}_ci_low"].to_numpy(float),
                         table[f"{m}_ci_high"].to_numpy(float) - v])
        ax.bar(x, v, yerr=np.nan_to_num(np.maximum(err, 0)), capsize=4, color="#4C72B0")
        ax.set_xticks(x, table["policy"], rotation=30, ha="right")
        ax.set_title(titles[m], fontsize=10)
    fig.suptitle(f"Policies on {int(table['n_educators'].iloc[0])} simulated educators, "
                 f"{int(table['steps'].iloc[0])} monthly steps (95% bootstrap CI)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
