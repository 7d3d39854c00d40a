"""The prepared pathway index: what a pathway plan needs from the graph, the catalog and the
gains, built once.

Planning a pathway (:func:`recommender.pathway.plan_pathway`,
:func:`recommender.pathway_batch.plan_pathways`) reads, for every competency of the plan, its
direct prerequisites, its ancestors and its candidate activities ranked by expected gain per
log-hour, and, for every planned activity, what it teaches. None of that depends on the
educator, so :func:`prepare_pathway` computes it once: plain dicts and tuples for the one-educator
planner (a few dozen competencies: dict lookups beat numpy's per-call overhead there) and
padded index arrays for the batch planner (numpy over the educator axis).

A :class:`~recommender.ranking.RankingIndex` (a server's per-model index) is accepted wherever a
pathway index is: :func:`resolve_pathway_index` derives the pathway index from it once and
keeps it for as long as the ranking index lives.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

from recommender.catalog import Catalog
from recommender.ranking.checks import check_built_from
from recommender.ranking.index import RankingIndex, target_gains

__all__ = ["PathwayIndex", "prepare_pathway", "resolve_pathway_index"]


@dataclass(frozen=True, eq=False)
class PathwayIndex:
    """The graph, the catalog and the gains as a pathway planner reads them.

    Built by :func:`prepare_pathway`; independent of the educator and of the request. It keeps
    the objects it was built from, and the planners refuse it with other ones. Treat the graph
    and the catalog as immutable once indexed (build a new index after changing them).

    ``candidates[c]`` are the activities targeting ``c``, best first: highest
    ``g[a, c] / log1p(hours[a])``, ties by ``activity_id``; ``teaches[a]`` are the
    ``(competency_id, g[a, competency])`` pairs of every target of ``a``. The arrays serve the
    batch planner: competencies and activities are sorted by id (so the smallest position is the
    smallest id), index ``C`` is a sentinel competency (mastery 1, no prerequisites) and index
    ``A`` a sentinel activity (never allowed).
    """

    graph: nx.DiGraph
    catalog: Catalog
    gains: pd.DataFrame | None
    competencies: pd.Index  # C ids, sorted
    activity_ids: np.ndarray  # A ids, sorted
    competency_pos: Mapping[str, int]
    activity_pos: Mapping[str, int]
    names: Mapping[str, str]  # competency id -> name
    titles: Mapping[str, str]  # activity id -> title
    hours: Mapping[str, float]  # activity id -> hours
    formats: Mapping[str, str]  # activity id -> format
    modalities: Mapping[str, str]  # activity id -> modality
    predecessors: Mapping[str, tuple[str, ...]]
    successors: Mapping[str, tuple[str, ...]]
    ancestors: Mapping[str, frozenset[str]]
    candidates: Mapping[str, tuple[str, ...]]
    teaches: Mapping[str, tuple[tuple[str, float], ...]]
    adj: np.ndarray  # (C, C) float: [q, c] = 1 for an edge q -> c
    anc: np.ndarray  # (C, C) float: [g, c] = 1 when c is a prerequisite (direct or not) of g
    pidx: np.ndarray  # (C, D) direct prerequisite columns, padded with C
    sidx: np.ndarray  # (C, S) direct dependent columns, padded with C
    cand: np.ndarray  # (C, M) candidate activity rows, best first, padded with A
    tidx: np.ndarray  # (A + 1, K) target columns, padded with C
    tgain: np.ndarray  # (A + 1, K) g[a, target], 0 for padding
    hours_arr: np.ndarray  # (A + 1,)
    format_arr: np.ndarray  # (A,)
    modality_arr: np.ndarray  # (A,)
    name_arr: np.ndarray  # (C,)
    title_arr: np.ndarray  # (A,)

    def check(self, graph: nx.DiGraph, catalog: Catalog, gains: pd.DataFrame | None) -> None:
        """Raise ValueError unless this index was built from these very objects (``gains``
        None is accepted: the index carries its own)."""
        check_built_from(self, graph, catalog, gains, "prepare_pathway(graph, catalog, gains)")


def _padded(rows: list[list[int]], fill: int) -> np.ndarray:
    """A (len(rows), max len) int array of ``rows``, padded with ``fill``."""
    width = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), max(width, 1)), fill, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def _ranked_candidates(tg: pd.DataFrame, hours: pd.Series) -> dict[str, tuple[str, ...]]:
    """Per competency, its target rows' activities by gain per log-hour (desc), then id."""
    value = tg["gain"].to_numpy(float) / np.log1p(
        hours.reindex(tg["activity_id"]).to_numpy(float))
    aids = tg["activity_id"].to_numpy(object)
    order = np.lexsort((aids.astype(str), -value))  # value desc, then id
    out: dict[str, list[str]] = {}
    for c, a in zip(tg["competency_id"].to_numpy(object)[order].tolist(), aids[order].tolist(),
                    strict=True):
        out.setdefault(c, []).append(a)
    return {c: tuple(a) for c, a in out.items()}


