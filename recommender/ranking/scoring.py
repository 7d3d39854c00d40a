"""Scoring: every catalog activity for every educator, as ``educators x activities`` arrays.

Score
-----
Names in capitals are fields of the ranker's :class:`~recommender.ranking.params.RankerParams`,
carried by the :class:`~recommender.ranking.index.RankingIndex` (``LOGITS_PER_GAIN`` is
``params.logits_per_gain``, and so on). For activity ``a`` with targets ``c`` of weight
``w[a, c]`` (``W = sum_c w[a, c]``) and an educator with mastery ``p``:

- ``need[a]      = sum_c w[a, c] * (1 - p[c]) / W``: how much they need what it develops.
- ``readiness[a] = sum_c w[a, c] * r[c] / W`` with ``r[c] = min over direct prerequisites q of c
  of p[q]`` (1 for a competency without prerequisites): how ready they are for it.
- ``gain[a]      = sum_c g[a, c] * (1 - p[c])``: expected rise in mastery, discounted by the
  headroom left. ``g[a, c]`` is the learned posterior mean ``gains.loc[(a, c), "gain_mean"]``
  when ``gains`` has it, else the catalog prior ``expected_gain[a] * w[a, c]``.
- ``cost[a]      = log1p(hours[a])``.
- ``goal[a]``: goal hours saved per hour invested, relative to the educator's best candidate.
  It plans on a simple learning model in logits, ``theta = logit(p)`` (``p`` clipped to
  [P_CLIP, 1 - P_CLIP]): doing ``a`` raises each target ``c`` by ``G[a, c] * gate[c]``, with
  ``G = LOGITS_PER_GAIN * g`` and ``gate[c] = READINESS_FLOOR + (1 - READINESS_FLOOR) *
  mean over direct prerequisites q of sigmoid(READINESS_SLOPE * theta[q])`` (1 without
  prerequisites): a gain sticks as far as the educator is ready for it. The hours still needed
  for an unmastered goal ``j`` are ``R_j = (logit(mastery_threshold) - theta[j]) / (rate[j] *
  gate[j])``, ``rate[j]`` the best ``G[b, j] / (hours[b] + STEP_OVERHEAD_HOURS)`` of the
  catalog. ``saved[a] = sum_j R_j(before) - R_j(after a)``: an activity on the goal shortens
  its distance, one on a direct prerequisite raises its gate (so when the prerequisites are
  weak, raising them first saves the most). ``goal[a] = max(saved[a], 0) / (hours[a] +
  STEP_OVERHEAD_HOURS)``, divided by its max over the educator's candidates (allowed, not
  excluded, some target unmastered; the hard gate does not change the scale), 0 when that max
  is 0; so ``goal`` is in [0, 1] for every candidate. The overhead makes a step cost a month's
  slot as well as its hours, so a cheap activity that barely moves a goal does not win.
  ``gate`` has the shape of the simulator's ``prerequisite_gate``
  (:mod:`recommender.simulate.dynamics`) but the ranker's own numbers; the ranker never reads
  the simulator's, which would make the policy table measure its agreement with the world it is
  judged in.

``score[a] = wt.need*need + wt.readiness*readiness + wt.gain*gain + wt.goal*goal - wt.cost*cost``
with ``wt`` the params' ``weights`` (:class:`~recommender.ranking.params.ScoreWeights`).

Filters
-------
Never proposed: activities ``completed`` (a repeatable one only until its cool-down has
passed), ``in_progress`` or ``declined``, or outside the
context's ``available`` ones (when it names them); formats or
modalities outside the request; activities whose every target is mastered
(``p >= mastery_threshold``). By default a weak prerequisite only lowers the score
(``readiness``, and ``gate`` in ``goal``). With ``hard_gate=True`` (opt-in) an activity is
dropped when any of its **unmastered** targets (``p < mastery_threshold``) has a direct
prerequisite with ``p < gate_threshold``. Targets already mastered are exempt: the activity is
not teaching them, and inconsistent estimates there should not hide it. So the guarantee is: no
proposed (unpinned) activity has an unmastered target with a direct prerequisite below
``gate_threshold``. The hour budget is applied by :mod:`recommender.ranking.selection`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from recommender.ranking.index import RankingIndex
from recommender.ranking.requests import RankingRequest

__all__ = ["Scores", "goal_hours", "score_activities"]

_THETA_MASTERED = 20.0
"""Logit standing for "mastered" (P = 1 - 2e-9): the sentinel prerequisite's, and the goal
model's target when ``mastery_threshold`` is 1."""


