"""A frozen copy of :func:`recommender.pathway.plan_pathway` before it was optimised (issue #20).

The property tests and ``benchmarks/bench_pathway.py`` compare the fast single and batch
planners against it: same steps, same floats, same unreachable list. Do not optimise this copy;
it is the reference the fast code must match.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import networkx as nx
import numpy as np
import pandas as pd

from recommender.catalog import Catalog
from recommender.errors import InvalidInputError
from recommender.graph import check_ids, prerequisite_closure
from recommender.pathway import Pathway, PathwayStep
from recommender.ranking.index import target_gains
from recommender.ranking.mastery import read_mastery
from recommender.ranking.requests import (
    EducatorContext,
    RankingRequest,
    check_context,
    check_request,
)

__all__ = ["reference_plan_pathway"]


def reference_plan_pathway(
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
