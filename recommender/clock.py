"""A tenant's evidence clock: how fast its evidence ages, as a half-life in its own time unit.

Evidence ages: a record loses half its recency weight every half-life. The default, 60 days,
suits classroom observations months apart; a platform whose learners produce evidence minutes
apart (practice items, simulations) needs a half-life in minutes, or nothing it sees ever decays.
``EvidenceClock(unit="minutes", half_life=30)`` says so.

A clock acts as a change of time scale against the default: with :attr:`EvidenceClock.scale`
``= 60 days / half-life``, evidence ``t`` old counts as evidence ``scale * t`` old counts under
the default clock. So it applies, the same way, to

- the smoothed evidence share (:func:`recommender.sim_estimators.smoothed_mastery`): recency
  weights ``0.5 ** (age / half_life)``;
- the served mastery filter (:class:`recommender.estimate.MasteryEstimator`), whose belief
  forgets old evidence by a drift of ``drift_sd_per_month`` per 30 days: on a clock of scale
  ``s`` the variance grows ``s`` times faster, so :func:`with_clock` gives the estimator
  ``drift_sd_per_month * sqrt(s)``.

The default clock (days, 60) has scale 1 and changes nothing: :func:`with_clock` returns the
estimator itself. A trained model's own decay features (``FeatureBuilder.decay_days``) belong to
the model and are not rescaled at serving: a tenant's model is trained on its own clock.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from recommender.errors import InvalidInputError
from recommender.estimate import MasteryEstimator

__all__ = ["DEFAULT_CLOCK", "UNITS", "EvidenceClock", "with_clock"]

UNITS = ("days", "hours", "minutes")
"""The time units a clock may count in."""

_DAYS_PER_UNIT = {"days": 1.0, "hours": 1.0 / 24, "minutes": 1.0 / 1440}

_MAX_HALF_LIFE = 1e6


@dataclass(frozen=True)
class EvidenceClock:
    """How fast a tenant's evidence ages: ``half_life`` in ``unit``, checked on construction.

    Parameters
    ----------
    unit : {"days", "hours", "minutes"}, default="days"
    half_life : float, default=60
        In ``unit``, > 0 and finite (below 1e6).

    Raises
    ------
    InvalidInputError
        Naming the field, the value and what is accepted.

    Examples
    --------
    >>> EvidenceClock("hours", 12).half_life_days
    0.5
    >>> EvidenceClock().scale
    1.0
    """

    unit: str = "days"
    half_life: float = 60.0

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise InvalidInputError("unit", self.unit, f"one of {list(UNITS)}")
        h = self.half_life
        if (not isinstance(h, int | float) or isinstance(h, bool) or not math.isfinite(h)
                or not 0 < h < _MAX_HALF_LIFE):
            raise InvalidInputError("half_life", h,
                                    f"a finite number of {self.unit} > 0 (below 1e6)")
        object.__setattr__(self, "half_life", float(h))

    @property
    def half_life_days(self) -> float:
        """The half-life in days (plain arithmetic: a half-life of up to 1e6 days is beyond what
        a ``pandas.Timedelta`` holds)."""
        return self.half_life * _DAYS_PER_UNIT[self.unit]

    @property
    def scale(self) -> float:
        """How many times faster evidence ages than on the default clock (days, 60)."""
        return DEFAULT_CLOCK.half_life_days / self.half_life_days

    def to_dict(self) -> dict[str, Any]:
        """``{"unit": ..., "half_life": ...}``."""
        return {"unit": self.unit, "half_life": self.half_life}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> EvidenceClock:
        """The clock of a mapping with ``unit`` and ``half_life`` (None: the default); other
        keys are an error naming them."""
        if data is None:
            return DEFAULT_CLOCK
        if not isinstance(data, Mapping):
            raise InvalidInputError("evidence_clock", data, "a mapping with unit and half_life")
        extra = sorted(set(data) - {"unit", "half_life"})
        if extra:
            raise InvalidInputError(str(extra[0]), data[extra[0]],
                                    "no such field; an evidence clock has unit and half_life")
        return cls(**dict(data))


DEFAULT_CLOCK = EvidenceClock()
"""60 days: the clock of a tenant that set none."""


def with_clock(estimator: MasteryEstimator, clock: EvidenceClock) -> MasteryEstimator:
    """``estimator`` with its evidence aging on ``clock``: the drift scaled by ``sqrt(scale)``.

    The default clock returns ``estimator`` itself (today's behaviour, bit for bit). Otherwise a
    shallow copy with other :class:`~recommender.estimate.EstimatorParams`: the graph, catalog,
    model and its cached priors (model probabilities, which no clock changes) are shared.
    """
    if not isinstance(clock, EvidenceClock):
        raise TypeError(f"clock must be an EvidenceClock; got {type(clock).__name__}")
    if clock.scale == 1.0:
        return estimator
    clocked = copy.copy(estimator)
    p = estimator.params
    clocked.params = dataclasses.replace(
        p, drift_sd_per_month=p.drift_sd_per_month * math.sqrt(clock.scale))
    return clocked
