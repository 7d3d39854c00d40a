"""Queries, and the evidence prepared once per build for every feature family to read.

A *query* is ``(educator, competency, as_of, source)``. Training queries are the evidence records
themselves; serving queries are the competencies of each educator as of one time.
:func:`prepare` puts evidence and queries on shared integer codes (educators, competencies, time
as a dense rank) and runs the two scans most families read: per educator x competency ("own")
and per educator. Every family function takes the resulting :class:`History` and returns its
columns.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from recommender.evidence import SOURCES
from recommender.features.asof import AsOf, column_major, filled, stack_columns, take, to_ns
from recommender.features.door import column_array, column_values
from recommender.features.lookup import Lookup, factorize

__all__ = ["SOURCE_INDEX", "SOURCE_LOOKUP", "History", "Queries", "Records", "object_index",
           "prepare"]

SOURCE_INDEX = pd.Index(SOURCES, dtype=object)
SOURCE_LOOKUP = Lookup(SOURCES)


def object_index(values) -> pd.Index:
    """``values`` as an object-dtype Index, the fast argument of ``Index.get_indexer``: a plain
    array of strings would first be inferred as a string array, which costs more than the
    lookup itself on a single educator's rows."""
    return pd.Index(np.asarray(values, dtype=object), dtype=object)


@dataclass(frozen=True)
class Queries:
    """Queries as arrays: educator id, competency code, as-of time (ns), source code."""

    educator_ids: np.ndarray  # object/str ids, one per query
    c: np.ndarray
    t: np.ndarray
    source: np.ndarray
    block: int = 0
    """``k > 0`` when the queries come in blocks of ``k``, one per educator, all of a block at one
    time, with competency codes ``0 .. k-1`` in order (a serving grid of every competency);
    0 otherwise. In such a block a neighbour's history is its own query's."""

    @classmethod
    def for_records(cls, records: Records) -> Queries:
        """One query per evidence record: its educator, competency, time and source."""
        return cls(educator_ids=records.educator_id, c=records.c, t=records.t,
                   source=records.source)

    @classmethod
    def for_grid(cls, educator_ids: np.ndarray, codes: np.ndarray, times: np.ndarray,
                 source: str) -> Queries:
        """Every competency code of ``codes`` for each educator, each as of its time in
        ``times`` (ns, one per educator), about ``source``."""
        n_e, k = len(educator_ids), len(codes)
        in_order = bool((codes == np.arange(k)).all())
        return cls(
            educator_ids=np.asarray(educator_ids).repeat(k),
            c=codes.reshape(1, k).repeat(n_e, axis=0).reshape(-1),  # codes, once per educator
            t=np.asarray(times, dtype=np.int64).repeat(k),
            source=filled(n_e * k, SOURCES.index(source), np.int64),
            block=k if in_order else 0,
        )


