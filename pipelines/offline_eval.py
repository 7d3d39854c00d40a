"""Off-policy evaluation of a candidate on a tenant's recommendation log (``pdrec evaluate-offline``).

1. Read the tenant's log, feedback, evidence and goals from the store.
2. Build the logged bandit (:func:`recommender.offpolicy_data.logged_bandit`): the first slot of
   every ranked answer, its logged propensity, reward 1 when the educator completed (or, on
   request, accepted) that activity within the window.
3. Replay the candidate on every logged context: the educator as of ``shown_at`` (evidence
   observed before it, feedback before it, their goals), the candidate's estimator and ranker,
   its first recommendation. Candidates: a registered model version of ``mastery`` (its
   predictor, learned gains and rater severity, as the API would serve it) or ``no-model`` (the
   evidence-only estimator and the catalog's prior gains, the API's fallback).
4. Estimate (:func:`recommender.offpolicy.policy_value`): IPS, SNIPS, and DR with a cross-fitted
   per-activity mean reward, each with its 95% interval, beside the logging policy's observed
   value.

The replay does not know a request's own filters (``available``, ``formats``, ``max_hours``):
they are not logged, so the candidate ranks the whole catalog; where the logging answer was
filtered the candidate may pick what the caller excluded (the match rate shows how often the
candidate agrees). The replay runs once per distinct ``shown_at`` (one request), each an
estimate for the educators of that request: a log of many thousands of requests takes minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd

from recommender.catalog import Catalog
from recommender.estimate import MasteryEstimator
from recommender.offpolicy import Estimate, crossfit_mean_reward, observed_value, policy_value
from recommender.offpolicy_data import DEFAULT_WINDOW, LoggedBandit, logged_bandit
from recommender.ranking import RankingIndex, RankingRequest, prepare, rank_batch
from recommender.serving import completions_from_feedback, feedback_context
from recommender.store import Store

__all__ = ["NO_MODEL", "Candidate", "OfflineReport", "candidate_actions", "estimate_candidate",
           "evaluate_offline", "load_candidate"]

NO_MODEL = "no-model"
"""The candidate name of the evidence-only engine (no mastery model, prior gains)."""


@dataclass(frozen=True, eq=False)
class Candidate:
    """A policy to replay: its name, its mastery estimator and its ranking index."""

    name: str
    estimator: MasteryEstimator
    index: RankingIndex


@dataclass(frozen=True)
class OfflineReport:
    """What ``pdrec evaluate-offline`` prints: estimates beside the logging policy's value."""

    tenant: str
    candidate: str
    records: int
    matches: int
    ess: float
    logged: Estimate
    estimates: list[Estimate]
    skipped: dict[str, int] = field(default_factory=dict)
    logging_policies: list[str] = field(default_factory=list)


def load_candidate(name: str, graph: nx.DiGraph, catalog: Catalog,
                   load_version: Callable[[str], object] | None = None) -> Candidate:
    """``no-model``, or a registered version through ``load_version(version)`` (returning a
    :class:`pipelines.tracking.Champion`-like bundle with ``predictor``, ``gains``,
    ``severity``)."""
    if name == NO_MODEL:
        return Candidate(NO_MODEL, MasteryEstimator(graph, catalog), prepare(graph, catalog))
    if not name.isdigit():
        raise ValueError(f"candidate must be a registered model version (a number) or "
                         f"{NO_MODEL!r}; got {name!r}")
    if load_version is None:
        raise ValueError("a model version needs load_version (the MLflow registry)")
    bundle = load_version(name)
    severity = (None if bundle.severity is None
                else bundle.severity.set_index("rater_id")["severity"])
    estimator = MasteryEstimator(graph, catalog, predictor=bundle.predictor, gains=bundle.gains,
                                 severity=severity)
    return Candidate(f"mastery v{name}", estimator, prepare(graph, catalog, bundle.gains))


