"""Queries, and the evidence prepared once per build for every feature family to read.

A *query* is ``(educator, competency, as_of, source)``. Training queries are the evidence records
themselves; serving queries are the competencies of each educator as of one time.
:func:`prepare` puts evidence and queries on shared integer codes (educators, competencies, time
as a dense rank) and runs the two scans most families read: per educator x competency ("own")
and per educator. Every family function takes the resulting :class:`History` and returns its
columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recommender.evidence import SOURCES
from recommender.features.asof import AsOf, take, to_ns

__all__ = ["SOURCE_INDEX", "History", "Queries", "prepare"]

SOURCE_INDEX = pd.Index(SOURCES, dtype=object)


@dataclass(frozen=True)
class Queries:
    """Queries as arrays: educator id, competency code, as-of time (ns), source code."""

    educator_ids: np.ndarray  # object/str ids, one per query
    c: np.ndarray
    t: np.ndarray
    source: np.ndarray

    @classmethod
    def for_records(cls, evidence: pd.DataFrame, competency_index: pd.Index) -> Queries:
        """One query per evidence record: its educator, competency, time and source."""
        return cls(
            educator_ids=evidence["educator_id"].to_numpy(),
            c=competency_index.get_indexer(evidence["competency_id"].to_numpy(dtype=object)),
            t=to_ns(evidence["observed_at"]),
            source=SOURCE_INDEX.get_indexer(evidence["source"].to_numpy(dtype=object)),
        )

    @classmethod
    def for_grid(cls, educator_ids: np.ndarray, codes: np.ndarray, times: np.ndarray,
                 source: str) -> Queries:
        """Every competency code of ``codes`` for each educator, each as of its time in
        ``times`` (ns, one per educator), about ``source``."""
        n = len(educator_ids) * len(codes)
        return cls(
            educator_ids=np.repeat(educator_ids, len(codes)),
            c=np.tile(codes, len(educator_ids)),
            t=np.repeat(np.asarray(times, dtype=np.int64), len(codes)),
            source=np.full(n, SOURCES.index(source), dtype=np.int64),
        )


@dataclass(frozen=True)
class History:
    """Evidence and queries on shared codes, with the per-educator x competency and per-educator
    scans. Arrays named ``own_*`` are in ``own.order``, ``edu_*`` in ``edu.order``, the rest in
    the evidence's input order.

    ``own_cum`` columns: 0 count, 1 proficient, 2 score, 3 decay weight ``w = exp((t - t_first) /
    tau)`` relative to the group's first record (exact per group; ratios of ``w`` sums are the
    decayed means), 4 ``w * score``, then a count per source and a score sum per source (in
    :data:`~recommender.evidence.SOURCES` order). ``edu_cum`` columns: count, proficient, score.
    """

    q: Queries
    q_e: np.ndarray  # educator code per query
    q_r: np.ndarray  # time rank per query
    n_ranks: int  # number of distinct times (evidence and queries)
    educators: pd.Index  # educator id of each code
    ev_e: np.ndarray  # educator code per record
    ev_c: np.ndarray  # competency code per record
    ev_r: np.ndarray  # time rank per record
    score: np.ndarray  # normalized score per record
    prof: np.ndarray  # 1.0 if proficient, per record
    base: np.ndarray  # per record: count (1), proficient, score: the sums most scans take
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
    edu_weight: np.ndarray  # decayed count of the educator's records up to each one
    epos: np.ndarray  # per query: the educator's last record before as_of, -1 if none
    edu_rows: np.ndarray  # edu_cum at epos

    @property
    def n_queries(self) -> int:
        return len(self.q.c)


def prepare(q: Queries, ev: pd.DataFrame, competency_index: pd.Index, tau: float) -> History:
    """Code evidence and queries, sort and scan the evidence once; ``tau`` in ns."""
    n_comp = len(competency_index)
    all_ids = np.concatenate([ev["educator_id"].to_numpy(dtype=object),
                              np.asarray(q.educator_ids, dtype=object)])
    codes, uniques = pd.factorize(all_ids)
    ev_e, q_e = codes[: len(ev)].astype(np.int64), codes[len(ev):].astype(np.int64)
    ev_t = to_ns(ev["observed_at"])
    ev_c = competency_index.get_indexer(ev["competency_id"].to_numpy(dtype=object))
    ev_src = SOURCE_INDEX.get_indexer(ev["source"].to_numpy(dtype=object))
    times, inverse = np.unique(np.r_[ev_t, q.t], return_inverse=True)
    ev_r, q_r = inverse[: len(ev)].astype(np.int64), inverse[len(ev):].astype(np.int64)
    score = ev["score_norm"].to_numpy(float)
    prof = ev["proficient"].to_numpy(bool).astype(float)

    own = AsOf(ev_e * n_comp + ev_c, ev_r, len(times))
    s_sorted, p_sorted, t_sorted = score[own.order], prof[own.order], ev_t[own.order]
    w = np.exp((t_sorted - t_sorted[own.start]) / tau)
    src = ev_src[own.order][:, None] == np.arange(len(SOURCES))[None, :]
    own_cum = own.accumulate(
        np.column_stack([np.ones(len(ev)), p_sorted, s_sorted, w, w * s_sorted, src,
                         src * s_sorted[:, None]])
    )
    pos = own.index(q_e * n_comp + q.c, q_r)

    edu = AsOf(ev_e, ev_r, len(times))
    base = np.column_stack([np.ones(len(ev)), prof, score])
    edu_cum = edu.accumulate(base[edu.order])
    epos = edu.index(q_e, q_r)
    e_t = ev_t[edu.order]
    return History(
        q=q, q_e=q_e, q_r=q_r, n_ranks=len(times), educators=pd.Index(uniques, dtype=object),
        ev_e=ev_e, ev_c=ev_c, ev_r=ev_r, score=score, prof=prof, base=base, tau=tau,
        own=own, own_cum=own_cum, own_score=s_sorted, own_time=t_sorted,
        own_rank=ev_r[own.order], pos=pos, own_rows=take(own_cum, pos),
        edu=edu, edu_cum=edu_cum, edu_score=score[edu.order], edu_time=e_t,
        edu_competency=ev_c[edu.order], edu_weight=edu.decayed(e_t, np.ones(len(ev)), tau),
        epos=epos, edu_rows=take(edu_cum, epos),
    )
