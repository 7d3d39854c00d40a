"""The pure steps of the generative model: learning from activities, evidence, drift, choice.

Each takes an :class:`~recommender.simulate.population.EducatorPopulation` and returns new
arrays; none mutates its inputs. The equations are documented in :mod:`recommender.simulate`.
The generator (:func:`recommender.simulate.generate`) and the policy simulation
(:mod:`recommender.evaluation`) both run on them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from recommender.evidence import SOURCES
from recommender.simulate.params import RATER_KINDS
from recommender.simulate.population import CatalogArrays, EducatorPopulation
from recommender.simulate.sampling import logit

__all__ = ["apply_activities", "choose_activities", "drift", "observe", "prerequisite_gate",
           "source_scales", "true_mastery"]


def true_mastery(pop: EducatorPopulation) -> np.ndarray:
    """``sigmoid(theta)``: the true probability of mastery, shape (n_educators, n_competencies).

    An educator has mastered a competency when it is >= 0.5 (``theta >= 0``).
    """
    return expit(pop.theta)


def prerequisite_gate(pop: EducatorPopulation, theta: np.ndarray | None = None) -> np.ndarray:
    """Share of a gain on each competency that sticks, given prerequisite mastery.

    ``gate_floor + (1 - gate_floor) * mean over direct prerequisites of
    sigmoid(gate_slope * theta)``, 1 for competencies without prerequisites. ``theta`` (rows
    of skills, default ``pop.theta``) may be any subset of educators.
    """
    theta = pop.theta if theta is None else np.asarray(theta, dtype=float)
    p = pop.params
    has_prereq = np.diff(pop.prereq_indptr) > 0
    ready = expit(p.gate_slope * theta) @ pop.prereq_mean
    return np.where(has_prereq, p.gate_floor + (1 - p.gate_floor) * ready, 1.0)


def _normals(shape: tuple[int, ...], rng: np.random.Generator | None, noise) -> np.ndarray:
    """Standard normals of ``shape``: ``noise`` as given (its shape checked), else drawn."""
    if noise is None:
        if rng is None:
            raise TypeError("give rng (a numpy Generator) or noise (pre-drawn standard normals)")
        return rng.standard_normal(shape)
    noise = np.asarray(noise, dtype=float)
    if noise.shape != shape:
        raise ValueError(f"noise must be standard normals of shape {shape}, got shape "
                         f"{noise.shape}")
    return noise


def apply_activities(
    pop: EducatorPopulation,
    activity_idx: np.ndarray,
    activities: CatalogArrays,
    rng: np.random.Generator | None = None,
    *,
    noise: np.ndarray | None = None,
) -> np.ndarray:
    """New skills after each educator completes ``activity_idx[e]`` (-1: none). Pure.

    ``delta = gain_scale * expected_gain[a] * weight[a, c] * gate[e, c] * learning_rate[e] * eta``
    with ``eta = exp(gain_noise_sd * z)`` per completion, and the gate computed from the skills
    before the activity. ``z`` is drawn from ``rng`` (one per completion, in educator order) or,
    given ``noise`` (standard normals, shape (n_educators,)), is ``noise[e]``: a caller that
    pre-draws it gets the same gain noise for an educator whatever the others do.

    Returns
    -------
    ndarray of shape (n_educators, n_competencies)
        A new array; ``pop.theta`` is unchanged.
    """
    act = np.asarray(activity_idx, dtype=np.int64)
    if act.shape != (pop.n_educators,):
        raise ValueError(f"activity_idx must have shape ({pop.n_educators},), got {act.shape}")
    if (act >= len(activities)).any() or (act < -1).any():
        raise ValueError(f"activity_idx must be in [-1, {len(activities) - 1}]")
    if activities.weights.shape[1] != pop.n_competencies:
        raise ValueError("activities were built for a different competency order; "
                         "use catalog_arrays(catalog, pop.competencies)")
    theta = pop.theta.copy()
    rows = np.flatnonzero(act >= 0)
    z = (_normals((len(rows),), rng, None) if noise is None
         else _normals((pop.n_educators,), None, noise)[rows])
    eta = np.exp(pop.params.gain_noise_sd * z)
    if len(rows):
        a = act[rows]
        scale = (pop.params.gain_scale * activities.expected_gain[a]
                 * pop.learning_rate[rows] * eta)
        gate = prerequisite_gate(pop, theta[rows])
        theta[rows] += scale[:, None] * activities.weights[a] * gate
    return theta


def drift(pop: EducatorPopulation, rng: np.random.Generator | None = None, *,
          noise: np.ndarray | None = None) -> np.ndarray:
    """New skills after one month's random walk ``N(0, drift_sd)`` on every skill. Pure.

    The steps are ``drift_sd`` times standard normals drawn from ``rng`` or given as ``noise``
    (shape of ``pop.theta``).
    """
    sd = pop.params.drift_sd
    if sd == 0:
        return pop.theta.copy()
    return pop.theta + sd * _normals(pop.theta.shape, rng, noise)


def _source_codes(sources, n: int) -> np.ndarray:
    arr = np.asarray(sources)
    if arr.dtype.kind in "iu":
        codes = arr.astype(np.int64)
        if ((codes < 0) | (codes >= len(SOURCES))).any():
            raise ValueError(f"source codes must be in [0, {len(SOURCES) - 1}]")
    else:
        codes = pd.Index(SOURCES).get_indexer(arr.astype(object).ravel()).reshape(arr.shape)
        if (codes < 0).any():
            unknown = sorted(set(arr.astype(object).ravel()[codes.ravel() < 0]))
            raise ValueError(f"unknown source(s) {unknown}; expected one of {list(SOURCES)}")
    return np.broadcast_to(codes, (n,)).astype(np.int64)


def source_scales(pop: EducatorPopulation, sources) -> tuple[np.ndarray, np.ndarray]:
    """``(scale_min, scale_max)`` of each source given by name or code."""
    codes = _source_codes(sources, np.asarray(sources).size or 1)
    return pop.sources.scale_min[codes], pop.sources.scale_max[codes]


def observe(
    pop: EducatorPopulation,
    competency_idx,
    sources,
    rng: np.random.Generator | None = None,
    *,
    educator_idx=None,
    rater_idx=None,
    noise: np.ndarray | None = None,
) -> np.ndarray:
    """Noisy scores of the current skill, one per (educator, competency, source) reading.

    Parameters
    ----------
    pop : EducatorPopulation
    competency_idx : int or array of int
        Column of the competency read.
    sources : str, int or array of them
        Source names (or codes into :data:`SOURCES`); a scalar applies to every reading.
    rng : numpy.random.Generator, optional
        Draws the readings' noise; needed unless ``noise`` is given.
    educator_idx : array of int, optional
        Row of the educator read; by default one reading of each educator in order.
    rater_idx : array of int, optional
        Evaluator of each reading (index into ``pop.rater_bias``, -1: none); by default each
        educator's own evaluator. Used only by sources whose rater is ``evaluator``.
    noise : array of float, optional
        Pre-drawn standard normals, one per reading, used instead of drawing from ``rng`` (the
        noise is ``noise_sd[source]`` times them).

    Returns
    -------
    ndarray of float
        Scores on each source's scale (:func:`source_scales`); a reading is proficient, on its
        scale, exactly when ``theta + bias + rater/self bias + noise >= 0``.
    """
    e = (np.arange(pop.n_educators) if educator_idx is None
         else np.asarray(educator_idx, dtype=np.int64).ravel())
    n = len(e)
    c = np.broadcast_to(np.asarray(competency_idx, dtype=np.int64), (n,))
    src = _source_codes(sources, n)
    t = pop.sources
    y = pop.theta[e, c] + t.bias[src] + t.noise_sd[src] * _normals((n,), rng, noise)
    kind = t.rater[src]
    is_eval = kind == RATER_KINDS.index("evaluator")
    if is_eval.any():
        r = pop.evaluator[e] if rater_idx is None else np.broadcast_to(
            np.asarray(rater_idx, dtype=np.int64), (n,))
        y = y + np.where(is_eval & (r >= 0), pop.rater_bias[np.maximum(r, 0)], 0.0)
    y = y + np.where(kind == RATER_KINDS.index("self"), pop.self_bias[e], 0.0)

    lo, hi, prof = (float(pop.scale[k]) for k in ("min", "max", "proficient"))
    k = pop.params.rubric_slope
    a_rubric = logit((prof - lo) / (hi - lo + 1))
    rubric = (lo - 0.5) + (hi - lo + 1) * expit(k * y + a_rubric)
    rubric = np.clip(np.floor(rubric + 0.5), lo, hi)
    a_cont = logit((prof - lo) / (hi - lo))
    smin, smax = t.scale_min[src], t.scale_max[src]
    continuous = smin + (smax - smin) * expit(k * y + a_cont)
    return np.where(t.continuous[src], continuous, rubric)


def choose_activities(
    pop: EducatorPopulation,
    activities: CatalogArrays,
    rng: np.random.Generator,
    *,
    completed: np.ndarray | None = None,
) -> np.ndarray:
    """Each educator's own choice this month: an activity index, or -1 for none.

    An educator completes something with probability ``engagement[e]``; the activity is drawn
    by softmax over activities not in ``completed`` (bool, n_educators x n_activities) with
    utility ``sum_c wn[a, c] * (choice_need * (1 - sigmoid(theta[e, c])) + choice_goal *
    [c is a goal of e])``, ``wn`` the catalog weights normalized per activity.
    """
    n = pop.n_educators
    active = rng.random(n) < pop.engagement
    rows = np.flatnonzero(active)
    out = np.full(n, -1, dtype=np.int64)
    if not len(rows) or not len(activities):
        return out
    w = activities.weights
    wn = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    # per-competency appeal, then one product gives every activity's utility
    appeal = pop.params.choice_need * (1.0 - expit(pop.theta[rows]))
    goals = pop.goals[rows]
    for k in range(goals.shape[1]):
        has = goals[:, k] >= 0
        appeal[np.flatnonzero(has), goals[has, k]] += pop.params.choice_goal
    weight = np.exp(appeal @ wn.T)  # softmax numerators; utility is at most need + goal
    if completed is not None:
        weight[completed[rows]] = 0.0
    # inverse-CDF draw from each row's softmax (cheaper than Gumbel-max over the whole matrix)
    cum = np.cumsum(weight, axis=1)
    total = cum[:, -1]
    u = rng.random(len(rows)) * total
    pick = np.minimum((cum <= u[:, None]).sum(axis=1), len(activities) - 1)
    has_left = total > 0
    out[rows[has_left]] = pick[has_left]
    return out
