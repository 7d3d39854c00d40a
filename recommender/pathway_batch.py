"""Pathways for many educators at once: :func:`plan_pathways`.

The same plan as :func:`recommender.pathway.plan_pathway` (read its docstring for what a pathway
is), for every educator of a mastery frame, as numpy over the educator axis: the closure is a
boolean ``(E, C)`` mask (goals and their ancestors, unmastered), and each pass of the loop takes,
for every educator with competencies left, the one with the smallest id whose unmastered
prerequisites are all planned (the lexicographic topological order of the closure's subgraph),
picks its activity from the prepared candidate lists (:mod:`recommender.pathway_index`) and
simulates its gains. The loop runs over plan steps (at most the number of competencies), never
over educators; each educator's rows equal :func:`~recommender.pathway.plan_pathway`'s steps,
floats included.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from recommender.catalog import Catalog
from recommender.errors import InvalidInputError, UnknownCompetencyError
from recommender.pathway_index import PathwayIndex, resolve_pathway_index
from recommender.ranking.index import RankingIndex
from recommender.ranking.mastery import check_mastery_long, read_mastery_long
from recommender.ranking.requests import (
    EducatorContext,
    RankingRequest,
    check_context,
    check_request,
)

__all__ = ["STEP_COLUMNS", "PathwayBatch", "plan_pathways"]

STEP_COLUMNS = ["educator_id", "step", "competency_id", "name", "activity_id", "activity_title",
                "hours", "p_before", "p_after", "readiness"]
"""The columns of :attr:`PathwayBatch.steps`, in order."""


@dataclass(frozen=True)
class PathwayBatch:
    """The pathways of many educators.

    ``steps`` has :data:`STEP_COLUMNS`, one row per step (``step`` 1-based), sorted by educator
    id then step; ``unreachable`` has ``educator_id, competency_id``, per educator in plan
    order; ``total_hours`` is indexed by educator id, every educator planned (0 for an empty
    plan).
    """

    steps: pd.DataFrame
    unreachable: pd.DataFrame
    total_hours: pd.Series


_EMPTY_CONTEXT = EducatorContext()


def plan_pathways(
    graph: nx.DiGraph,
    catalog: Catalog,
    mastery: pd.DataFrame,
    goals: str | Iterable[str] | Mapping[Any, str | Iterable[str]] | pd.Series,
    *,
    contexts: Mapping[Any, EducatorContext] | None = None,
    request: RankingRequest = RankingRequest(),  # noqa: B008 - frozen, immutable default
    gains: pd.DataFrame | None = None,
    index: PathwayIndex | RankingIndex | None = None,
) -> PathwayBatch:
    """Plan the pathway of every educator: :func:`~recommender.pathway.plan_pathway` for each.

    Parameters
    ----------
    mastery : DataFrame
        Either **wide**: one row per educator (the index is the educator id), one column per
        competency id, ``p_mastery`` values, NaN or no column for a competency without a
        value; or **long**: columns ``educator_id, competency_id, p_mastery`` and optionally
        ``p_bound`` (as for :func:`~recommender.ranking.rank_batch`). Either way a competency
        without a value is at 0, as in :func:`~recommender.pathway.plan_pathway`.
    goals : str, iterable of str, or mapping (or Series) educator_id -> goal ids
        The same goals for every educator, or each educator's own (at least one each).
    contexts : mapping educator_id -> EducatorContext, optional
        Completed, declined, in-progress and available activities, per educator.
    request, gains, index
        As in :func:`~recommender.pathway.plan_pathway`.

    Educators are those of ``mastery``, of a ``goals`` mapping and of ``contexts``; one without
    a mastery row starts with every competency at 0.

    Raises
    ------
    UnknownCompetencyError
        A goal or a mastery competency is not in ``graph``.
    InvalidInputError
        An educator has no goals (a ValueError naming them).
    ValueError
        ``mastery`` is malformed (values outside [0, 1], duplicate educators or pairs),
        ``gains`` is malformed, or ``index`` was built from other objects.
    """
    check_request(request)
    contexts = dict(contexts or {})
    for ctx in contexts.values():
        check_context(graph, ctx)
    ix = resolve_pathway_index(graph, catalog, gains, index)
    per_educator = goals.to_dict() if isinstance(goals, pd.Series) else goals
    extra = [*contexts, *(per_educator if isinstance(per_educator, Mapping) else ())]
    educators, p = _mastery_matrix(graph, ix, mastery, extra, request.mastery_threshold)
    goal = _goal_mask(graph, ix, educators, per_educator)
    allowed, in_progress = _context_masks(ix, [contexts.get(e, _EMPTY_CONTEXT)
                                               for e in educators], request)
    wanted = (goal | (goal.astype(float) @ ix.anc > 0)) & ~(p >= request.mastery_threshold)
    steps, unreachable = _walk(ix, p, wanted, allowed, in_progress)
    return _batch(ix, educators, steps, unreachable)


def _mastery_matrix(graph: nx.DiGraph, ix: PathwayIndex, mastery: pd.DataFrame,
                    extra: list, threshold: float) -> tuple[pd.Index, np.ndarray]:
    """The educators (sorted) and their ``(E, C)`` mastery, 0 where missing (the decision
    mastery of a long frame with ``p_bound``)."""
    if not isinstance(mastery, pd.DataFrame):
        raise TypeError(f"mastery must be a DataFrame (wide or long); got "
                        f"{type(mastery).__name__}")
    if {"educator_id", "competency_id"} <= set(mastery.columns):
        check_mastery_long(mastery)
        return read_mastery_long(graph, ix.competencies, mastery, also=dict.fromkeys(extra),
                                 threshold=threshold, cold=0.0)
    unknown = [c for c in mastery.columns if c not in ix.competency_pos]
    if unknown:
        raise UnknownCompetencyError([str(c) for c in unknown], graph.graph.get("name"))
    if mastery.index.has_duplicates:
        dup = mastery.index[mastery.index.duplicated()].unique().tolist()[:5]
        raise ValueError(f"mastery has duplicate educator ids (rows): {dup}")
    numeric = all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)
                  for t in mastery.dtypes)
    values = (mastery.to_numpy(float) if numeric
              else mastery.apply(pd.to_numeric, errors="coerce").to_numpy(float))
    bad = ~np.isnan(values) & ~((values >= 0) & (values <= 1))
    bad |= mastery.notna().to_numpy(bool) & np.isnan(values)  # present but not a number
    if bad.any():
        r, c = np.nonzero(bad)
        sample = [(mastery.index[i], mastery.columns[j], _plain(mastery.iat[i, j]))
                  for i, j in zip(r[:5], c[:5], strict=True)]
        raise ValueError("mastery: p_mastery must be a number in [0, 1] (or NaN: no value); "
                         f"got (educator_id, competency_id, value) {sample}")
    known = pd.Index(mastery.index, dtype=object)
    known_set = set(known)
    missing = [e for e in dict.fromkeys(extra) if e not in known_set]
    educators = known.append(pd.Index(missing, dtype=object)).sort_values()
    p = np.zeros((len(educators), len(ix.competencies)))
    rows = educators.get_indexer(known)
    cols = ix.competencies.get_indexer(pd.Index(mastery.columns, dtype=object))
    p[np.ix_(rows, cols)] = np.nan_to_num(values, nan=0.0)
    return educators, p


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (for error messages)."""
    return value.item() if isinstance(value, np.generic) else value