@dataclass(frozen=True, eq=False)
class Scores:
    """What :func:`score_activities` returns, each (E, A)."""

    score: np.ndarray  # undiversified score
    eligible: np.ndarray  # may be proposed on its merits
    feasible: np.ndarray  # passes the hard constraints (for pins)
    parts: dict[str, np.ndarray]  # need, readiness, gain, cost, goal


def score_activities(arr: RankingIndex, p: np.ndarray, goal_mask: np.ndarray,
                     excluded: np.ndarray, request: RankingRequest) -> Scores:
    """Score matrix for mastery ``p`` (E, C), goals (E, C) bool, exclusions (E, A) bool.

    Loops run over prerequisite slots and target slots (at most a few), never over educators;
    every sum is taken slot by slot in a fixed order, so a row's result does not depend on how
    many other rows there are (this is what makes ``rank_batch`` agree exactly with
    ``rank_activities``).
    """
    n_e, n_c = p.shape
    thr = request.mastery_threshold
    pe = np.concatenate([p, np.ones((n_e, 1))], axis=1)  # sentinel column: mastered, p = 1
    # weakest direct prerequisite of each competency (sentinel-only rows give 1)
    r_c = np.take(pe, arr.pidx[:, 0], axis=1)
    for d in range(1, arr.pidx.shape[1]):
        np.minimum(r_c, np.take(pe, arr.pidx[:, d], axis=1), out=r_c)
    unmastered = pe < thr
    unmastered[:, n_c] = False
    blocked = unmastered & (r_c < request.gate_threshold)

    shape = (n_e, len(arr.activity_ids))
    need, readiness, gain = (np.zeros(shape) for _ in range(3))
    any_open = np.zeros(shape, dtype=bool)
    gated = np.zeros(shape, dtype=bool)
    tmp = np.empty(shape)
    for kk in range(arr.tidx.shape[1]):
        col, w = arr.tidx[:, kk], arr.tw[:, kk]
        headroom = np.take(pe, col, axis=1)  # C-ordered, unlike pe[:, col]
        np.subtract(1.0, headroom, out=headroom)
        need += np.multiply(headroom, w, out=tmp)
        gain += np.multiply(headroom, arr.tgain[:, kk], out=tmp)
        r = np.take(r_c, col, axis=1)
        readiness += np.multiply(r, w, out=r)
        any_open |= np.take(unmastered, col, axis=1)
        gated |= np.take(blocked, col, axis=1)
    need /= arr.wsum
    readiness /= arr.wsum
    cost = np.broadcast_to(np.log1p(arr.hours), shape)
    feasible = arr.allowed(request)[None, :] & ~excluded
    eligible = feasible & any_open
    goal = _relative_goal(arr, p, goal_mask, thr, eligible)
    wt = arr.params.weights
    score = (wt.need * need + wt.readiness * readiness + wt.gain * gain + wt.goal * goal
             - wt.cost * cost)

    if request.hard_gate:
        eligible &= ~gated
    parts = {"need": need, "readiness": readiness, "gain": gain, "cost": cost, "goal": goal}
    return Scores(score, eligible, feasible, parts)


