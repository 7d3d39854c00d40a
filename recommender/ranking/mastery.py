"""Reading mastery tables: one educator's table, or a long frame for many, checked at the door.

A **mastery table** for one educator is a DataFrame indexed by ``competency_id`` (a
``competency_id`` column is accepted too) with columns ``p_mastery`` (in [0, 1]) and optionally
``uncertainty`` (>= 0, e.g. a standard error), ``n_evidence`` (int), ``evidence_ids`` (list of
str: the evidence the estimate rests on) and ``contributions`` (list of ``(feature, value)``
pairs). A plain mapping ``{competency_id: p_mastery}`` is accepted as well. A competency missing
from the table is a **cold start**: it counts as ``p_mastery = p_bound = cold`` (the ranker
parameters' ``cold_start_p``, by default :data:`recommender.ranking.params.COLD_START_P`, 0.5:
the estimators' own answer without evidence), exactly as an explicit row with that value; its
reported uncertainty is the ranker parameters' ``missing_uncertainty``. For a batch, a long
frame ``educator_id, competency_id, p_mastery[, p_bound,
uncertainty, n_evidence]``, one row per (educator, competency).

``p_bound`` (optional, in [0, 1]) is a **lower credible bound** of the mastery level, for
estimators that know their uncertainty (:class:`recommender.estimate.MasteryEstimator`). With it
the ranker separates two questions an estimate answers differently: *is it mastered?* (only
when the bound clears the mastery threshold: stopping work on a goal too early costs an
educator more than one step too many) and *how far is it?* (the level ``p_mastery``, for need,
gain and the hours still to a goal). :func:`decision_mastery` combines them into the one matrix
the scoring reads. Without ``p_bound`` the level decides both, as before.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from recommender.errors import UnknownCompetencyError
from recommender.graph import check_ids
from recommender.ranking.params import COLD_START_P

__all__ = ["MasteryTable", "check_mastery_long", "decision_mastery", "read_mastery",
           "read_mastery_long"]


@dataclass(frozen=True, eq=False)
class MasteryTable:
    """One educator's mastery table as plain maps (competency id -> value)."""

    p: dict[str, float]
    uncertainty: dict[str, float | None]
    n_evidence: dict[str, int]
    evidence_ids: dict[str, list[str]]
    contributions: dict[str, list]
    bound: dict[str, float] = field(default_factory=dict)
    cold: float = COLD_START_P
    """P(mastery) and bound of a competency the table does not have (a cold start)."""

    def p_of(self, c: str) -> float:
        """P(mastery) of ``c``; :attr:`cold` when the table does not have it."""
        return float(self.p.get(c, self.cold))

    def decision_row(self, competencies: Sequence[str], threshold: float) -> np.ndarray:
        """(1, len(competencies)) :func:`decision_mastery` of this table (:attr:`cold` where
        missing, level and bound alike)."""
        p = np.asarray([[self.p.get(c, self.cold) for c in competencies]], dtype=float)
        if not self.bound:
            return p
        bound = np.asarray([[self.bound.get(c, self.p.get(c, self.cold))
                             for c in competencies]])
        return decision_mastery(p, bound, threshold)


def decision_mastery(p: np.ndarray, bound: np.ndarray | None, threshold: float) -> np.ndarray:
    """The mastery the ranker scores on: the level ``p``, mastered only when ``bound`` says so.

    Where ``bound >= threshold`` the competency counts as mastered (the level, raised to the
    threshold if below it); elsewhere it counts as not yet mastered (the level, lowered to just
    under the threshold if above it: the estimate's mean says mastered, its bound not yet, so it
    stays open but close to done). ``bound`` None returns ``p`` unchanged.

    Examples
    --------
    >>> decision_mastery(np.array([[0.9, 0.9, 0.4]]), np.array([[0.8, 0.5, 0.2]]), 0.7).tolist()
    [[0.9, 0.699, 0.4]]
    """
    if bound is None:
        return p
    below = threshold - min(1e-3, threshold / 2)
    return np.where(bound >= threshold, np.maximum(p, threshold), np.minimum(p, below))