def _goal_mask(graph: nx.DiGraph, ix: PathwayIndex, educators: pd.Index,
               goals: Any) -> np.ndarray:
    """``(E, C)`` bool: each educator's goals (checked: known, at least one each)."""
    mask = np.zeros((len(educators), len(ix.competencies)), dtype=bool)
    if not isinstance(goals, Mapping):
        shared = [goals] if isinstance(goals, str) else list(goals)
        if not shared:
            raise InvalidInputError("goals", shared, "at least one competency id",
                                    "goals must name at least one competency; got an empty "
                                    "collection")
        mask[:, _goal_columns(graph, ix, shared)] = True
        return mask
    listed = pd.Series({e: [g] if isinstance(g, str) else list(g) for e, g in goals.items()},
                       dtype=object).reindex(educators)
    empty = [e for e, g in listed.items() if not isinstance(g, list) or not g]
    if empty:
        raise InvalidInputError("goals", empty[:5], "at least one competency id per educator",
                                f"goals must name at least one competency for every educator; "
                                f"{len(empty)} have none, e.g. {empty[:5]}")
    long = listed.explode()
    mask[educators.get_indexer(long.index), _goal_columns(graph, ix, long.tolist())] = True
    return mask


def _goal_columns(graph: nx.DiGraph, ix: PathwayIndex, ids: list) -> np.ndarray:
    cols = ix.competencies.get_indexer(pd.Index([str(g) for g in ids], dtype=object))
    if (cols < 0).any():
        raise UnknownCompetencyError(sorted({str(g) for g, j in zip(ids, cols, strict=True)
                                             if j < 0}), graph.graph.get("name"))
    return cols


