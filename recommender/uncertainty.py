"""How sure a mastery estimate is: a standard error and an interval from the evidence count.

Neither the graph rule nor the LightGBM model is Bayesian, so the uncertainty shown beside a
probability is an approximation with a stated meaning: read ``p`` as the mean of a Beta
distribution backed by ``n + prior_strength`` observations (the graph rule shrinks each estimate
with a prior worth ``strength = 2`` records, :func:`recommender.serving.graph_rule_mastery`).
Its standard deviation is ``sqrt(p (1 - p) / (n + prior_strength + 1))`` and the interval is
``p -/+ z * se`` clipped to [0, 1]. With no evidence at ``p = 0.5`` the 90% interval spans
[0.02, 0.98] ("we do not know"); ten records at ``p = 0.8`` give [0.62, 0.98].
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

__all__ = ["mastery_uncertainty"]


def mastery_uncertainty(p, n, *, prior_strength: float = 2.0, level: float = 0.9
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standard error and ``level`` interval of mastery probabilities.

    Parameters
    ----------
    p : array-like of float in [0, 1]
        P(mastery).
    n : array-like of int >= 0
        Evidence records behind each estimate (same shape as ``p``).
    prior_strength : float > 0, default=2.0
        Pseudo-observations behind an estimate without evidence.
    level : float in (0, 1), default=0.9
        Coverage of the interval.

    Returns
    -------
    se, low, high : ndarray of float
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level!r}")
    if prior_strength <= 0:
        raise ValueError(f"prior_strength must be > 0; got {prior_strength!r}")
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    n = np.asarray(n, dtype=float)
    if p.shape != n.shape:
        raise ValueError(f"p and n must have the same shape; got {p.shape} and {n.shape}")
    if np.any(n < 0):
        raise ValueError("n (evidence counts) must be >= 0")
    se = np.sqrt(p * (1.0 - p) / (n + prior_strength + 1.0))
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    return se, np.clip(p - z * se, 0.0, 1.0), np.clip(p + z * se, 0.0, 1.0)
