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

from recommender.features.asof import days_since, gather, ratio, take
from recommender.features.context import History

__all__ = ["ability", "history"]


def history(h: History, recent_window: int) -> dict[str, np.ndarray]:
    """Counts, rate, mean, activity span, the latest record, the recent rate, the decayed mean."""
    edu, epos, sums, at = h.edu, h.epos, h.edu_rows, h.q.t
    window_sums, window_n = edu.window(h.edu_cum, epos, recent_window)
    weighted = edu.decayed(h.edu_time, h.edu_score, h.tau)
    return {
        "edu_n": sums[:, 0],
        "edu_rate": ratio(sums[:, 1], sums[:, 0]),
        "edu_mean_score": ratio(sums[:, 2], sums[:, 0]),
        "edu_days_active": days_since(at, h.edu_time[edu.start], epos),
        "edu_last_score": gather(h.edu_score, epos),
        "edu_days_since": days_since(at, h.edu_time, epos),
        "edu_recent_rate": ratio(window_sums[:, 1], window_n),
        "edu_decay_mean": _decayed_mean(h, weighted),
    }


def ability(h: History, diff_mean_score: np.ndarray) -> dict[str, np.ndarray]:
    """Breadth (competencies evidenced, mean first score) and the residual ``score -
    diff_mean_score[competency]``; ``diff_mean_score`` is indexed by competency code."""
    edu, epos = h.edu, h.epos
    first = np.zeros(len(h.score))
    first[h.own.order] = h.own.offset == 0  # the first record on each competency
    firsts = take(edu.accumulate(np.column_stack([first, first * h.score])[edu.order]), epos)
    residual = (h.score - diff_mean_score[h.ev_c])[edu.order]
    return {
        "edu_n_competencies": firsts[:, 0],
        "edu_first_mean_score": ratio(firsts[:, 1], firsts[:, 0]),
        "edu_mean_residual": ratio(gather(edu.accumulate(residual), epos, 0.0), h.edu_rows[:, 0]),
        "edu_decay_residual": _decayed_mean(h, edu.decayed(h.edu_time, residual, h.tau)),
    }


def _decayed_mean(h: History, weighted: np.ndarray) -> np.ndarray:
    """Per query, the decayed sum ``weighted`` (in ``edu.order``) over the decayed count."""
    return ratio(gather(weighted, h.epos, 0.0), gather(h.edu_weight, h.epos, 0.0))
