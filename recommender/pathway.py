"""Multi-step pathway to goal competencies.

A pathway is the **unmastered prerequisite closure** of the goals
(:func:`recommender.graph.prerequisite_closure`: the goals and every prerequisite of them, direct
or not, whose ``p_mastery`` is below ``request.mastery_threshold``) in topological order, ties by
id. Each competency ``c`` becomes one :class:`PathwayStep` with its best activity:

- candidates are the activities targeting ``c`` that are not completed (a repeatable one is a
  candidate again once its cool-down has passed: :mod:`recommender.catalog`) or declined, are
  among the context's ``available`` activities (when it names them), and whose format and
  modality the request allows; an activity already **in progress** that targets ``c`` is taken
  first (it is under way);
- otherwise the best is the highest ``g[a, c] / log1p(hours[a])``, the expected gain on ``c``
  per log-hour (``g`` as in :func:`recommender.ranking.target_gains`: learned ``gain_mean`` or
  the catalog prior ``expected_gain * weight``), ties by ``activity_id``;
- an activity already planned for an earlier step is not planned again; if it was the only
  candidate, the step names it with ``hours = 0`` (already counted) and no further gain.

The plan is simulated forward: completing the step's activity moves every target ``t`` of it to
``min(1, p[t] + g[a, t])``, so ``p_before`` of a later step includes what earlier steps taught
(an activity often develops two competencies), and each step's ``readiness`` (the weakest
direct prerequisite, 1 for none) uses the improved values. Competencies with no allowed activity
are listed in ``Pathway.unreachable`` and stay unchanged in the simulation.

``k``, ``max_hours`` and the hard gate of the request do not apply: a pathway is the whole plan,
with ``total_hours`` reported. **Re-planning** is calling :func:`plan_pathway` again with the new
mastery table (and context) when evidence or feedback arrives: competencies that became mastered
drop out, the simulation restarts from the new estimates, and completed activities are not
planned again (repeatable ones until their cool-down has passed).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd

from recommender.catalog import Catalog
from recommender.errors import InvalidInputError
from recommender.graph import check_ids, prerequisite_closure
from recommender.ranking.index import target_gains
from recommender.ranking.mastery import read_mastery
from recommender.ranking.requests import (
    EducatorContext,
    RankingRequest,
    check_context,
    check_request,
)

__all__ = ["Pathway", "PathwayStep", "plan_pathway"]


@dataclass(frozen=True)
class PathwayStep:
    """One competency of the plan and the activity chosen for it.

    ``p_before`` and ``p_after`` are the simulated mastery of ``competency_id`` before and after
    the activity; ``readiness`` is the simulated mastery of its weakest direct prerequisite when
    the step starts (1.0 without prerequisites).
    """

    competency_id: str
    name: str
    activity_id: str
    activity_title: str
    hours: float
    p_before: float
    p_after: float
    readiness: float = 1.0


@dataclass(frozen=True)
class Pathway:
    """A plan to the ``goals``: ordered steps, their total hours, and what cannot be planned."""

    goals: tuple[str, ...]
    steps: list[PathwayStep] = field(default_factory=list)
    total_hours: float = 0.0
    unreachable: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """The steps as a DataFrame, one row per step, in plan order."""
        cols = list(PathwayStep.__dataclass_fields__)
        return pd.DataFrame([s.__dict__ for s in self.steps], columns=cols)


def plan_pathway(
    graph: nx.DiGraph,
    catalog: Catalog,
    mastery: pd.DataFrame | Mapping[str, float],
    goals: str | Iterable[str],
    *,
    context: EducatorContext = EducatorContext(),  # noqa: B008 - frozen, immutable default
    request: RankingRequest = RankingRequest(),  # noqa: B008
    gains: pd.DataFrame | None = None,
) -> Pathway:
    """Plan the steps from an educator's current mastery to ``goals``.

    Parameters
    ----------
    graph : networkx.DiGraph
        The competency framework.
    catalog : Catalog
        Activities and their targets.
    mastery : DataFrame or mapping
        The educator's mastery table, as for :func:`recommender.ranking.rank_activities`,
        except that a competency without a row is at 0 here (the ranker reads it as its
        ``cold_start_p``; the ``pathway-rule`` baseline relies on 0, issue #20 item 4).
    goals : str or iterable of str
        Goal competency ids (at least one).
    context : EducatorContext
        Completed and declined activities, and those outside ``context.available`` (when it
        names them), are never planned; in-progress ones are preferred.
    request : RankingRequest
        ``formats``, ``modalities`` and ``mastery_threshold`` apply.
    gains : DataFrame or None
        Learned expected gains, ``gain_mean`` indexed by ``(activity_id, competency_id)``.

    Returns
    -------
    Pathway

    Raises
    ------
    UnknownCompetencyError
        A goal or a competency in ``mastery`` is not in ``graph``.
    InvalidInputError
        ``goals`` is empty (a ``ValueError``).
    ValueError
        ``mastery`` or ``gains`` is malformed.
    """
    check_request(request)
    check_context(graph, context)
    goal_list = check_ids(graph, goals)
    if not goal_list:
        raise InvalidInputError("goals", goal_list, "at least one competency id",
                                "goals must name at least one competency; got an empty collection")
    table = read_mastery(graph, mastery)
    known = list(table.p)  # the level, mastered only when a p_bound says so (as the ranker)
    sim = dict(zip(known, table.decision_row(known, request.mastery_threshold)[0].tolist(),
                   strict=True))
    closure = prerequisite_closure(graph, goal_list, sim, request.mastery_threshold)

    acts = catalog.activities
    hours = acts["hours"].astype(float)
    by_competency, targets_of = _candidates(catalog, gains, context, request)

    steps: list[PathwayStep] = []
    unreachable: list[str] = []
    planned: set[str] = set()
    for c in closure:
        cands = by_competency.get(c)
        if cands is None or cands.empty:
            unreachable.append(c)
            continue
        readiness = min((sim.get(q, 0.0) for q in graph.predecessors(c)), default=1.0)
        p_before = float(sim.get(c, 0.0))
        fresh = cands[~cands["activity_id"].isin(planned)]
        if fresh.empty:  # only activities already in the plan develop c: nothing to add
            a = min(cands["activity_id"], key=lambda x: (x not in context.in_progress, x))
            steps.append(_step(graph, acts, c, a, 0.0, p_before, p_before, readiness))
            continue
        a = _best(fresh, hours, context.in_progress)
        planned.add(a)
        for t, g in targets_of[a]:
            sim[t] = min(1.0, max(0.0, float(sim.get(t, 0.0)) + float(g)))
        steps.append(_step(graph, acts, c, a, float(hours[a]), p_before, float(sim[c]),
                           readiness))
    total = math.fsum(s.hours for s in steps)
    return Pathway(goals=tuple(goal_list), steps=steps, total_hours=total,
                   unreachable=unreachable)


def _candidates(catalog: Catalog, gains: pd.DataFrame | None, context: EducatorContext,
                request: RankingRequest) -> tuple[dict[str, pd.DataFrame], dict[str, list]]:
    """The allowed activities of each competency (its rows of :func:`target_gains`), and what
    completing each activity teaches: ``{activity_id: [(competency_id, gain), ...]}``."""
    acts = catalog.activities
    everything = target_gains(catalog, gains)
    tg = everything
    ok = ~tg["activity_id"].isin(context.completed_now(catalog.cooldowns) | context.declined)
    if context.available is not None:
        ok &= tg["activity_id"].isin(context.available)
    if request.formats is not None:
        ok &= tg["activity_id"].map(acts["format"]).isin(request.formats)
    if request.modalities is not None:
        ok &= tg["activity_id"].map(acts["modality"]).isin(request.modalities)
    tg = tg[ok.to_numpy(bool)]
    by_competency = {c: grp for c, grp in tg.groupby("competency_id", sort=False)}
    targets_of = {a: list(zip(grp["competency_id"], grp["gain"], strict=True))
                  for a, grp in everything.groupby("activity_id", sort=False)}
    return by_competency, targets_of


def _best(cands: pd.DataFrame, hours: pd.Series, in_progress: frozenset[str]) -> str:
    """In-progress first, then highest gain per log-hour, then smallest id."""
    log_hours = np.log1p(cands["activity_id"].map(hours).to_numpy(float))
    value = cands["gain"].to_numpy(float) / log_hours
    keyed = sorted(
        zip(cands["activity_id"], value.tolist(), strict=True),
        key=lambda av: (av[0] not in in_progress, -av[1], av[0]),
    )
    return str(keyed[0][0])


def _step(graph, acts, c, a, hours, p_before, p_after, readiness) -> PathwayStep:
    return PathwayStep(
        competency_id=c, name=str(graph.nodes[c].get("name", c)), activity_id=str(a),
        activity_title=str(acts.at[a, "title"]), hours=hours, p_before=p_before,
        p_after=p_after, readiness=float(readiness),
    )