def _goals(educators: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """Goals per educator from ``educators_frame`` (``goals`` joined by ``|``)."""
    split = educators["goals"].fillna("").astype(str).str.split("|")
    return {e: tuple(g for g in gs if g) for e, gs in zip(educators["educator_id"], split,
                                                          strict=True)}


def candidate_actions(bandit: pd.DataFrame, evidence: pd.DataFrame, feedback: pd.DataFrame,
                      goals: Mapping[str, tuple[str, ...]], graph: nx.DiGraph,
                      catalog: Catalog, candidate: Candidate, *, decline_days: float = 90.0
                      ) -> np.ndarray:
    """The candidate's first recommendation for every logged record (None: nothing to show),
    from what was known at its ``shown_at`` only (strictly earlier evidence and feedback)."""
    out = np.full(len(bandit), None, dtype=object)
    at = pd.to_datetime(evidence["observed_at"], utc=True)
    fb_at = pd.to_datetime(feedback["at"], utc=True)
    done = completions_from_feedback(feedback)
    request = RankingRequest(k=1)
    for t, rows in bandit.groupby("shown_at", sort=True).groups.items():  # one per request
        ids = list(dict.fromkeys(bandit.loc[rows, "educator_id"]))
        ev = evidence[evidence["educator_id"].isin(ids) & (at < t)]
        comp = done[done["educator_id"].isin(ids) & (done["completed_at"] < t)]
        mastery = candidate.estimator.estimate(ev, ids, as_of=t, completions=comp)
        fb = feedback[feedback["educator_id"].isin(ids) & (fb_at < t)]
        by_e = dict(tuple(fb.groupby("educator_id")))
        contexts = {e: feedback_context(by_e.get(e, fb.iloc[:0]), goals=goals.get(e, ()),
                                        now=t, decline_days=decline_days) for e in ids}
        ranked = rank_batch(graph, catalog, mastery, contexts=contexts, request=request,
                            index=candidate.index)
        first = ranked[ranked["rank"] == 1].set_index("educator_id")["activity_id"]
        out[np.asarray(rows)] = bandit.loc[rows, "educator_id"].map(first).to_numpy(object)
    return np.where(pd.isna(out), None, out)


def estimate_candidate(bandit: LoggedBandit, chosen: np.ndarray, *, tenant: str,
                       candidate: str, level: float = 0.95) -> OfflineReport:
    """IPS, SNIPS and DR of the candidate's choices on the logged records."""
    data = bandit.data
    if data.empty:
        raise ValueError(f"tenant {tenant!r} has no logged ranked answers with propensities "
                         f"(skipped: {bandit.skipped or 'none'}); serve with PDREC_EXPLORE="
                         "softmax or epsilon to log them")
    reward = data["reward"].to_numpy(float)
    match = (chosen == data["activity_id"].to_numpy(object)).astype(float)
    q_logged, q_target = crossfit_mean_reward(data["activity_id"].to_numpy(object), reward,
                                              chosen)
    estimates, ess = policy_value(reward, data["propensity"].to_numpy(float), match,
                                  q_logged=q_logged, q_target=q_target, level=level)
    return OfflineReport(tenant=tenant, candidate=candidate, records=len(data),
                         matches=int(match.sum()), ess=ess,
                         logged=observed_value(reward, level=level), estimates=estimates,
                         skipped=bandit.skipped,
                         logging_policies=sorted(data["policy"].dropna().unique().tolist()))


def evaluate_offline(store: Store, tenant: str, candidate: Candidate, graph: nx.DiGraph,
                     catalog: Catalog, educators: pd.DataFrame, *,
                     window: pd.Timedelta = DEFAULT_WINDOW,
                     events: tuple[str, ...] = ("completed",)) -> OfflineReport:
    """Read the tenant's log and outcomes from ``store`` and estimate ``candidate`` on them."""
    log = store.recommendation_log(tenant)
    ids = sorted(set(log["educator_id"]))
    feedback = store.feedback_frame(tenant, ids)
    bandit = logged_bandit(log, feedback, window=window, events=events)
    if bandit.data.empty:
        return estimate_candidate(bandit, np.array([], dtype=object), tenant=tenant,
                                  candidate=candidate.name)
    evidence = store.evidence_frame(tenant, ids)
    evidence = evidence[evidence["competency_id"].isin(list(graph))]
    chosen = candidate_actions(bandit.data, evidence, feedback, _goals(educators), graph,
                               catalog, candidate)
    return estimate_candidate(bandit, chosen, tenant=tenant, candidate=candidate.name)
