"""Normalisation of scores: every scale mapped to [0, 1], and the proficiency threshold on it."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from recommender.errors import FrameworkError
from recommender.graph.framework import DEFAULT_SCALE

_TOLERANCE = 1e-9  # a score exactly at the threshold stays proficient despite float rounding


def proficient_threshold(scale: Mapping[str, float]) -> float:
    """Return the normalized proficiency threshold of a framework scale.

    Parameters
    ----------
    scale : mapping with keys ``min``, ``max``, ``proficient``
        A framework's rubric scale; missing keys take :data:`DEFAULT_SCALE`'s values.

    Returns
    -------
    float
        ``(proficient - min) / (max - min)``, in [0, 1]; 2/3 for the default 1-4 rubric.

    Raises
    ------
    FrameworkError
        If ``min >= max`` or ``proficient`` lies outside ``[min, max]``.

    Examples
    --------
    >>> proficient_threshold({"min": 1, "max": 4, "proficient": 3}) == 2 / 3
    True
    >>> proficient_threshold({"min": 0, "max": 100, "proficient": 70})
    0.7
    """
    s = {**DEFAULT_SCALE, **scale}
    lo, hi, prof = float(s["min"]), float(s["max"]), float(s["proficient"])
    if not lo < hi:
        raise FrameworkError(f"scale min {lo:g} must be below max {hi:g}; got {dict(scale)!r}")
    if not lo <= prof <= hi:
        raise FrameworkError(
            f"scale proficient {prof:g} must lie within [{lo:g}, {hi:g}]; got {dict(scale)!r}"
        )
    return (prof - lo) / (hi - lo)


DEFAULT_PROFICIENT_AT = proficient_threshold(DEFAULT_SCALE)
"""2/3: proficient at 3 on the default 1-4 rubric, as a normalized score."""


def normalized(
    score: np.ndarray, lo: np.ndarray, hi: np.ndarray, proficient_at: float
) -> tuple[np.ndarray, np.ndarray]:
    """``score_norm = (score - lo) / (hi - lo)`` and ``proficient = score_norm >= proficient_at``
    (up to float rounding), row by row."""
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = (score - lo) / (hi - lo)
    return norm, norm >= proficient_at - _TOLERANCE
