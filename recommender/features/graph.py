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
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from recommender.features.asof import filled, gather, ratio
from recommender.features.context import History

__all__ = ["ROUNDING", "Latest", "Neighbourhood", "Neighbourhoods", "columns", "csr",
           "last_scores"]

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


@dataclass(frozen=True, eq=False)
class Neighbourhoods:
    """The named neighbourhoods of the framework's competencies, and all of them as the segments
    of one CSR (neighbourhood-major, then competency) that a serving grid reduces at once, with
    the segment of each pair and each segment's 0/1 neighbour membership: derived from the
    framework alone, so built once per feature builder, not per request."""

    by_name: dict[str, Neighbourhood]
    indptr: np.ndarray
    indices: np.ndarray
    pair_seg: np.ndarray
    member: np.ndarray  # (competency, segment): 1.0 when the competency is in the segment

    @classmethod
    def of(cls, by_name: dict[str, Neighbourhood]) -> Neighbourhoods:
        sizes = np.concatenate([np.diff(indptr) for indptr, _ in by_name.values()])
        indices = np.concatenate([found for _, found in by_name.values()])
        pair_seg = np.repeat(np.arange(len(sizes)), sizes)
        n_comp = len(next(iter(by_name.values()))[0]) - 1
        member = np.zeros((n_comp, len(sizes)))
        member[indices, pair_seg] = 1.0  # a neighbour is listed once per segment
        return cls(by_name, np.r_[0, np.cumsum(sizes)], indices, pair_seg, member)


_WITH_LATEST = ("prereq", "dep")
"""The neighbourhoods whose latest record is read (``graph_<n>_last_score``, sequence context)."""

Stats = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""A neighbourhood's columns per query: mean mastery, lowest, how many evidenced, share
proficient."""


def columns(h: History, neighbourhoods: Neighbourhoods, depth: np.ndarray,
            proficient_at: float) -> tuple[dict[str, np.ndarray], dict[str, Latest]]:
    """The neighbourhood aggregates and static structure columns, and the :class:`Latest` record
    on the direct prerequisites and dependents (read again by the ``_last_score`` and sequence
    columns).

    Every (query, neighbour) pair is one element, pairs in query order and, within a query, in
    neighbour code order. In a grid of every competency (``h.q.block``) the pairs of all
    educators share one layout, an (educator, pair) array whose neighbour's history is its own
    query's: no per-pair search, and minima, counts and the latest record are reductions over
    each competency's slice of pairs (:class:`_Grid`), every neighbourhood's at once; sums stay
    a ``bincount`` in pair order, so both layouts add the same numbers in the same order.
    """
    n_comp = len(depth)
    if h.q.block == n_comp:
        stats, latest = _Grid.of(h, proficient_at).reduce(h, neighbourhoods, _WITH_LATEST)
    else:
        # each own record's decayed mean, as the queries whose neighbour it is see it
        decay_mean = ratio(h.own_cum[:, 4], h.own_cum[:, 3])
        stats, latest = {}, {}
        for name, (indptr, indices) in neighbourhoods.by_name.items():
            stats[name], last = _pair_stats(h, indptr, indices, decay_mean, proficient_at,
                                            name in _WITH_LATEST)
            if last is not None:
                latest[name] = last
    cols: dict[str, np.ndarray] = {}
    for name, (mastery, lowest, n_has, share) in stats.items():
        cols.update({f"graph_{name}_mastery": mastery, f"graph_{name}_min": lowest,
                     f"graph_{name}_n_evidenced": n_has,
                     f"graph_{name}_share_proficient": share})
    cols["graph_depth"] = depth[h.q.c]
    for name, column in (("prereq", "graph_n_prereqs"), ("dep", "graph_n_dependents")):
        indptr = neighbourhoods.by_name[name][0]
        cols[column] = (indptr[1:] - indptr[:-1])[h.q.c].astype(float)
    return cols, latest


def _stats(total: np.ndarray, n_has: np.ndarray, lowest: np.ndarray, n_prof: np.ndarray,
           size: np.ndarray) -> Stats:
    """:data:`Stats` from the sums over each query's neighbours (``size`` of them; arrays of
    any one shape, or ``size`` broadcast over their last axis)."""
    return (ratio(total, n_has), np.where(n_has > 0, lowest, np.nan), n_has,
            ratio(n_prof, size.astype(float)))


def _pair_stats(h: History, indptr: np.ndarray, indices: np.ndarray, decay_mean: np.ndarray,
                proficient_at: float, with_latest: bool) -> tuple[Stats, Latest | None]:
    """:data:`Stats` of one neighbourhood over its (query, neighbour) pairs, each neighbour's
    history searched (any queries), and the :class:`Latest` record when ``with_latest``."""
    n_comp = len(indptr) - 1
    counts = np.diff(indptr)[h.q.c]
    qi = np.repeat(np.arange(h.n_queries), counts)  # the query of each pair
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    neighbour = indices[np.repeat(indptr[h.q.c], counts) + offsets]
    npos = h.own.index(h.q_e[qi] * n_comp + neighbour, h.q_r[qi])
    mastery = gather(decay_mean, npos)
    total = np.bincount(qi, weights=np.where(npos >= 0, mastery, 0.0), minlength=h.n_queries)
    n_has, lowest, n_prof, last = _pair_reduce(h, qi, npos, mastery, proficient_at, with_latest)
    return _stats(total, n_has, lowest, n_prof, counts), last


def last_scores(latest: dict[str, Latest]) -> dict[str, np.ndarray]:
    """``graph_prereq_last_score`` and ``graph_dep_last_score`` from :func:`columns`' latest."""
    return {f"graph_{name}_last_score": latest[name].score for name in ("prereq", "dep")}


