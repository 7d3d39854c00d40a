"""Mastery estimates the policy simulation ranks on: the smoothed share, and the engine's own.

An estimate is a callable ``estimate(evidence_so_far) -> mastery_long`` (:data:`EstimateFn`).
The ``engine`` policy calls :func:`engine_estimate`, the one estimator the API serves
(:class:`recommender.estimate.MasteryEstimator`); the ``engine-no-model`` ablation and the
baselines read :func:`smoothed_mastery`.

The smoothed evidence estimate (:func:`smoothed_mastery`) is, per (educator, competency),
``(a + sum w * proficient) / (a + b + sum w)`` with ``a = b = 1`` and recency weights
``w = 0.5 ** (age_days / half_life_days)`` (half-life 60 days), 0.5 without evidence: the prior
mean ``a / (a + b)``, which is the engine's cold-start value
(:data:`recommender.ranking.params.COLD_START_P`), so a pair without evidence reads the same
whether the ranker fills it (it has no row) or the simulator does (:func:`wide_mastery`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from recommender.clock import DEFAULT_CLOCK, EvidenceClock
from recommender.estimate import MasteryEstimator
from recommender.ranking.params import COLD_START_P

__all__ = [
    "EstimateFn",
    "engine_estimate",
    "estimator_inputs",
    "long_mastery",
    "smoothed_mastery",
    "wide_mastery",
]

_DAY = pd.Timedelta(days=1)

EstimateFn = Callable[..., pd.DataFrame]
"""``estimate(evidence_so_far) -> mastery_long``; an estimator with a ``completions`` parameter
also gets the completed activities so far (``educator_id, activity_id, completed_at``), one with
an ``educators`` parameter the educators' profiles (the population's ``educators`` frame)."""


def smoothed_mastery(evidence: pd.DataFrame, *, now=None, half_life_days: float | None = None,
                     prior: tuple[float, float] = (1.0, 1.0),
                     clock: EvidenceClock | None = None) -> pd.DataFrame:
    """Smoothed, recency-weighted share of proficient records per (educator, competency).

    Ages are measured to ``now`` (None: the latest record's time). The half-life is ``clock``'s
    (:class:`~recommender.clock.EvidenceClock`, a tenant's unit and half-life) or
    ``half_life_days``; neither: 60 days, :data:`~recommender.clock.DEFAULT_CLOCK`. Giving both
    is a ValueError.

    Returns a long frame ``educator_id, competency_id, p_mastery, n_evidence`` (pairs with
    evidence only; the ranker reads the others as its ``cold_start_p``, by default
    :data:`~recommender.ranking.params.COLD_START_P`, the default prior's mean 0.5, so they
    rank as if the prior's answer were given).
    """
    if evidence.empty:
        return pd.DataFrame(columns=["educator_id", "competency_id", "p_mastery", "n_evidence"])
    if clock is not None and half_life_days is not None:
        raise ValueError("give clock or half_life_days, not both")
    if half_life_days is None:  # in days, so the default's arithmetic is today's, bit for bit
        half_life_days = (clock or DEFAULT_CLOCK).half_life_days
    t = pd.to_datetime(evidence["observed_at"], utc=True)
    now = t.max() if now is None else pd.Timestamp(now)
    age = ((now - t) / _DAY).to_numpy(float)
    w = 0.5 ** (np.maximum(age, 0) / half_life_days)
    frame = pd.DataFrame({
        "educator_id": evidence["educator_id"].to_numpy(object),
        "competency_id": evidence["competency_id"].to_numpy(object),
        "w": w,
        "wp": w * evidence["proficient"].to_numpy(bool),
        "n": 1,
    })
    g = frame.groupby(["educator_id", "competency_id"], sort=True).sum()
    a, b = prior
    return pd.DataFrame({
        "educator_id": g.index.get_level_values(0).to_numpy(object),
        "competency_id": g.index.get_level_values(1).to_numpy(object),
        "p_mastery": (a + g["wp"].to_numpy()) / (a + b + g["w"].to_numpy()),
        "n_evidence": g["n"].to_numpy(np.int64),
    })


def wide_mastery(long: pd.DataFrame, educators: np.ndarray, comps: Sequence[str],
                 column: str, fill: float = COLD_START_P) -> np.ndarray:
    """``long[column]`` as an (educators, comps) array; ``fill`` where a pair has no row (by
    default the cold-start value :data:`~recommender.ranking.params.COLD_START_P`, as the
    ranker reads a missing pair)."""
    out = np.full((len(educators), len(comps)), fill)
    if len(long):
        r = pd.Index(educators).get_indexer(long["educator_id"])
        c = pd.Index(list(comps)).get_indexer(long["competency_id"])
        keep = (r >= 0) & (c >= 0)
        out[r[keep], c[keep]] = long[column].to_numpy(float)[keep]
    return out


def long_mastery(p: np.ndarray, educators: np.ndarray, comps: Sequence[str]) -> pd.DataFrame:
    """An (educators, comps) array of P(mastery) as a long ``educator_id, competency_id,
    p_mastery`` frame (clipped to [0, 1]), the shape the ranker reads."""
    n_e, n_c = p.shape
    return pd.DataFrame({
        "educator_id": np.repeat(educators, n_c),
        "competency_id": np.tile(np.asarray(comps, dtype=object), n_e),
        "p_mastery": np.clip(p.ravel(), 0.0, 1.0),
    })


def engine_estimate(estimator: MasteryEstimator) -> EstimateFn:
    """The engine's estimator as the simulator calls it, exactly as the API serves it.

    Every step, :meth:`recommender.estimate.MasteryEstimator.estimate` as of the step's time
    (the latest evidence, plus one second) from the evidence, the completed activities so far
    (the learning the estimate accounts for), the educators' profiles (the model's ``prof_``
    features, as the API passes the stored ones) and, when the caller has one, a rater severity
    table for this population's observers (replacing the estimator's own for the call).
    """

    def estimate(evidence: pd.DataFrame, completions: pd.DataFrame | None = None,
                 educators: pd.DataFrame | None = None, severity=None) -> pd.DataFrame:
        as_of = evidence["observed_at"].max() + pd.Timedelta(seconds=1)
        ids = pd.unique(evidence["educator_id"])
        return estimator.estimate(evidence, ids, as_of=as_of, completions=completions,
                                  educators=educators, severity=severity)

    return estimate


def estimator_inputs(estimate: EstimateFn) -> frozenset[str]:
    """Which of ``completions``, ``educators`` and ``severity`` the estimator takes."""
    try:
        params = inspect.signature(estimate).parameters
    except (TypeError, ValueError):
        return frozenset()
    return frozenset({"completions", "educators", "severity"} & set(params))