@dataclass(frozen=True)
class Records:
    """Validated evidence as arrays, in record order ``(observed_at, evidence_id)``: the scans
    break ties between simultaneous records by position, so every build reads this one order.

    Read from the frame once (a column lookup on a DataFrame costs more than most features of a
    single educator), with competencies and sources as codes (-1: unknown).
    """

    evidence_id: np.ndarray
    educator_id: np.ndarray  # object
    c: np.ndarray
    t: np.ndarray  # ns
    source: np.ndarray
    score: np.ndarray  # normalized score
    proficient: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.c)

    def take(self, rows: np.ndarray) -> Records:
        """The records at positions ``rows`` (ascending positions keep record order)."""
        return Records(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    @classmethod
    def from_frame(cls, evidence: pd.DataFrame, competencies: Lookup) -> Records:
        """The arrays of ``evidence`` (validated evidence), sorted into record order;
        ``competencies`` gives each competency id its code."""
        ids = column_array(evidence, "evidence_id")
        t = to_ns(column_values(evidence, "observed_at"))
        arrays = {
            "evidence_id": ids,
            "educator_id": column_array(evidence, "educator_id", object),
            "c": competencies.positions(column_values(evidence, "competency_id")),
            "t": t,
            "source": SOURCE_LOOKUP.positions(column_values(evidence, "source")),
            "score": column_array(evidence, "score_norm", float),
            "proficient": column_array(evidence, "proficient", bool),
        }
        if not _in_record_order(t, ids):
            rank, _ = pd.factorize(ids, sort=True)
            order = np.lexsort((rank, t))
            arrays = {k: v[order] for k, v in arrays.items()}
        return cls(**arrays)


def dense_ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values in order, and each value's position among them (int64):
    ``np.unique(values, return_inverse=True)`` by one sort and a cumulative count, without its
    Python-level steps.

    >>> [a.tolist() for a in dense_ranks(np.array([30, 10, 30, 20]))]
    [[10, 20, 30], [2, 0, 2, 1]]
    """
    order = values.argsort(kind="stable")
    ordered = values[order]
    new = filled(len(ordered), True, bool)  # the first of its value
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = new.cumsum() - 1
    return ordered[new], ranks


def _in_record_order(t: np.ndarray, ids: np.ndarray) -> bool:
    """Whether records with times ``t`` and ids ``ids`` are already in (time, id) order (ids
    are compared only where times tie)."""
    step = t[1:] - t[:-1]
    if (step < 0).any():
        return False
    tie = (step == 0).nonzero()[0]
    return bool((ids[tie] <= ids[tie + 1]).all()) if len(tie) else True


@dataclass(frozen=True)
class History:
    """Evidence and queries on shared codes, with the per-educator x competency and per-educator
    scans. Arrays named ``own_*`` are in ``own.order``, ``edu_*`` in ``edu.order``, the rest in
    the evidence's input order.

    ``own_cum`` columns: 0 count, 1 proficient, 2 score, 3 decay weight ``w = exp((t - t_first) /
    tau)`` relative to the group's first record (exact per group; ratios of ``w`` sums are the
    decayed means), 4 ``w * score``, then a count per source and a score sum per source (in
    :data:`~recommender.evidence.SOURCES` order). ``edu_cum`` columns: count, proficient, score,
    first (1 for a record that is the first on its competency), first x score, residual (score
    minus ``residual_of`` its competency). ``edu_decayed_rows`` columns, decayed as
    :meth:`~.asof.AsOf.decayed` over the educator's records and read at ``epos``: count (the
    decayed weight), score, residual. Every family's scan of the educator's records is one of
    these two: a column more costs little, a scan more costs its passes (the columns are
    independent, so each holds the numbers a scan of it alone gives). ``own_cum`` and ``edu_cum``
    are column-major (:func:`~.asof.column_major`), and so are their rows at the queries
    (``own_rows``, ``edu_rows``): families read them column by column.
    """

    q: Queries
    q_e: np.ndarray  # educator code per query
    q_r: np.ndarray  # time rank per query
    times: np.ndarray  # the distinct times (ns) of evidence and queries, sorted: rank r is times[r]
    educators: np.ndarray  # educator id of each code (object)
    ev_e: np.ndarray  # educator code per record
    ev_c: np.ndarray  # competency code per record
    ev_r: np.ndarray  # time rank per record
    score: np.ndarray  # normalized score per record
    prof: np.ndarray  # 1.0 if proficient, per record
    tau: float  # decay time constant in ns
    own: AsOf  # groups: educator x competency
    own_cum: np.ndarray
    own_score: np.ndarray
    own_time: np.ndarray  # ns
    own_rank: np.ndarray
    pos: np.ndarray  # per query: its last own record before as_of, -1 if none
    own_rows: np.ndarray  # own_cum at pos (zeros without history)
    edu: AsOf  # groups: educator
    edu_cum: np.ndarray
    edu_score: np.ndarray
    edu_time: np.ndarray  # ns
    edu_competency: np.ndarray
    epos: np.ndarray  # per query: the educator's last record before as_of, -1 if none
    edu_rows: np.ndarray  # edu_cum at epos
    edu_decayed_rows: np.ndarray  # the educator's decayed sums at epos (columns: see above)

    @property
    def n_queries(self) -> int:
        return len(self.q.c)

    @property
    def n_ranks(self) -> int:
        """The number of distinct times (evidence and queries)."""
        return len(self.times)


def prepare(q: Queries, ev: Records, n_comp: int, tau: float,
            residual_of: np.ndarray) -> History:
    """Code evidence and queries, sort and scan the evidence once; ``tau`` in ns;
    ``residual_of`` the value each competency code's scores are measured against in the
    residual columns (the difficulty's mean score)."""
    # a grid's blocks share one educator and one time: code each block once, then repeat.
    # Educators are coded in query order first: a grid's (educator, competency) groups then sort
    # in query order, so every per-query search and gather below walks the sorted records
    # forward instead of jumping about them (the same numbers: a group's sums never depend on
    # where it sits)
    per = q.block or 1
    n_q = len(q.educator_ids) // per
    codes, uniques = factorize(np.concatenate([np.asarray(q.educator_ids[::per], dtype=object),
                                               ev.educator_id]))
    q_e, ev_e = codes[:n_q].astype(np.int64), codes[n_q:].astype(np.int64)
    ev_t, ev_c, ev_src = ev.t, ev.c, ev.source
    times, inverse = dense_ranks(np.concatenate([ev_t, q.t[::per]]))
    ev_r, q_r = inverse[: len(ev)], inverse[len(ev):]
    q_e, q_r = q_e.repeat(per), q_r.repeat(per)
    score = ev.score
    prof = ev.proficient.astype(float)

    own = AsOf(ev_e * n_comp + ev_c, ev_r, len(times))
    s_sorted, p_sorted, t_sorted = score[own.order], prof[own.order], ev_t[own.order]
    w = np.exp((t_sorted - t_sorted[own.start]) / tau)
    src = ev_src[own.order][:, None] == np.arange(len(SOURCES))[None, :]
    # counts by a cumulative count (exact: they are integers), sums of fractions by the scan
    counts = own.count(stack_columns(p_sorted, src))
    sums = own.accumulate(stack_columns(s_sorted, w, w * s_sorted, src * s_sorted[:, None]))
    own_cum = column_major(own.offset + 1.0, counts[:, :1], sums[:, :3], counts[:, 1:],
                           sums[:, 3:])
    pos = own.index(q_e * n_comp + q.c, q_r)

    edu = AsOf(ev_e, ev_r, len(times))
    first = np.zeros(len(ev))
    first[own.order] = own.offset == 0  # the first record on each competency
    # the educator's records in their scan order, gathered once for every scan of them
    e_t, e_score, e_first = ev_t[edu.order], score[edu.order], first[edu.order]
    e_residual = (score - residual_of[ev_c])[edu.order]
    edu_counts = edu.count(stack_columns(prof[edu.order], e_first))
    edu_sums = edu.accumulate(stack_columns(e_score, e_first * e_score, e_residual))
    edu_cum = column_major(edu.offset + 1.0, edu_counts[:, :1], edu_sums[:, :1],
                           edu_counts[:, 1:], edu_sums[:, 1:])
    epos = edu.index(q_e, q_r)
    edu_decayed = edu.decayed(e_t, stack_columns(filled(len(ev), 1.0), e_score, e_residual), tau)
    return History(
        q=q, q_e=q_e, q_r=q_r, times=times, educators=uniques,
        ev_e=ev_e, ev_c=ev_c, ev_r=ev_r, score=score, prof=prof, tau=tau,
        own=own, own_cum=own_cum, own_score=s_sorted, own_time=t_sorted,
        own_rank=ev_r[own.order], pos=pos, own_rows=take(own_cum, pos),
        edu=edu, edu_cum=edu_cum, edu_score=e_score, edu_time=e_t,
        edu_competency=ev_c[edu.order], epos=epos,
        edu_rows=take(edu_cum, epos), edu_decayed_rows=take(edu_decayed, epos),
    )