Reduced = tuple[np.ndarray, np.ndarray, np.ndarray, "Latest | None"]
"""Per query: neighbours with evidence, their lowest mastery (inf: none), how many are
proficient, and the latest record on one (when asked)."""


def _proficient(has: np.ndarray, mastery: np.ndarray, proficient_at: float) -> np.ndarray:
    """Neighbours with evidence whose mastery reaches ``proficient_at`` (up to rounding); a
    neighbour with evidence always has a mastery (its decay weights are positive)."""
    return has & (np.where(has, mastery, 0.0) >= proficient_at - ROUNDING)


def _pair_reduce(h: History, qi: np.ndarray, npos: np.ndarray, mastery: np.ndarray,
                 proficient_at: float, with_latest: bool) -> Reduced:
    """:data:`Reduced` of pairs whose query is ``qi``, in any query order."""
    n_q = h.n_queries
    has = npos >= 0
    lowest = np.full(n_q, np.inf)
    np.minimum.at(lowest, qi[has], mastery[has])
    return (np.bincount(qi, weights=has, minlength=n_q).astype(float), lowest,
            np.bincount(qi, weights=_proficient(has, mastery, proficient_at),
                        minlength=n_q).astype(float),
            _latest(h, qi, npos) if with_latest else None)


@dataclass(frozen=True)
class _Grid:
    """A serving grid's per-query values as (educator, competency) arrays: a neighbour's
    history is its own query's, so the pairs of a neighbourhood are a column gather of these
    (``values[:, indices]``), with no search and no per-pair index."""

    pos: np.ndarray
    has: np.ndarray  # 1.0 where evidenced
    weight: np.ndarray  # mastery where evidenced, else 0: the summands of the mean
    lowest: np.ndarray  # mastery where evidenced, else inf: the candidates of the minimum
    proficient: np.ndarray

    @classmethod
    def of(cls, h: History, proficient_at: float) -> _Grid:
        """The grid of ``h``'s queries; a query's mastery is its own decayed mean, read from
        its own rows (the same numbers as the records' decayed means at its position)."""
        n_comp = h.q.block
        n_e = h.n_queries // n_comp
        pos = h.pos.reshape(n_e, n_comp)
        has = pos >= 0
        mastery = ratio(h.own_rows[:, 4], h.own_rows[:, 3]).reshape(n_e, n_comp)
        return cls(pos, has.astype(float), np.where(has, mastery, 0.0),
                   np.where(has, mastery, np.inf),
                   _proficient(has, mastery, proficient_at).astype(float))

    def reduce(self, h: History, neighbourhoods: Neighbourhoods, with_latest: tuple[str, ...]
               ) -> tuple[dict[str, Stats], dict[str, Latest]]:
        """Per neighbourhood, its :data:`Stats` (each mastery sum a ``bincount`` in pair order,
        as the per-pair path adds them), and the :class:`Latest` record of the neighbourhoods
        named in ``with_latest``.

        All neighbourhoods are reduced at once, as the segments of one CSR (neighbourhood-major,
        then competency): one gather and one ``reduceat`` per statistic, and one ratio per
        column family, instead of one per neighbourhood. Counts are products with the
        segments' 0/1 membership matrix (sums of ones, exact in any order), minima do not
        depend on the order, and each mastery sum adds its segment's pairs in their order, as a
        reduction of that neighbourhood alone does.
        """
        n_e, n_comp = self.pos.shape
        nb = neighbourhoods
        n_seg = len(nb.indptr) - 1
        total = np.bincount(((np.arange(n_e) * n_seg)[:, None] + nb.pair_seg).ravel(),
                            weights=self.weight.take(nb.indices, axis=1).ravel(),
                            minlength=n_e * n_seg).reshape(n_e, n_seg)
        n_has, n_prof = self.has @ nb.member, self.proficient @ nb.member
        lowest = _per_segment(np.minimum, self.lowest.take(nb.indices, axis=1), nb.indptr,
                              np.inf)
        stats = _stats(total, n_has, lowest, n_prof, nb.indptr[1:] - nb.indptr[:-1])
        names = list(nb.by_name)
        parts = {name: slice(j * n_comp, (j + 1) * n_comp) for j, name in enumerate(names)}
        # the latest record over the leading neighbourhoods that hold every name asked for
        lead = max((names.index(name) + 1 for name in with_latest), default=0)
        score, top = self._latest(h, nb, lead * n_comp)
        return ({name: tuple(a[:, part].ravel() for a in stats) for name, part in parts.items()},
                {name: Latest(score[:, parts[name]].ravel(), top[:, parts[name]].ravel())
                 for name in with_latest})

    def _latest(self, h: History, nb: Neighbourhoods, n_seg: int
                ) -> tuple[np.ndarray, np.ndarray]:
        """The score and time rank of the latest record on each of the first ``n_seg``
        segments of ``nb`` per educator (NaN and -1 without one): the highest time rank, ties to
        the later pair."""
        n_e = len(self.pos)
        indptr = nb.indptr[: n_seg + 1]
        n_pairs = indptr[-1]
        npos = self.pos.take(nb.indices[:n_pairs], axis=1)
        rank = gather(h.own_rank, npos.ravel(), -1).reshape(npos.shape)
        # the highest (rank, pair) of each segment in one reduction: rank * n_pairs + pair orders
        # by rank, then by pair; negative where the neighbour has no record (rank -1)
        per = max(int(n_pairs), 1)  # no pairs: every segment is empty (-1)
        best = _per_segment(np.maximum, rank * per + np.arange(n_pairs), indptr, -1)
        top = np.where(best >= 0, best // per, -1)
        e, c = (best >= 0).nonzero()
        score = filled((n_e, n_seg), np.nan)
        score[e, c] = h.own_score[npos[e, best[e, c] % per]]
        return score, top


def _per_segment(ufunc: np.ufunc, values: np.ndarray, indptr: np.ndarray, empty) -> np.ndarray:
    """``ufunc`` reduced over each segment ``indptr[s]:indptr[s + 1]`` of the columns of
    ``values`` (one row per educator); ``empty`` where a segment has no pairs."""
    out = filled((len(values), len(indptr) - 1), empty, values.dtype)
    seg = (indptr[1:] != indptr[:-1]).nonzero()[0]
    if len(seg):
        out[:, seg] = ufunc.reduceat(values, indptr[seg], axis=1)
    return out


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
