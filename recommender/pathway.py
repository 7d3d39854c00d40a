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

**Speed.** What depends only on the graph, the catalog and the gains (candidates ranked once,
ancestors, what each activity teaches) is a :class:`~recommender.pathway_index.PathwayIndex`:
build it once with :func:`prepare_pathway` (or pass the ranker's index of the same objects) and
pass it as ``index=``. :func:`~recommender.pathway_batch.plan_pathways` plans many educators at
once, numpy over the educator axis, each educator's steps equal to :func:`plan_pathway`'s.
``tests/recommender/pathway_reference.py`` keeps the pre-index implementation both are tested
against; ``benchmarks/bench_pathway.py`` times them.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd

from recommender.catalog import Catalog
from recommender.errors import InvalidInputError
from recommender.graph import check_ids
from recommender.pathway_batch import STEP_COLUMNS, PathwayBatch, plan_pathways
from recommender.pathway_index import PathwayIndex, prepare_pathway, resolve_pathway_index
from recommender.ranking.index import RankingIndex
from recommender.ranking.mastery import decision_mastery, read_mastery
from recommender.ranking.requests import (
    EducatorContext,
    RankingRequest,
    check_context,
    check_request,
)

__all__ = ["STEP_COLUMNS", "Pathway", "PathwayBatch", "PathwayIndex", "PathwayStep", "plan_pathway",
           "plan_pathways", "prepare_pathway"]


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
    index: PathwayIndex | RankingIndex | None = None,
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
    index : PathwayIndex, RankingIndex or None
        :func:`~recommender.pathway_index.prepare_pathway` ``(graph, catalog, gains)`` (or the
        ranker's :func:`~recommender.ranking.prepare` index of the same objects), built once
        by a caller that plans many times; it carries the gains, so ``gains`` may then be
        omitted. None: built for this call.

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
        ``mastery`` or ``gains`` is malformed, or ``index`` was built from other objects.
    TypeError
        ``index`` is not an index.
    """
    check_request(request)
    check_context(graph, context)
    goal_list = check_ids(graph, goals)
    if not goal_list:
        raise InvalidInputError("goals", goal_list, "at least one competency id",
                                "goals must name at least one competency; got an empty collection")
    sim = _levels(graph, mastery, request.mastery_threshold)
    ix = resolve_pathway_index(graph, catalog, gains, index)
    closure = _closure(ix, goal_list, sim, request.mastery_threshold)
    allowed = _allowed(ix, context, request)
    in_progress = context.in_progress
    steps: list[PathwayStep] = []
    unreachable: list[str] = []
    planned: set[str] = set()
    for c in closure:
        cands = [a for a in ix.candidates.get(c, ()) if allowed(a)]
        if not cands:
            unreachable.append(c)
            continue
        readiness = min((sim.get(q, 0.0) for q in ix.predecessors[c]), default=1.0)
        p_before = float(sim.get(c, 0.0))
        fresh = [a for a in cands if a not in planned]
        if not fresh:  # only activities already in the plan develop c: nothing to add
            a = min(cands, key=lambda x: (x not in in_progress, x))
            steps.append(_step(ix, c, a, 0.0, p_before, p_before, readiness))
            continue
        # candidates are best first: the first in-progress one, else the first
        a = next((x for x in fresh if x in in_progress), fresh[0])
        planned.add(a)
        for t, g in ix.teaches[a]:
            sim[t] = min(1.0, max(0.0, float(sim.get(t, 0.0)) + g))
        steps.append(_step(ix, c, a, ix.hours[a], p_before, float(sim[c]), readiness))
    total = math.fsum(s.hours for s in steps)
    return Pathway(goals=tuple(goal_list), steps=steps, total_hours=total,
                   unreachable=unreachable)


_NUMERIC = ("p_mastery", "p_bound", "uncertainty", "n_evidence")


def _levels(graph: nx.DiGraph, mastery: pd.DataFrame | Mapping[str, float],
            threshold: float) -> dict[str, float]:
    """``{competency_id: mastery}`` of the table's competencies, as the ranker decides it (the
    level, mastered only when a ``p_bound`` says so): :func:`read_mastery`, checked the same way.

    A plain table (indexed by competency id, numeric columns, valid values) is read with numpy
    alone; anything else goes through :func:`read_mastery`, which accepts or refuses it with
    its own messages. The ``evidence_ids`` and ``contributions`` columns are not read: a plan
    does not use them.
    """
    fast = _plain_levels(graph, mastery, threshold)
    if fast is not None:
        return fast
    if isinstance(mastery, pd.DataFrame):
        mastery = mastery.drop(columns=[c for c in mastery.columns
                                        if c in ("evidence_ids", "contributions")])
    table = read_mastery(graph, mastery)
    known = list(table.p)
    return dict(zip(known, table.decision_row(known, threshold)[0].tolist(), strict=True))


def _plain_levels(graph: nx.DiGraph, mastery: object, threshold: float
                  ) -> dict[str, float] | None:
    """:func:`_levels` of a DataFrame :func:`read_mastery` surely accepts, else None."""
    if not isinstance(mastery, pd.DataFrame) or "competency_id" in mastery.columns:
        return None
    cols = _numeric_columns(mastery)
    if cols is None or "p_mastery" not in cols or not mastery.index.is_unique:
        return None
    ids = [str(i) for i in mastery.index.tolist()]
    p, bound = cols["p_mastery"], cols.get("p_bound")
    unc, n_ev = cols.get("uncertainty", np.zeros(0)), cols.get("n_evidence", np.zeros(0))
    valid = [((v >= 0) & (v <= 1)).all() for v in (p, p if bound is None else bound)]
    if (not all(valid) or (unc < 0).any() or np.isinf(n_ev).any()
            or any(i not in graph for i in ids) or len(set(ids)) != len(ids)):
        return None  # read_mastery says what is wrong
    values = p if bound is None else decision_mastery(p, bound, threshold)
    return dict(zip(ids, values.tolist(), strict=True))


def _numeric_columns(mastery: pd.DataFrame) -> dict[str, np.ndarray] | None:
    """The table's :data:`_NUMERIC` columns as float arrays, or None unless each is of a
    numeric (integer or float) dtype and no column name repeats."""
    names = mastery.columns.tolist()
    if len(set(names)) != len(names):
        return None
    if set(names) <= set(_NUMERIC):  # only these columns (the API's tables): one conversion
        values = mastery.to_numpy()
        if values.dtype.kind not in "fiu":
            return None
        return {c: values[:, j].astype(float) for j, c in enumerate(names)}
    cols = {c: mastery[c] for c in _NUMERIC if c in names}
    if not all(pd.api.types.is_float_dtype(v) or pd.api.types.is_integer_dtype(v)
               for v in cols.values()):
        return None
    return {c: v.to_numpy(float) for c, v in cols.items()}


def _closure(ix: PathwayIndex, goals: list[str], sim: Mapping[str, float],
             threshold: float) -> list[str]:
    """:func:`recommender.graph.prerequisite_closure` on the index: the unmastered goals and
    prerequisites of goals (missing: 0), lexicographic topological order of their subgraph."""
    wanted = set(goals).union(*(ix.ancestors[g] for g in goals))
    wanted = {n for n in wanted if not float(sim.get(n, 0.0)) >= threshold}
    indegree = {n: sum(q in wanted for q in ix.predecessors[n]) for n in wanted}
    ready = sorted(n for n, d in indegree.items() if d == 0)
    heapq.heapify(ready)
    order = []
    while ready:
        n = heapq.heappop(ready)
        order.append(n)
        for s in ix.successors[n]:
            if s in wanted:
                indegree[s] -= 1
                if indegree[s] == 0:
                    heapq.heappush(ready, s)
    return order


def _allowed(ix: PathwayIndex, context: EducatorContext, request: RankingRequest):
    """Whether an activity may be planned: not closed (completed and not open again, or
    declined), among ``context.available`` when it names them, of an allowed format and
    modality."""
    closed = context.completed_now(ix.catalog.cooldowns) | context.declined
    vocabularies = ix.catalog.vocabularies  # words outside the catalog's raise, as in ranking
    available = context.available
    formats = vocabularies.check("formats", request.formats)
    modalities = vocabularies.check("modalities", request.modalities)

    def allowed(a: str) -> bool:
        return (a not in closed and (available is None or a in available)
                and (formats is None or ix.formats[a] in formats)
                and (modalities is None or ix.modalities[a] in modalities))

    return allowed


def _step(ix: PathwayIndex, c: str, a: str, hours: float, p_before: float, p_after: float,
          readiness: float) -> PathwayStep:
    return PathwayStep(
        competency_id=c, name=ix.names[c], activity_id=str(a), activity_title=ix.titles[a],
        hours=hours, p_before=p_before, p_after=p_after, readiness=float(readiness),
    )