def _check_p(values: np.ndarray, ids: Callable[[], list] | list, what: str) -> None:
    """Raise naming up to five (id, value) pairs when a probability is not in [0, 1]."""
    bad = ~(np.isfinite(values) & (values >= 0) & (values <= 1))
    if bad.any():
        ids = ids() if callable(ids) else list(ids)
        sample = [(ids[i], float(values[i])) for i in np.flatnonzero(bad)[:5]]
        raise ValueError(f"{what}: p_mastery must be a number in [0, 1]; got (id, value) {sample}")


def _as_list(x: Any) -> list:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return []
    if isinstance(x, str):
        return [x]
    return list(x)


def read_mastery(graph: nx.DiGraph, mastery: pd.DataFrame | Mapping[str, float],
                 cold: float = COLD_START_P) -> MasteryTable:
    """Validate one educator's mastery table (DataFrame or mapping) and return it as maps.

    ``cold`` is what the returned table reads for a competency it does not have.

    Raises
    ------
    UnknownCompetencyError
        A competency is not in ``graph``.
    ValueError
        No ``p_mastery`` column, duplicate ids, a probability outside [0, 1] or a negative
        uncertainty.
    TypeError
        ``mastery`` is neither a DataFrame nor a mapping.
    """
    if isinstance(mastery, Mapping):
        check_ids(graph, [str(k) for k in mastery])
        ids = [str(k) for k in mastery]
        vals = np.asarray([mastery[k] for k in mastery], dtype=float)
        _check_p(vals, ids, "mastery")
        return MasteryTable(dict(zip(ids, vals.tolist(), strict=True)), {}, {}, {}, {},
                            cold=cold)
    if not isinstance(mastery, pd.DataFrame):
        raise TypeError(
            "mastery must be a DataFrame indexed by competency_id with a 'p_mastery' column, or "
            f"a mapping competency_id -> p_mastery; got {type(mastery).__name__}"
        )
    frame = mastery
    if "competency_id" in frame.columns:
        frame = frame.set_index("competency_id")
    if "p_mastery" not in frame.columns:
        raise ValueError(
            f"mastery table has no 'p_mastery' column; columns are {list(frame.columns)}"
        )
    ids = [str(i) for i in frame.index]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"mastery table has duplicate competency ids: {dup}")
    check_ids(graph, ids)
    p = pd.to_numeric(frame["p_mastery"], errors="coerce").to_numpy(float)
    _check_p(p, ids, "mastery table")
    unc: dict[str, float | None] = {}
    if "uncertainty" in frame.columns:
        u = pd.to_numeric(frame["uncertainty"], errors="coerce").to_numpy(float)
        if (u[np.isfinite(u)] < 0).any():
            raise ValueError("mastery table: uncertainty must be >= 0")
        unc = {i: (float(v) if np.isfinite(v) else None) for i, v in zip(ids, u, strict=True)}
    bound: dict[str, float] = {}
    if "p_bound" in frame.columns:
        b = pd.to_numeric(frame["p_bound"], errors="coerce").to_numpy(float)
        _check_p(b, ids, "mastery table (p_bound)")
        bound = dict(zip(ids, b.tolist(), strict=True))
    n_ev: dict[str, int] = {}
    if "n_evidence" in frame.columns:
        n = pd.to_numeric(frame["n_evidence"], errors="coerce").fillna(0).to_numpy()
        n_ev = {i: int(v) for i, v in zip(ids, n, strict=True)}
    ev = {}
    if "evidence_ids" in frame.columns:
        ev = {i: [str(e) for e in _as_list(v)]
              for i, v in zip(ids, frame["evidence_ids"].tolist(), strict=True)}
    con = {}
    if "contributions" in frame.columns:
        con = {i: _as_list(v) for i, v in zip(ids, frame["contributions"].tolist(), strict=True)}
    return MasteryTable(dict(zip(ids, p.tolist(), strict=True)), unc, n_ev, ev, con, bound,
                        cold=cold)


