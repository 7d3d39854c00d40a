"""The ranker's tuning values: score weights and the constants of the goal model."""

from __future__ import annotations

import math
from dataclasses import dataclass

from recommender.ranking.checks import bad_field, is_number

__all__ = [
    "LOGITS_PER_GAIN",
    "MISSING_UNCERTAINTY",
    "READINESS_FLOOR",
    "READINESS_SLOPE",
    "STEP_OVERHEAD_HOURS",
    "ScoreWeights",
]

MISSING_UNCERTAINTY = 0.5
"""Uncertainty reported for a competency absent from the mastery table (the largest possible
standard deviation of a probability)."""

LOGITS_PER_GAIN = 4.0
"""Logits of skill per unit of gain in P(mastery): the slope of the logit at P = 0.5."""

READINESS_FLOOR = 0.25
"""Share of a gain that sticks when no direct prerequisite is mastered."""

READINESS_SLOPE = 2.0
"""Sharpness (per logit of a prerequisite's mastery) of the readiness the goal term assumes."""

STEP_OVERHEAD_HOURS = 10.0
"""Hours each activity costs beyond its own: a month's slot of the educator's attention."""

P_CLIP = 0.01
"""The goal model clips P(mastery) to [P_CLIP, 1 - P_CLIP] before taking its logit."""


@dataclass(frozen=True)
class ScoreWeights:
    """Weights of the score parts (see :mod:`recommender.ranking.scoring`).

    Parameters
    ----------
    need : float, default=1.0
        Weight of ``need`` (weighted mean of ``1 - p`` over targets, in [0, 1]).
    readiness : float, default=0.5
        Weight of ``readiness`` (weighted mean of the weakest prerequisite's mastery, in [0, 1]).
    gain : float, default=3.0
        Weight of the expected, headroom-discounted gain (typically 0.02 to 0.3).
    cost : float, default=0.15
        Weight of ``log1p(hours)``, subtracted (2 h: 0.16, 8 h: 0.33, 80 h: 0.66).
    goal : float, default=2.0
        Weight of goal progress (in [0, 1]: the educator's best goal step per hour has 1).

    All must be finite and >= 0.
    """

    need: float = 1.0
    readiness: float = 0.5
    gain: float = 3.0
    cost: float = 0.15
    goal: float = 2.0

    def __post_init__(self) -> None:
        for name in ("need", "readiness", "gain", "cost", "goal"):
            v = getattr(self, name)
            if not is_number(v) or not math.isfinite(v) or v < 0:
                raise bad_field("ScoreWeights", name, v, "a finite number >= 0")
