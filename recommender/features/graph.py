"""``graph_``: evidence on the competency's neighbours in the prerequisite graph, and its place there.

For each neighbourhood of the query's competency, ``prereq`` (direct prerequisites), ``dep``
(direct dependents), ``anc`` (all ancestors) and ``desc`` (all descendants), each neighbour's
*mastery* is its ``own_decay_mean`` for the same educator as of the same time (see
:mod:`recommender.features.own`); neighbours without evidence have none. Then:

- ``graph_<n>_mastery`` the mean mastery over evidenced neighbours, ``graph_<n>_min`` the lowest,
  ``graph_<n>_n_evidenced`` how many neighbours have evidence, and
  ``graph_<n>_share_proficient`` the share of *all* neighbours whose mastery reaches
  ``proficient_at`` (NaN without neighbours); "reaches" allows :data:`ROUNDING` below it, since
  a decayed mean of records all scored at the threshold (3 on the 1-4 rubric) can come out one
  rounding error short of it;
- ``graph_prereq_last_score`` / ``graph_dep_last_score``: the score of the latest record on any
  direct prerequisite / dependent (ties at one time go to the later competency in the
  framework's lexicographic topological order, then the later ``evidence_id``);
- ``graph_depth`` (longest prerequisite chain above it), ``graph_n_prereqs``,
  ``graph_n_dependents``: static structure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

import numpy as np

from recommender.features.asof import gather, ratio
from recommender.features.context import History

__all__ = ["ROUNDING", "Latest", "Neighbourhood", "columns", "csr", "last_scores"]

ROUNDING = 1e-9
"""How far below ``proficient_at`` a neighbour's mastery may fall by rounding and still reach it."""

Neighbourhood = tuple[np.ndarray, np.ndarray]
"""A competency -> neighbours map in CSR form: ``(indptr, indices)`` over competency codes."""


class Latest(NamedTuple):
    """Per query: the score and time rank of the latest record on a neighbour (NaN / -1: none)."""

    score: np.ndarray
    rank: np.ndarray


def csr(competencies: list[str], neighbours: Callable[[str], Iterable[str]]) -> Neighbourhood:
    """The neighbours of each competency (in code order) as sorted codes, in CSR form."""
    code = {c: i for i, c in enumerate(competencies)}
    lists = [sorted(code[n] for n in neighbours(c)) for c in competencies]
    indptr = np.r_[0, np.cumsum([len(x) for x in lists])].astype(np.int64)
    indices = np.array([i for x in lists for i in x], dtype=np.int64)
    return indptr, indices


def columns(h: History, neighbourhoods: dict[str, Neighbourhood], depth: np.ndarray,
            proficient_at: float) -> tuple[dict[str, np.ndarray], dict[str, Latest]]:
    """The neighbourhood aggregates and static structure columns, and the :class:`Latest` record
    on the direct prerequisites and dependents (read again by the ``_last_score`` and sequence
    columns)."""
    n_comp = len(depth)
    decay_mean = ratio(h.own_cum[:, 4], h.own_cum[:, 3])  # per own record, as its neighbours see it
    cols: dict[str, np.ndarray] = {}
    latest: dict[str, Latest] = {}
    for name, (indptr, indices) in neighbourhoods.items():
        counts = np.diff(indptr)[h.q.c]
        qi = np.repeat(np.arange(h.n_queries), counts)  # the query of each (query, neighbour)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        neighbour = indices[np.repeat(indptr[h.q.c], counts) + offsets]
        if h.q.block == n_comp:  # a grid of every competency: the neighbour's own query
            npos = h.pos[qi - h.q.c[qi] + neighbour]
        else:
            npos = h.own.index(h.q_e[qi] * n_comp + neighbour, h.q_r[qi])
        cols.update(_aggregates(name, qi, counts, npos >= 0, gather(decay_mean, npos),
                                proficient_at))
        if name in ("prereq", "dep"):
            latest[name] = _latest(h, qi, npos)
    cols["graph_depth"] = depth[h.q.c]
    cols["graph_n_prereqs"] = np.diff(neighbourhoods["prereq"][0])[h.q.c].astype(float)
    cols["graph_n_dependents"] = np.diff(neighbourhoods["dep"][0])[h.q.c].astype(float)
    return cols, latest


def last_scores(latest: dict[str, Latest]) -> dict[str, np.ndarray]:
    """``graph_prereq_last_score`` and ``graph_dep_last_score`` from :func:`columns`' latest."""
    return {f"graph_{name}_last_score": latest[name].score for name in ("prereq", "dep")}


def _aggregates(name: str, qi: np.ndarray, counts: np.ndarray, has: np.ndarray,
                mastery: np.ndarray, proficient_at: float) -> dict[str, np.ndarray]:
    """Mean, min, count and share proficient of the ``mastery`` of the neighbours that ``has``
    evidence, where ``qi`` names the query of each (query, neighbour) pair and ``counts`` the
    neighbours per query."""
    n_q = len(counts)
    n_has = np.bincount(qi, weights=has, minlength=n_q).astype(float)
    total = np.bincount(qi, weights=np.where(has, mastery, 0.0), minlength=n_q).astype(float)
    lowest = np.full(n_q, np.inf)
    np.minimum.at(lowest, qi[has], mastery[has])
    n_prof = np.bincount(qi, weights=has & (np.nan_to_num(mastery) >= proficient_at - ROUNDING),
                         minlength=n_q).astype(float)
    return {
        f"graph_{name}_mastery": ratio(total, n_has),
        f"graph_{name}_min": np.where(n_has > 0, lowest, np.nan),
        f"graph_{name}_n_evidenced": n_has,
        f"graph_{name}_share_proficient": ratio(n_prof, counts.astype(float)),
    }


def _latest(h: History, qi: np.ndarray, npos: np.ndarray) -> Latest:
    """The latest record over each query's neighbours, from their positions ``npos``."""
    has = npos >= 0
    rank = gather(h.own_rank, npos, -1)
    order = np.lexsort((rank, qi))
    q_sorted = qi[order]
    last_of_query = np.r_[q_sorted[1:] != q_sorted[:-1], True][: len(order)]
    sel = order[last_of_query]
    sel = sel[has[sel]]
    score, at_rank = np.full(h.n_queries, np.nan), np.full(h.n_queries, -1, dtype=np.int64)
    score[qi[sel]] = h.own_score[npos[sel]]
    at_rank[qi[sel]] = rank[sel]
    return Latest(score, at_rank)