def check_mastery_long(mastery_long: pd.DataFrame) -> None:
    """Raise unless ``mastery_long`` is a DataFrame with the three columns scoring needs."""
    if not isinstance(mastery_long, pd.DataFrame):
        raise TypeError(f"mastery_long must be a DataFrame; got {type(mastery_long).__name__}")
    missing = [c for c in ("educator_id", "competency_id", "p_mastery")
               if c not in mastery_long.columns]
    if missing:
        raise ValueError(f"mastery_long is missing column(s) {missing}; "
                         f"columns are {list(mastery_long.columns)}")


def read_mastery_long(graph: nx.DiGraph, competencies: pd.Index, mastery_long: pd.DataFrame,
                      also: Iterable[Any] = (), threshold: float | None = None,
                      cold: float = COLD_START_P) -> tuple[pd.Index, np.ndarray]:
    """The educators (sorted) and their mastery matrix ``(E, C)`` from a checked long frame.

    ``competencies`` are the matrix's columns (the index's sorted ids); a (educator, competency)
    pair without a row is ``cold`` (level and bound: a cold start, the ranker parameters'
    ``cold_start_p``), as is every pair of an educator in ``also`` but not in the frame. With
    ``threshold`` and a ``p_bound`` column, the matrix is
    :func:`decision_mastery` of the levels and bounds (the matrix the ranker scores on).

    Raises
    ------
    UnknownCompetencyError
        A competency id is missing or not in ``competencies``.
    ValueError
        A missing educator id, a probability outside [0, 1], or duplicate pairs.
    """
    n_c = len(competencies)
    ed_codes, ed_uniques = pd.factorize(mastery_long["educator_id"], sort=True)
    if (ed_codes < 0).any():
        raise ValueError("mastery_long: educator_id must not be missing")
    known = set(ed_uniques)
    extra = [e for e in also if e not in known]
    educators = pd.Index(ed_uniques, dtype=object)
    if extra:
        educators = educators.append(pd.Index(extra, dtype=object)).sort_values()
    row = educators.get_indexer(ed_uniques)[ed_codes]
    c_codes, c_uniques = pd.factorize(mastery_long["competency_id"])
    c_map = competencies.get_indexer(pd.Index(c_uniques, dtype=object))
    if (c_codes < 0).any() or (c_map < 0).any():
        bad = sorted({str(c) for c, j in zip(c_uniques, c_map, strict=True) if j < 0}
                     | ({"<missing>"} if (c_codes < 0).any() else set()))
        raise UnknownCompetencyError(bad, graph.graph.get("name"))
    col = c_map[c_codes]
    pvals = pd.to_numeric(mastery_long["p_mastery"], errors="coerce").to_numpy(float)

    def pair_ids() -> list[tuple[str, str]]:
        return [(str(educators[r]), str(competencies[c]))
                for r, c in zip(row, col, strict=True)]

    _check_p(pvals, pair_ids, "mastery_long")
    pair = row.astype(np.int64) * n_c + col
    counts = np.bincount(pair, minlength=len(educators) * n_c)
    if (counts > 1).any():
        dup = np.isin(pair, np.flatnonzero(counts > 1))
        ids = pair_ids()
        sample = sorted({ids[i] for i in np.flatnonzero(dup)})[:5]
        raise ValueError(f"mastery_long has duplicate (educator_id, competency_id) rows: {sample}")
    p = np.full((len(educators), n_c), float(cold))
    p[row, col] = pvals
    if threshold is None or "p_bound" not in mastery_long.columns:
        return educators, p
    bvals = pd.to_numeric(mastery_long["p_bound"], errors="coerce").to_numpy(float)
    _check_p(bvals, pair_ids, "mastery_long (p_bound)")
    bound = np.full_like(p, float(cold))
    bound[row, col] = bvals
    return educators, decision_mastery(p, bound, threshold)
