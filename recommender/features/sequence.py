"""Answer-order context, added only with ``FeatureBuilder(sequence_context=True)``.

Over the educator's records strictly before ``as_of`` in their order (time, then
``evidence_id``):

- ``edu_last_competency`` / ``edu_prev_competency`` (categorical): the competencies of the last
  two records, and ``edu_prev_score`` the earlier one's score;
- ``own_n_between``: how many of the educator's records (on any competency) came after the
  latest one on the query's competency (recency counted in evidence rather than days);
- ``graph_prereq_n_since`` / ``graph_dep_n_since``: the same count after the latest record on a
  direct prerequisite / dependent (see :mod:`.graph`).

Records that share the time of the record counted from are not counted (one visit's records
do not come after each other). All are missing when that record does not exist.
"""

from __future__ import annotations

import numpy as np

from recommender.features.asof import gather, take
from recommender.features.context import History
from recommender.features.graph import Latest

__all__ = ["CATEGORICAL", "SEQUENCE_FEATURES", "columns"]

CATEGORICAL = ("edu_last_competency", "edu_prev_competency")
SEQUENCE_FEATURES = (*CATEGORICAL, "edu_prev_score", "own_n_between",
                     "graph_prereq_n_since", "graph_dep_n_since")
"""Columns added only with ``FeatureBuilder(sequence_context=True)``: the answer order as context."""


def columns(h: History, latest: dict[str, Latest]) -> tuple[dict[str, np.ndarray],
                                                            dict[str, np.ndarray]]:
    """The numeric columns, and the competency codes (-1: none) of the categorical ones."""
    edu, epos = h.edu, h.epos
    prev = np.where(gather(edu.offset, epos, 0) >= 1, epos - 1, -1)
    cols = {
        "own_n_between": np.where(h.pos >= 0, _n_since(h, gather(h.own_rank, h.pos, 0)), np.nan),
        "edu_prev_score": gather(h.edu_score, prev),
    }
    for name in ("prereq", "dep"):
        rank = latest[name].rank
        cols[f"graph_{name}_n_since"] = np.where(rank >= 0, _n_since(h, np.maximum(rank, 0)),
                                                 np.nan)
    codes = {"edu_last_competency": gather(h.edu_competency, epos, -1),
             "edu_prev_competency": gather(h.edu_competency, prev, -1)}
    return cols, codes


def _n_since(h: History, rank: np.ndarray) -> np.ndarray:
    """Per query, the educator's records before ``as_of`` after those at or before ``rank``."""
    upto = take(h.edu_cum[:, :1], h.edu.index(h.q_e, rank, inclusive=True))[:, 0]
    return h.edu_rows[:, 0] - upto