def _teaches(tg: pd.DataFrame) -> dict[str, tuple[tuple[str, float], ...]]:
    """Per activity, the ``(competency_id, gain)`` of each of its targets, in catalog order."""
    out: dict[str, list[tuple[str, float]]] = {}
    for a, c, g in zip(tg["activity_id"].tolist(), tg["competency_id"].tolist(),
                       tg["gain"].astype(float).tolist(), strict=True):
        out.setdefault(a, []).append((c, g))
    return {a: tuple(pairs) for a, pairs in out.items()}


def prepare_pathway(graph: nx.DiGraph, catalog: Catalog,
                    gains: pd.DataFrame | None = None) -> PathwayIndex:
    """Index the graph, the catalog and the gains for pathway planning (:class:`PathwayIndex`).

    Raises
    ------
    ValueError
        ``gains`` is malformed (see :func:`recommender.ranking.target_gains`).
    """
    tg = target_gains(catalog, gains)
    acts = catalog.activities
    hours = acts["hours"].astype(float)
    comps = pd.Index(sorted(graph.nodes), dtype=object)
    aids = np.asarray(sorted(acts.index), dtype=object)
    cpos = {c: j for j, c in enumerate(comps)}
    apos = {a: i for i, a in enumerate(aids.tolist())}
    n_c, n_a = len(comps), len(aids)
    candidates = _ranked_candidates(tg, hours)
    teaches = _teaches(tg)
    ancestors = {c: frozenset(nx.ancestors(graph, c)) for c in comps}
    adj = np.zeros((n_c, n_c))
    anc = np.zeros((n_c, n_c))
    for c in comps:
        adj[[cpos[q] for q in graph.predecessors(c)], cpos[c]] = 1.0
        anc[cpos[c], [cpos[q] for q in ancestors[c]]] = 1.0
    # targets outside the graph never enter a plan; the batch arrays leave them out
    taught = [[(cpos[t], g) for t, g in teaches.get(a, ()) if t in cpos] for a in aids]
    tidx = _padded([[j for j, _ in row] for row in taught] + [[]], n_c)
    tgain = np.zeros(tidx.shape)
    for i, row in enumerate(taught):
        tgain[i, : len(row)] = [g for _, g in row]
    arrays = {
        "adj": adj, "anc": anc,
        "pidx": _padded([sorted(cpos[q] for q in graph.predecessors(c)) for c in comps], n_c),
        "sidx": _padded([sorted(cpos[s] for s in graph.successors(c)) for c in comps], n_c),
        "cand": _padded([[apos[a] for a in candidates.get(c, ())] for c in comps], n_a),
        "tidx": tidx, "tgain": tgain,
        "hours_arr": np.r_[hours.reindex(aids).to_numpy(float), 0.0],
        "format_arr": acts["format"].reindex(aids).astype(str).to_numpy(object),
        "modality_arr": acts["modality"].reindex(aids).astype(str).to_numpy(object),
        "name_arr": np.asarray([str(graph.nodes[c].get("name", c)) for c in comps], dtype=object),
        "title_arr": acts["title"].reindex(aids).astype(str).to_numpy(object),
    }
    for a in arrays.values():
        a.flags.writeable = False
    return PathwayIndex(
        graph=graph, catalog=catalog, gains=gains, competencies=comps, activity_ids=aids,
        competency_pos=cpos, activity_pos=apos,
        names={c: str(graph.nodes[c].get("name", c)) for c in comps},
        titles={str(a): str(t) for a, t in acts["title"].items()},
        hours={str(a): float(h) for a, h in hours.items()},
        formats={str(a): str(f) for a, f in acts["format"].items()},
        modalities={str(a): str(m) for a, m in acts["modality"].items()},
        predecessors={c: tuple(graph.predecessors(c)) for c in comps},
        successors={c: tuple(graph.successors(c)) for c in comps},
        ancestors=ancestors, candidates=candidates, teaches=teaches, **arrays,
    )


_FROM_RANKING: weakref.WeakKeyDictionary[RankingIndex, PathwayIndex] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def resolve_pathway_index(graph: nx.DiGraph, catalog: Catalog, gains: pd.DataFrame | None,
                          index: PathwayIndex | RankingIndex | None) -> PathwayIndex:
    """``index`` checked against the objects passed, or a new one built from them.

    A :class:`~recommender.ranking.RankingIndex` is checked the same way, then turned into a
    pathway index of its graph, catalog and gains once (kept while the ranking index lives).

    Raises
    ------
    TypeError
        ``index`` is neither a PathwayIndex nor a RankingIndex.
    ValueError
        ``index`` was built from other objects, or ``gains`` is malformed.
    """
    if index is None:
        return prepare_pathway(graph, catalog, gains)
    if isinstance(index, PathwayIndex):
        index.check(graph, catalog, gains)
        return index
    if not isinstance(index, RankingIndex):
        raise TypeError("index must be a PathwayIndex or a RankingIndex (prepare_pathway() or "
                        f"recommender.ranking.prepare()); got {type(index).__name__}")
    index.check(graph, catalog, gains)
    with _LOCK:
        found = _FROM_RANKING.get(index)
    if found is None:
        found = prepare_pathway(index.graph, index.catalog, index.gains)
        with _LOCK:
            found = _FROM_RANKING.setdefault(index, found)
    return found
