"""Off-policy evaluation checked against the simulator's truth.

One decision per simulated educator, as a contextual bandit:

1. **Context.** An initial population (:func:`recommender.simulate.initial_population`) and one
   intake observation of every competency (:func:`recommender.simulate.observe`), as the policy
   simulation starts (:mod:`recommender.evaluation`).
2. **Logging policy.** The engine's ranker on the smoothed evidence share (the
   ``engine-no-model`` policy of :mod:`recommender.policies`) ranks the top ``pool`` activities;
   the product's exploration (:func:`recommender.exploration.explore_batch`) draws the shown
   order; the first slot is the action, logged with its propensity.
3. **Reward.** The educator accepts the first slot with probability ``p_accept``; an accepted
   activity moves the latent skills by :func:`recommender.simulate.apply_activities` (with its
   random gain). The reward is the rise in true P(mastery) (``sigmoid(theta)``), averaged over
   the educator's goal competencies: "how much closer to their goals did this step bring them".
4. **Truth.** For the candidate (any policy of :data:`recommender.policies.POLICIES`) the
   expected reward of its choice for every educator is computed exactly by the simulator:
   ``p_accept`` times the expectation over the gain noise (Gauss-Hermite quadrature with 24
   nodes on the same ``apply_activities``), averaged over the educators. That is the candidate's
   true value on these contexts, the quantity the estimators estimate.

:func:`ope_run` returns, per candidate, the estimates of :mod:`recommender.offpolicy` beside
the truth, and the support: the share of educators whose candidate choice the logging policy could show first
(an estimate is unbiased only where it can).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd
from scipy.special import expit

from recommender.catalog import Catalog
from recommender.estimate import MasteryEstimator
from recommender.evidence import SOURCES
from recommender.exploration import ExplorationPolicy, explore_batch, first_slot_probabilities
from recommender.offpolicy import Estimate, crossfit_mean_reward, observed_value, policy_value
from recommender.policies import POLICIES, PolicySetup, Readings, SimState
from recommender.ranking import EducatorContext, RankingRequest, prepare, rank_batch
from recommender.sim_estimators import engine_estimate, smoothed_mastery
from recommender.simulate import (
    EducatorPopulation,
    SimulationParams,
    apply_activities,
    catalog_arrays,
    initial_population,
    observe,
    source_scales,
)

__all__ = ["OpeRun", "ope_run"]

_OBSERVATION = SOURCES.index("observation")
_QUADRATURE = np.polynomial.hermite_e.hermegauss(24)  # nodes, weights for N(0, 1) (sum sqrt(2 pi))


@dataclass(frozen=True)
class OpeRun:
    """One simulated log and the candidate's estimates beside its true value.

    Attributes
    ----------
    estimates : list of Estimate
        ``ips``, ``snips``, ``dr`` (:func:`recommender.offpolicy.policy_value`).
    logged : Estimate
        The logging policy's observed mean reward.
    truth : float
        The candidate's true value on these contexts.
    logging_truth : float
        The logging policy's true value (its expected reward, averaged over its draws).
    support : float
        Share of educators whose candidate choice the logging policy shows first with
        probability > 0.
    ess : float
        Effective sample size of the importance weights.
    min_propensity : float
        The smallest logged propensity.
    """

    estimates: list[Estimate]
    logged: Estimate
    truth: float
    logging_truth: float
    support: float
    ess: float
    min_propensity: float

    def covered(self) -> dict[str, bool]:
        """Whether each estimator's interval contains the truth."""
        return {e.estimator: bool(e.low <= self.truth <= e.high) for e in self.estimates}


def _intake(pop: EducatorPopulation, rng: np.random.Generator) -> Readings:
    """One observation of every (educator, competency), scored as the policy simulation does."""
    n, n_c = pop.n_educators, pop.n_competencies
    e, c = np.repeat(np.arange(n), n_c), np.tile(np.arange(n_c), n)
    score = observe(pop, c, _OBSERVATION, educator_idx=e, noise=rng.standard_normal(n * n_c))
    low, high = source_scales(pop, _OBSERVATION)
    norm = np.clip((score - low) / (high - low), 0.0, 1.0) * np.ones(len(e))
    proficient = score >= float(pop.scale["proficient"])
    fields = {"educator": e, "competency": c, "source": np.full(len(e), _OBSERVATION),
              "proficient": proficient, "step": np.zeros(len(e), int), "score_norm": norm,
              "rater": np.full(len(e), -1)}  # no rater named: the check reads no severity
    return Readings(**{k: fields[k] for k in Readings._fields})


def _goal_gain(pop: EducatorPopulation, theta_after: np.ndarray) -> np.ndarray:
    """Rise in true P(mastery) averaged over each educator's goals (0 without goals)."""
    rows = np.arange(pop.n_educators)[:, None]
    cols = np.maximum(pop.goals, 0)
    rise = expit(theta_after[rows, cols]) - expit(pop.theta[rows, cols])
    valid = pop.goals >= 0
    count = valid.sum(axis=1)
    return np.where(count > 0, np.where(valid, rise, 0.0).sum(axis=1) / np.maximum(count, 1), 0.0)