def _relative_goal(arr: RankingIndex, p: np.ndarray, goal_mask: np.ndarray, threshold: float,
                   eligible: np.ndarray) -> np.ndarray:
    """(E, A) goal hours saved per hour invested, relative to each educator's best candidate."""
    goal = np.maximum(goal_hours(arr, p, goal_mask, threshold)[0], 0.0)
    goal /= arr.hours + arr.params.step_overhead_hours
    best = np.where(eligible, goal, 0.0).max(axis=1, initial=0.0, keepdims=True)
    np.divide(goal, best, out=goal, where=best > 0)
    goal[(best <= 0)[:, 0]] = 0.0
    return goal


def goal_hours(arr: RankingIndex, p: np.ndarray, goal_mask: np.ndarray,
               threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The goal model's ``(saved, left)``: (E, A) expected hours to the goals saved by doing
    each activity next, and (E,) the hours still needed, ``sum_j R_j`` over each educator's
    unmastered goals (module docstring; 0 when every goal is mastered).

    ``left`` is what the team ranker (:mod:`recommender.teams`) weighs ``saved`` against. One
    loop over the competencies that are somebody's goal (and, inside, over that goal's direct
    prerequisites), vectorized over the educators who hold it and over activities.
    """
    n_e, n_c = p.shape
    floor, slope, clip = (arr.params.readiness_floor, arr.params.readiness_slope,
                          arr.params.p_clip)
    theta = np.empty((n_e, n_c + 1))
    np.clip(p, clip, 1.0 - clip, out=theta[:, :n_c])
    theta[:, :n_c] = np.log(theta[:, :n_c] / (1.0 - theta[:, :n_c]))
    theta[:, n_c] = _THETA_MASTERED  # sentinel: a mastered prerequisite
    gate = _gate(arr, theta)
    target = math.log(threshold / (1.0 - threshold)) if threshold < 1 else _THETA_MASTERED
    saved = np.zeros((n_e, len(arr.activity_ids)))
    left = np.zeros(n_e)
    for j in np.flatnonzero(goal_mask.any(axis=0) & (arr.goal_rate[:n_c] > 0)):
        rows = np.flatnonzero(goal_mask[:, j] & (theta[:, j] < target))
        if not len(rows):
            continue
        th, gt = theta[rows], gate[rows]
        rate = arr.goal_rate[j]
        before = (target - th[:, j]) / (rate * gt[:, j])
        # the activity's gain on the goal itself, then on each direct prerequisite (its gate)
        th_j = th[:, j, None] + np.outer(gt[:, j], arr.gain_logits[:, j])
        prereqs = [q for q in arr.pidx[j] if q < n_c]
        if prereqs:
            ready = np.zeros((len(rows), len(arr.activity_ids)))
            for q in prereqs:
                th_q = th[:, q, None] + np.outer(gt[:, q], arr.gain_logits[:, q])
                ready += expit(slope * th_q)
            gate_j = floor + (1.0 - floor) * ready / len(prereqs)
        else:
            gate_j = 1.0
        after = np.maximum(target - th_j, 0.0) / (rate * gate_j)
        saved[rows] += before[:, None] - after
        left[rows] += before
    return saved, left


def _gate(arr: RankingIndex, theta: np.ndarray) -> np.ndarray:
    """(E, C + 1) share of a gain that sticks given the direct prerequisites' mastery.

    The ranker's own readiness model (the simulator has another, which the ranker must not
    read): ``readiness_floor`` and ``readiness_slope`` of the index's params.
    """
    floor, slope = arr.params.readiness_floor, arr.params.readiness_slope
    ready = expit(slope * theta)
    total = np.zeros_like(theta)
    for d in range(arr.pidx.shape[1]):
        total += np.take(ready, arr.pidx[:, d], axis=1) * (arr.pidx[:, d] < theta.shape[1] - 1)
    n = arr.n_prereq
    return np.where(n > 0, floor + (1 - floor) * total / np.maximum(n, 1), 1.0)
