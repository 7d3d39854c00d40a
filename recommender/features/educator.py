"""``edu_``: the educator's history on all competencies.

Over all the educator's records strictly before ``as_of`` (ties at one time ordered by
``evidence_id``), with ``tau = decay_days``:

- ``edu_n`` how many, ``edu_rate`` the share proficient, ``edu_mean_score`` their mean score;
- ``edu_days_active`` days from the first record to ``as_of``;
- ``edu_last_score`` the latest record's score and ``edu_days_since`` days from it to ``as_of``;
- ``edu_recent_rate`` the share proficient among the last ``recent_window`` records;
- ``edu_decay_mean`` the mean score weighted by ``exp(-(as_of - t) / tau)``;
- ``edu_n_competencies`` how many competencies were evidenced, and ``edu_first_mean_score``
  the mean score of the first record on each;
- ``edu_mean_residual`` the mean of ``score - diff_mean_score`` of the record's competency
  (ability net of the difficulty of what was evidenced, see :mod:`.difficulty`) and
  ``edu_decay_residual`` its decayed mean, weighted as ``edu_decay_mean``.

All are NaN without history except the counts, which are 0. The answer-order columns
``edu_last_competency``, ``edu_prev_competency`` and ``edu_prev_score`` are in :mod:`.sequence`.
"""

from __future__ import annotations

import numpy as np

from recommender.features.asof import days_since, gather, ratio
from recommender.features.context import History

__all__ = ["ability", "history"]


def history(h: History, recent_window: int) -> dict[str, np.ndarray]:
    """Counts, rate, mean, activity span, the latest record, the recent rate, the decayed mean."""
    edu, epos, sums, at = h.edu, h.epos, h.edu_rows, h.q.t
    window_sums, window_n = edu.window(h.edu_cum[:, :2], epos, recent_window)
    return {
        "edu_n": sums[:, 0],
        "edu_rate": ratio(sums[:, 1], sums[:, 0]),
        "edu_mean_score": ratio(sums[:, 2], sums[:, 0]),
        "edu_days_active": days_since(at, h.edu_time[edu.start], epos),
        "edu_last_score": gather(h.edu_score, epos),
        "edu_days_since": days_since(at, h.edu_time, epos),
        "edu_recent_rate": ratio(window_sums[:, 1], window_n),
        "edu_decay_mean": _decayed_mean(h, 1),
    }


def ability(h: History) -> dict[str, np.ndarray]:
    """Breadth (competencies evidenced, mean first score) and the residual ``score -
    diff_mean_score[competency]`` (the scans of :func:`~.context.prepare`, which is given
    ``diff_mean_score`` as ``residual_of``)."""
    sums = h.edu_rows
    return {
        "edu_n_competencies": sums[:, 3],
        "edu_first_mean_score": ratio(sums[:, 4], sums[:, 3]),
        "edu_mean_residual": ratio(sums[:, 5], sums[:, 0]),
        "edu_decay_residual": _decayed_mean(h, 2),
    }


def _decayed_mean(h: History, column: int) -> np.ndarray:
    """Per query, the decayed sum of column ``column`` of ``h.edu_decayed_rows`` over the
    decayed count."""
    return ratio(h.edu_decayed_rows[:, column], h.edu_decayed_rows[:, 0])