def expected_goal_gain(pop: EducatorPopulation, act: np.ndarray, acts, p_accept: float
                       ) -> np.ndarray:
    """Each educator's expected reward of doing ``act`` (-1: nothing), exactly: ``p_accept``
    times the expectation over the gain noise, by Gauss-Hermite quadrature."""
    nodes, weights = _QUADRATURE
    out = np.zeros(pop.n_educators)
    for z, w in zip(nodes, weights / weights.sum(), strict=True):  # 24 nodes, not records
        theta = apply_activities(pop, act, acts, noise=np.full(pop.n_educators, z))
        out += w * _goal_gain(pop, theta)
    return p_accept * out


def _ranked_pool(graph: nx.DiGraph, catalog: Catalog, state: SimState, goals: list[tuple],
                 pool: int, activity_index: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """The logging ranker's top ``pool`` per educator: scores (NaN padded) and activity codes."""
    educators = state.population.educator_ids
    contexts = {e: EducatorContext(goals=g) for e, g in zip(educators, goals, strict=True)}
    ranked = rank_batch(graph, catalog, smoothed_mastery(state.evidence), contexts=contexts,
                        request=RankingRequest(k=pool), index=prepare(graph, catalog))
    n = len(educators)
    scores, codes = np.full((n, pool), np.nan), np.full((n, pool), -1, dtype=np.int64)
    row = pd.Index(educators).get_indexer(ranked["educator_id"])
    col = ranked["rank"].to_numpy(int) - 1
    scores[row, col] = ranked["score"].to_numpy(float)
    codes[row, col] = activity_index.get_indexer(ranked["activity_id"])
    return scores, codes


def ope_run(graph: nx.DiGraph, catalog: Catalog, *, n_educators: int, seed: int,
            exploration: ExplorationPolicy, candidates: Sequence[str] = ("engine",),
            pool: int = 8, p_accept: float = 0.7, params: SimulationParams | None = None
            ) -> dict[str, OpeRun]:
    """Simulate a logged bandit under ``exploration`` and estimate each of ``candidates`` on
    the same log (module docstring). Everything random derives from ``seed``."""
    unknown = [c for c in candidates if c not in POLICIES]
    if unknown:
        raise ValueError(f"candidates must be among {sorted(POLICIES)}; got {unknown}")
    if exploration.mode == "off":
        raise ValueError("exploration must explore (softmax or epsilon): with 'off' no other "
                         "policy's choices have support")
    pop = initial_population(graph, int(n_educators), params=params, random_state=seed)
    acts = catalog_arrays(catalog, pop.competencies)
    rng = np.random.default_rng([seed, 0x0FF])
    state = SimState(1, pop, acts, np.zeros((pop.n_educators, len(acts)), bool),
                     [_intake(pop, rng)], [])
    goals = [tuple(pop.competencies[j] for j in row if j >= 0) for row in pop.goals]
    index = pd.Index(acts.activity_ids.astype(object))
    scores, codes = _ranked_pool(graph, catalog, state, goals, pool, index)
    order, prop = explore_batch(scores, exploration, rng)
    rows = np.arange(pop.n_educators)
    shown = np.where(order[:, 0] >= 0, codes[rows, np.maximum(order[:, 0], 0)], -1)
    has = shown >= 0
    # the world: acceptance and the gain noise of the shown activity
    accept = rng.random(pop.n_educators) < p_accept
    theta = apply_activities(pop, np.where(accept, shown, -1), acts,
                             noise=rng.standard_normal(pop.n_educators))
    reward = _goal_gain(pop, theta)[has]
    first = first_slot_probabilities(scores, exploration)
    logging_truth = float(np.nansum(first * _pool_values(pop, codes, acts, p_accept), axis=1)
                          [has].mean())
    setup = PolicySetup(graph=graph, catalog=catalog, population=pop, activities=acts, k=pool,
                        estimate=engine_estimate(MasteryEstimator(graph, catalog)), gains=None,
                        seed=seed)
    out = {}
    for name in candidates:  # a handful of policies, not records
        chosen = POLICIES[name](setup).choose(state)
        support = ((codes == chosen[:, None]) & (first > 0)).any(axis=1)
        q_logged, q_target = crossfit_mean_reward(shown[has], reward,
                                                  np.where(chosen >= 0, chosen, None)[has],
                                                  seed=seed)
        estimates, ess = policy_value(reward, prop[has, 0], (chosen == shown)[has],
                                      q_logged=q_logged, q_target=q_target)
        truth = expected_goal_gain(pop, chosen, acts, p_accept)[has]
        out[name] = OpeRun(estimates, observed_value(reward), float(truth.mean()),
                           logging_truth, float(support[has].mean()), ess,
                           float(prop[has, 0].min()))
    return out


def _pool_values(pop: EducatorPopulation, codes: np.ndarray, acts, p_accept: float
                 ) -> np.ndarray:
    """The expected reward of every pool slot (NaN where padded), one column at a time."""
    out = np.full(codes.shape, np.nan)
    for j in range(codes.shape[1]):  # pool slots, not records
        col = codes[:, j]
        out[:, j] = np.where(col >= 0, expected_goal_gain(pop, col, acts, p_accept), np.nan)
    return out