def _context_masks(ix: PathwayIndex, contexts: list[EducatorContext], request: RankingRequest
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``(E, A + 1)`` allowed and in-progress masks (column ``A``: the sentinel, neither).

    Allowed: of an allowed format and modality, not closed (completed and not open again,
    declined), within the context's ``available``. This walks the contexts' own short id lists
    once; the plan itself is vectorized.
    """
    n_e, n_a = len(contexts), len(ix.activity_ids)
    base = np.ones(n_a + 1, dtype=bool)
    base[n_a] = False
    vocabularies = ix.catalog.vocabularies  # words outside the catalog's raise, as in ranking
    if request.formats is not None:
        base[:n_a] &= np.isin(ix.format_arr, vocabularies.check("formats", request.formats))
    if request.modalities is not None:
        base[:n_a] &= np.isin(ix.modality_arr,
                              vocabularies.check("modalities", request.modalities))
    allowed = np.repeat(base[None, :], n_e, axis=0)
    in_progress = np.zeros((n_e, n_a + 1), dtype=bool)
    apos, cooldowns = ix.activity_pos, ix.catalog.cooldowns
    for e, ctx in enumerate(contexts):
        if ctx is _EMPTY_CONTEXT:
            continue
        if ctx.available is not None:
            keep = np.zeros(n_a + 1, dtype=bool)
            keep[[apos[a] for a in ctx.available if a in apos]] = True
            allowed[e] &= keep
        closed = ctx.completed_now(cooldowns) | ctx.declined
        allowed[e, [apos[a] for a in closed if a in apos]] = False
        in_progress[e, [apos[a] for a in ctx.in_progress if a in apos]] = True
    return allowed, in_progress


def _take_rows(matrix: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``matrix[rows[:, None], cols]`` through one flat take (about twice as fast)."""
    return np.take(matrix.ravel(), rows[:, None] * matrix.shape[1] + cols)


def _walk(ix: PathwayIndex, p: np.ndarray, wanted: np.ndarray, allowed: np.ndarray,
          in_progress: np.ndarray) -> tuple[dict[str, list], dict[str, list]]:
    """Plan every educator's closure, one competency per educator per pass.

    Returns the step columns and the unreachable ``(row, competency)`` pairs as lists of arrays
    (one per pass, in plan order).
    """
    n_e, n_c = p.shape
    n_a = len(ix.activity_ids)
    sim = np.concatenate([p, np.ones((n_e, 1))], axis=1)  # column C: the sentinel, mastered
    planned = np.zeros((n_e, n_a + 1), dtype=bool)
    remaining = wanted.copy()
    step_no = np.zeros(n_e, dtype=np.int64)
    steps: dict[str, list] = {k: [] for k in ("row", "step", "c", "a", "hours", "p_before",
                                              "p_after", "readiness")}
    unreachable: dict[str, list] = {"row": [], "c": []}
    left = remaining.sum(axis=1)  # competencies still to plan, per educator
    # unplanned prerequisites in the closure, per competency (column C: the sentinel)
    indegree = np.zeros((n_e, n_c + 1), dtype=np.int32)
    indegree[:, :n_c] = wanted.astype(np.float32) @ ix.adj.astype(np.float32)
    rows = np.flatnonzero(left)
    while len(rows):
        ready = remaining[rows] & (indegree[rows, :n_c] == 0)
        c = np.argmax(ready, axis=1)  # the smallest id: competencies are sorted
        remaining[rows, c] = False
        indegree[rows[:, None], ix.sidx[c]] -= 1
        left[rows] -= 1
        cand = ix.cand[c]  # (n, M), best first, padded with A
        ok = _take_rows(allowed, rows, cand)
        has = ok.any(axis=1)
        unreachable["row"].append(rows[~has])
        unreachable["c"].append(c[~has])
        r, c, cand, ok = rows[has], c[has], cand[has], ok[has]
        ip = _take_rows(in_progress, r, cand)
        fresh = ok & ~_take_rows(planned, r, cand)
        has_fresh = fresh.any(axis=1)
        first = np.where((fresh & ip).any(axis=1), np.argmax(fresh & ip, axis=1),
                         np.argmax(fresh, axis=1))
        # all planned already: in progress first, then the smallest id (rows are sorted by id)
        again = np.argmin(np.where(ok, np.where(ip, cand, cand + n_a + 1), 2 * n_a + 2), axis=1)
        pick = np.where(has_fresh, first, again)
        a = cand[np.arange(len(r)), pick]
        readiness = _take_rows(sim, r, ix.pidx[c]).min(axis=1)
        p_before = sim[r, c]
        fr, fa = r[has_fresh], a[has_fresh]
        planned[fr, fa] = True
        t = ix.tidx[fa]
        sim[fr[:, None], t] = np.clip(sim[fr[:, None], t] + ix.tgain[fa], 0.0, 1.0)
        for key, value in (("row", r), ("step", step_no[r] + 1), ("c", c), ("a", a),
                           ("hours", np.where(has_fresh, ix.hours_arr[a], 0.0)),
                           ("p_before", p_before), ("p_after", sim[r, c]),
                           ("readiness", readiness)):
            steps[key].append(value)
        step_no[r] += 1
        rows = rows[left[rows] > 0]
    return steps, unreachable


def _take(values: np.ndarray, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``values[codes]`` as pandas' array of the values' own dtype (strings: ``str``); taking
    from the few distinct values is much faster than converting every row."""
    return pd.Series(values).array.take(codes)


def _batch(ix: PathwayIndex, educators: pd.Index, steps: dict[str, list],
           unreachable: dict[str, list]) -> PathwayBatch:
    """The :class:`PathwayBatch` of the walked plans, sorted by educator then step."""
    ids = educators.to_numpy(dtype=object)
    cols = {k: np.concatenate(v) if v else np.zeros(0, dtype=np.int64)
            for k, v in steps.items()}
    order = np.argsort(cols["row"], kind="stable")  # passes are in plan order already
    cols = {k: v[order] for k, v in cols.items()}
    row, c, a = cols["row"], cols["c"], cols["a"]
    comps = ix.competencies.to_numpy(dtype=object)
    frame = pd.DataFrame({
        "educator_id": _take(ids, row), "step": cols["step"].astype(np.int64),
        "competency_id": _take(comps, c), "name": _take(ix.name_arr, c),
        "activity_id": _take(ix.activity_ids, a), "activity_title": _take(ix.title_arr, a),
        "hours": cols["hours"].astype(float), "p_before": cols["p_before"].astype(float),
        "p_after": cols["p_after"].astype(float), "readiness": cols["readiness"].astype(float),
    }, columns=STEP_COLUMNS)
    u_row = np.concatenate(unreachable["row"]) if unreachable["row"] else np.zeros(0, int)
    u_c = np.concatenate(unreachable["c"]) if unreachable["c"] else np.zeros(0, int)
    u_order = np.argsort(u_row, kind="stable")
    lost = pd.DataFrame({"educator_id": _take(ids, u_row[u_order]),
                         "competency_id": _take(comps, u_c[u_order])})
    total = pd.Series(np.bincount(row, weights=frame["hours"].to_numpy(), minlength=len(ids)),
                      index=pd.Index(ids, dtype=object, name="educator_id"), name="total_hours")
    return PathwayBatch(steps=frame, unreachable=lost, total_hours=total)
