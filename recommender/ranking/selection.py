"""Selection: a diversified top-k under an hour budget, with coach pins first.

Greedy, ``k`` steps. Before each step a candidate's score is reduced by
``diversity_penalty * n`` (of the index's :class:`~recommender.ranking.params.RankerParams`)
where ``n`` is how many already-picked activities share its primary target (its highest-weight
target, ties by id), when the request's ``diversify`` is on. The best remaining
candidate whose hours fit the remaining budget is taken (so the *sum* of hours of the list stays
within ``max_hours``); ties go to the smallest ``activity_id``. Penalties only grow, so the
returned scores (the ones used for ordering) are non-increasing down the list.

Pinned activities (a coach override) come first, in pin order, when *feasible*: in the catalog,
not completed (a repeatable activity past its cool-down is again), in progress or declined,
among the context's ``available`` activities (when it names them), of an allowed format and
modality, and within the remaining hour budget. A pin overrides the engine's own judgement
(score, hard gate, mastered targets) but not those hard constraints; pinned ids not in the
catalog are ignored. Pinned items carry ``pinned=True`` and their (diversity-adjusted) score;
the non-increasing guarantee is for the unpinned items that follow them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.ranking.index import RankingIndex
from recommender.ranking.requests import RankingRequest
from recommender.ranking.scoring import Scores

__all__ = ["Picks", "select_top_k"]


@dataclass(frozen=True, eq=False)
class Picks:
    """What :func:`select_top_k` returns, each (E, k)."""

    idx: np.ndarray  # activity index, -1 = none
    score: np.ndarray  # diversity-adjusted score
    penalty: np.ndarray  # diversity penalty subtracted
    pinned: np.ndarray  # bool


def select_top_k(arr: RankingIndex, s: Scores, pin_rank: np.ndarray,
                 request: RankingRequest) -> Picks:
    """Greedy diversified top-k under the hour budget; the loop runs over k, not educators.

    ``pin_rank`` (E, A) is > 0 for pinned activities, larger for earlier pins.
    """
    n_e, n_a = s.score.shape
    k = request.k
    rows = np.arange(n_e)
    used = np.zeros(n_e)
    budget = None if request.max_hours is None else float(request.max_hours)
    masked = np.where(s.eligible, s.score, -np.inf)  # taken items become -inf too
    pins = np.where(s.feasible, pin_rank, 0.0) if pin_rank.any() else None
    shared = np.zeros((n_e, len(arr.competencies) + 1))
    out_i = np.full((n_e, k), -1, dtype=np.int64)
    out_s = np.full((n_e, k), np.nan)
    out_p = np.zeros((n_e, k))
    out_pin = np.zeros((n_e, k), dtype=bool)
    step_penalty = arr.params.diversity_penalty if request.diversify else 0.0
    for step in range(k):
        over = None if budget is None else (used[:, None] + arr.hours) > budget
        key = (masked - step_penalty * np.take(shared, arr.primary, axis=1) if step_penalty
               else masked)
        if over is not None:
            key = np.where(over, -np.inf, key)
        choice = np.argmax(key, axis=1)  # the first maximum: ties go to the smallest id
        has = key[rows, choice] > -np.inf
        has_pin = np.zeros(n_e, dtype=bool)
        if pins is not None:
            pin_key = pins if over is None else np.where(over, 0.0, pins)
            pin_choice = np.argmax(pin_key, axis=1)
            has_pin = pin_key[rows, pin_choice] > 0
            choice = np.where(has_pin, pin_choice, choice)
        ok = has | has_pin
        if not ok.any():
            break
        r, a = rows[ok], choice[ok]
        penalty = step_penalty * shared[r, arr.primary[a]]
        out_i[r, step] = a
        out_s[r, step] = s.score[r, a] - penalty  # == key[r, a] for unpinned picks
        out_p[r, step] = penalty
        out_pin[r, step] = has_pin[ok]
        masked[r, a] = -np.inf
        if pins is not None:
            pins[r, a] = 0.0
        used[r] = used[r] + arr.hours[a]
        shared[r, arr.primary[a]] += 1.0
    return Picks(out_i, out_s, out_p, out_pin)
