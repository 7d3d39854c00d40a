"""The policies the simulator compares, behind one protocol (:class:`Policy`) and a registry.

A policy is built once per simulation from a :class:`PolicySetup` (framework, catalog, the
initial population, the engine's estimator and gains) and then asked, every step, to
``choose(state)`` one activity per educator from a :class:`SimState` (the evidence, completed
activities and, for the oracle only, the latent truth). :data:`POLICIES` maps each name to its
class; :mod:`recommender.evaluation` runs them.

Policies (all but ``oracle`` see only evidence and goals)
---------------------------------------------------------
``random``          a uniformly random not-yet-completed activity.
``popular``         a fixed order: how often the simulator's own self-directed choice model
                    (:func:`recommender.simulate.choose_activities`, softmax on need and goals)
                    picks each activity for the initial population, i.e. what educators choose
                    for themselves; ties by fewer hours.
``weakest-first``   activities ranked by the weight-averaged ``1 - p`` of their targets, ``p`` the
                    smoothed evidence estimate (:func:`recommender.sim_estimators.smoothed_mastery`);
                    no graph, no goals.
``pathway-rule``    the graph without the model: the first step of the product's own pathway
                    (:func:`recommender.pathway.plan_pathway`) on the smoothed evidence
                    estimate, i.e. the first unmastered goal or prerequisite of a goal in
                    topological order and its activity with the most prior gain per log-hour
                    (:class:`PathwayRule`; mastered here means a smoothed share >= 0.5, and when
                    nothing looks unmastered it keeps practising the goals). What a coach with
                    the framework and the evidence, but no engine, would do. (Called
                    ``graph-rule`` before 2026-11-24; that name is the API's fallback estimator.)
``engine-no-model`` an ablation: the engine's ranker (:func:`recommender.ranking.rank_batch`:
                    need, readiness, goal hours saved, catalog prior gains) on the smoothed
                    evidence estimate instead of a mastery model. ``engine`` minus this is what
                    the model and the learned gains add.
``engine``          ``rank_batch`` on the setup's ``estimate`` callable; with ``gains`` (the
                    champion's learned gain posteriors) the ranker uses their posterior means
                    instead of the catalog prior gains. An ``estimate`` with a ``completions``
                    parameter also gets the activities completed so far, as the API passes the
                    completions recorded as feedback, and one with an ``educators`` parameter
                    the profiles, as the API passes the stored ones.
``oracle``          ``rank_batch`` on the latent ``true_mastery``.
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple, Protocol

import networkx as nx
import numpy as np
import pandas as pd

from recommender.catalog import Catalog
from recommender.evidence import SOURCES
from recommender.ranking import (
    COLD_START_P,
    EducatorContext,
    RankingRequest,
    prepare,
    rank_batch,
)
from recommender.raters import fit_rater_severity
from recommender.sim_estimators import (
    EstimateFn,
    estimator_inputs,
    long_mastery,
    smoothed_mastery,
    wide_mastery,
)
from recommender.simulate import (
    CatalogArrays,
    EducatorPopulation,
    choose_activities,
    true_mastery,
)

__all__ = [
    "POLICIES",
    "PathwayRule",
    "Policy",
    "PolicySetup",
    "Readings",
    "SimState",
]

SIM_START = pd.Timestamp("2025-08-01", tz="UTC")
"""The time of step 0 in the evidence a policy sees; step ``s`` is ``s * STEP_DAYS`` later."""
STEP_DAYS = 30
_POLICY_STREAM = 0x9011C7  # tags the policies' own random streams apart from the world's

RULE_THRESHOLD = 0.5
"""Mastery cut of ``pathway-rule`` on the smoothed share: proficient more often than not (the
ranker's default of 0.7 is for calibrated P(mastery); one proficient intake reading gives a
smoothed 0.67, so at 0.7 the rule would start every pathway at the framework's roots)."""


class Readings(NamedTuple):
    """Evidence readings of one step as parallel arrays (codes into the population's order)."""

    educator: np.ndarray
    competency: np.ndarray
    source: np.ndarray
    proficient: np.ndarray
    step: np.ndarray
    score_norm: np.ndarray
    rater: np.ndarray  # index into the population's raters, -1 when no rater is named


class Completions(NamedTuple):
    """Activities completed at one step: educator and activity codes."""

    educator: np.ndarray
    activity: np.ndarray
    step: np.ndarray


@dataclass(frozen=True, eq=False)
class PolicySetup:
    """What every policy is built from, once per simulation.

    Attributes
    ----------
    graph, catalog
        Framework and activity catalog.
    population : EducatorPopulation
        The educators at the start (profiles, goals; the oracle reads the truth only through
        :attr:`SimState.population`).
    activities : CatalogArrays
        The catalog on the population's competency order.
    k : int
        Recommendations asked of the ranker (only the first can be accepted).
    estimate : callable
        The ``engine`` policy's mastery estimator.
    gains : DataFrame or None
        Learned gain posteriors for the ``engine`` policy's ranker.
    seed : int
        Seed of the simulation; a policy that draws random numbers takes them from its own
        stream (:meth:`policy_rng`), never from the world's.
    """

    graph: nx.DiGraph
    catalog: Catalog
    population: EducatorPopulation
    activities: CatalogArrays
    k: int
    estimate: EstimateFn
    gains: pd.DataFrame | None
    seed: int

    def policy_rng(self, name: str) -> np.random.Generator:
        """The random stream of policy ``name``: a function of the seed and the name only, apart
        from the world's streams (common random numbers, :mod:`recommender.evaluation`)."""
        return np.random.default_rng([self.seed, _POLICY_STREAM, zlib.crc32(name.encode())])


@dataclass(eq=False)
class SimState:
    """What a policy may see at one step.

    ``population`` holds the latent truth now: only the oracle reads it. The evidence and the
    completions so far are built as frames on first use (:attr:`evidence`, :attr:`completions`).
    """

    step: int
    population: EducatorPopulation
    activities: CatalogArrays
    completed: np.ndarray
    readings: Sequence[Readings]
    completion_log: Sequence[Completions]

    @cached_property
    def evidence(self) -> pd.DataFrame:
        """All readings so far: evidence_id, educator_id, competency_id, source, score_norm,
        proficient, observed_at (step ``s`` at ``SIM_START + s * STEP_DAYS``), rater_id (the
        evaluator ``R00001``... of an observation, as the generator names them; None without)."""
        e, c, s, prof, step, norm, rater = (np.concatenate(x)
                                            for x in zip(*self.readings, strict=True))
        labels = np.array([f"R{i + 1:05d}" for i in range(len(self.population.rater_bias))]
                          + [None], dtype=object)
        return pd.DataFrame({
            "evidence_id": np.char.add("sim", np.arange(len(e)).astype(str)).astype(object),
            "educator_id": self.population.educator_ids[e],
            "competency_id": np.asarray(self.population.competencies, dtype=object)[c],
            "source": np.asarray(SOURCES, dtype=object)[s],
            "score_norm": norm,
            "proficient": prof,
            "observed_at": SIM_START + pd.to_timedelta(step * STEP_DAYS, unit="D"),
            "rater_id": labels[rater],
        })

    @cached_property
    def completions(self) -> pd.DataFrame:
        """Activities completed so far: educator_id, activity_id, completed_at (the time of the
        step they were accepted at)."""
        if not self.completion_log:
            return pd.DataFrame({"educator_id": pd.Series([], dtype=object),
                                 "activity_id": pd.Series([], dtype=object),
                                 "completed_at": pd.Series([], dtype="datetime64[ns, UTC]")})
        e, a, step = (np.concatenate(x) for x in zip(*self.completion_log, strict=True))
        return pd.DataFrame({
            "educator_id": self.population.educator_ids[e],
            "activity_id": self.activities.activity_ids.astype(object)[a],
            "completed_at": SIM_START + pd.to_timedelta(step * STEP_DAYS, unit="D"),
        })

    def smoothed(self) -> np.ndarray:
        """The smoothed evidence share as an (educators, competencies) array, the cold-start
        value :data:`~recommender.ranking.params.COLD_START_P` (0.5) where none."""
        pop = self.population
        return wide_mastery(smoothed_mastery(self.evidence), pop.educator_ids, pop.competencies,
                            "p_mastery", COLD_START_P)


class Policy(Protocol):
    """A recommendation policy: one activity index per educator each step, -1 for none."""

    name: str

    def choose(self, state: SimState) -> np.ndarray: ...


def _best_open(score: np.ndarray, completed: np.ndarray) -> np.ndarray:
    """Per row, the highest-scoring activity not completed (first on ties); -1 when none."""
    score = np.where(completed, -np.inf, score)
    pick = np.argmax(score, axis=1)
    pick[completed.all(axis=1)] = -1
    return pick


class RandomPolicy:
    """A uniformly random activity among those not yet completed."""

    name = "random"

    def __init__(self, setup: PolicySetup):
        self.n_activities = len(setup.activities)
        self.rng = setup.policy_rng(self.name)

    def choose(self, state: SimState) -> np.ndarray:
        n = state.population.n_educators
        return _best_open(self.rng.random((n, self.n_activities)), state.completed)


class PopularPolicy:
    """A fixed order: what the initial population's self-directed choices pick most often
    (three months of :func:`~recommender.simulate.choose_activities`), ties by fewer hours."""

    name = "popular"

    def __init__(self, setup: PolicySetup):
        acts = setup.activities
        rng = setup.policy_rng(self.name)
        counts = np.zeros(len(acts))
        for _ in range(3):  # three months of self-directed choices by the initial population
            a = choose_activities(setup.population, acts, rng)
            np.add.at(counts, a[a >= 0], 1)
        order = np.lexsort((acts.hours, -counts))
        self.score = -np.argsort(order).astype(float)  # earlier in the order scores higher

    def choose(self, state: SimState) -> np.ndarray:
        n = state.population.n_educators
        return _best_open(np.broadcast_to(self.score, (n, len(self.score))), state.completed)


class WeakestFirstPolicy:
    """Activities by the weight-averaged ``1 - p`` of their targets on the smoothed evidence."""

    name = "weakest-first"

    def __init__(self, setup: PolicySetup):
        w = setup.activities.weights
        self.normalized_weights = w / w.sum(axis=1, keepdims=True)

    def choose(self, state: SimState) -> np.ndarray:
        return _best_open((1.0 - state.smoothed()) @ self.normalized_weights.T, state.completed)


class PathwayRule:
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

    def __init__(self, graph: nx.DiGraph, comps: Sequence[str], acts: CatalogArrays,
                 threshold: float):
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


class PathwayRulePolicy:
    """:class:`PathwayRule` on the smoothed evidence share (cut :data:`RULE_THRESHOLD`)."""

    name = "pathway-rule"

    def __init__(self, setup: PolicySetup):
        pop = setup.population
        self.goals = pop.goals
        self.rule = PathwayRule(setup.graph, pop.competencies, setup.activities, RULE_THRESHOLD)

    def choose(self, state: SimState) -> np.ndarray:
        return self.rule(state.smoothed(), self.goals, state.completed)


class _RankerPolicy(ABC):
    """The engine's ranker (:func:`~recommender.ranking.rank_batch`) on some mastery estimate;
    the first recommendation is the choice. Subclasses say which estimate (:meth:`mastery`)."""

    name = ""
    uses_learned_gains = False

    def __init__(self, setup: PolicySetup):
        pop = setup.population
        self.graph, self.catalog = setup.graph, setup.catalog
        self.request = RankingRequest(k=setup.k)  # what every step asks the ranker
        self.index = prepare(setup.graph, setup.catalog,
                             setup.gains if self.uses_learned_gains else None)
        self.activity_ids = setup.activities.activity_ids.astype(object)
        self.activity_index = pd.Index(self.activity_ids)
        self.goal_sets = [tuple(pop.competencies[j] for j in row if j >= 0) for row in pop.goals]

    @abstractmethod
    def mastery(self, state: SimState) -> pd.DataFrame:
        """The mastery estimate (long frame) this policy ranks on."""

    def choose(self, state: SimState) -> np.ndarray:
        educators = state.population.educator_ids
        contexts = {
            e: EducatorContext(goals=g, completed=self.activity_ids[np.flatnonzero(done)])
            for e, g, done in zip(educators, self.goal_sets, state.completed, strict=True)
        }
        ranked = rank_batch(self.graph, self.catalog, self.mastery(state), contexts=contexts,
                            request=self.request, index=self.index)
        first = ranked[ranked["rank"] == 1]
        out = np.full(len(educators), -1, dtype=np.int64)
        rows = pd.Index(educators).get_indexer(first["educator_id"])
        out[rows] = self.activity_index.get_indexer(first["activity_id"])
        return out


class EngineNoModelPolicy(_RankerPolicy):
    """The ranker on the smoothed evidence share, catalog prior gains (an ablation)."""

    name = "engine-no-model"

    def mastery(self, state: SimState) -> pd.DataFrame:
        return smoothed_mastery(state.evidence)


class EnginePolicy(_RankerPolicy):
    """The ranker on the setup's estimator, with the learned gains when given."""

    name = "engine"
    uses_learned_gains = True

    def __init__(self, setup: PolicySetup):
        super().__init__(setup)
        self.estimate = setup.estimate
        self.inputs = estimator_inputs(setup.estimate)
        self.profiles = setup.population.educators
        self.severity: pd.Series | None = None

    def mastery(self, state: SimState) -> pd.DataFrame:
        kw = {}
        if "completions" in self.inputs:
            kw["completions"] = state.completions
        if "educators" in self.inputs:
            kw["educators"] = self.profiles
        if "severity" in self.inputs:
            kw["severity"] = self.observer_severity(state)
        return self.estimate(state.evidence, **kw)

    def observer_severity(self, state: SimState) -> pd.Series:
        """This population's rater severity, fitted once on the evidence of the first step (the
        intake, before any decision; :func:`recommender.raters.fit_rater_severity`), as a
        deployment learns its own observers: the champion's table rates the training cohort's
        raters, not these."""
        if self.severity is None:
            table = fit_rater_severity(state.evidence)
            self.severity = table.set_index("rater_id")["severity"]
        return self.severity


class OraclePolicy(_RankerPolicy):
    """The ranker on the latent truth, ``sigmoid(theta)`` now."""

    name = "oracle"

    def mastery(self, state: SimState) -> pd.DataFrame:
        pop = state.population
        return long_mastery(true_mastery(pop), pop.educator_ids, pop.competencies)


POLICIES: dict[str, Callable[[PolicySetup], Policy]] = {
    cls.name: cls
    for cls in (RandomPolicy, PopularPolicy, WeakestFirstPolicy, PathwayRulePolicy,
                EngineNoModelPolicy, EnginePolicy, OraclePolicy)
}
"""Every policy by name, in the order tables show them; ``POLICIES[name](setup)`` builds one."""
