"""Misspecified worlds: named transformations of :class:`SimulationParams` for policy comparisons.

A scenario changes the world the educators live in (how learning sticks, how large and noisy
gains are, how raters score, how fast people learn) but not the policies: the ranker keeps its
own constants and the catalog keeps claiming its prior gains. A policy that only does well in
the default world has learned the simulator's equations rather than something robust.

Each scenario is a pure function of the base parameters (so a scenario can be applied to any
:class:`SimulationParams`), documented by its ``description``:

``default``       the base parameters unchanged.
``steep-gate``    prerequisites matter more: ``gate_slope`` x2, ``gate_floor`` x0.5.
``flat-gate``     prerequisites matter less: ``gate_slope`` x0.5, ``gate_floor`` x2 (at most 1).
``weak-gains``    activities teach half of what the catalog says, and noisier: ``gain_noise_sd``
                  x2.5, and ``gain_scale`` set so that the mean of ``gain_scale * eta`` (``eta``
                  log-normal) is half the base one, i.e. x ``0.5 * exp((sd0^2 - sd1^2) / 2)``.
``harsh-raters``  raters twice as far from fair, both ways: ``rater_bias_sd`` x2.
``slow-learners`` every educator learns more slowly: ``learning_rate_mean`` x0.6.

Because the transformations rescale parameters and never add draws, the same seed gives the
same educators, and the same noise, in every scenario.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from recommender.simulate.params import SimulationParams

__all__ = ["SCENARIOS", "Scenario", "resolve_scenarios", "scenario_params"]


@dataclass(frozen=True)
class Scenario:
    """A named world: ``apply(base)`` gives its parameters; ``description`` says what changes."""

    name: str
    description: str
    changes: Callable[[SimulationParams], dict]

    def apply(self, base: SimulationParams) -> SimulationParams:
        """``base`` with this scenario's changes."""
        return replace(base, **self.changes(base))


def _weak_gains(p: SimulationParams) -> dict:
    noisier = 2.5 * p.gain_noise_sd
    mean_ratio = math.exp((p.gain_noise_sd ** 2 - noisier ** 2) / 2)  # E[eta] base / E[eta] new
    return {"gain_scale": 0.5 * p.gain_scale * mean_ratio, "gain_noise_sd": noisier}


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("default", "the base parameters unchanged", lambda p: {}),
    Scenario("steep-gate", "prerequisites matter more: gate_slope x2, gate_floor x0.5",
             lambda p: {"gate_slope": 2 * p.gate_slope, "gate_floor": 0.5 * p.gate_floor}),
    Scenario("flat-gate", "prerequisites matter less: gate_slope x0.5, gate_floor x2",
             lambda p: {"gate_slope": 0.5 * p.gate_slope,
                        "gate_floor": min(1.0, 2 * p.gate_floor)}),
    Scenario("weak-gains", "activities teach half of what the catalog says (mean gain x0.5), "
                           "and noisier (gain_noise_sd x2.5)", _weak_gains),
    Scenario("harsh-raters", "raters twice as far from fair, both ways: rater_bias_sd x2",
             lambda p: {"rater_bias_sd": 2 * p.rater_bias_sd}),
    Scenario("slow-learners", "every educator learns more slowly: learning_rate_mean x0.6",
             lambda p: {"learning_rate_mean": 0.6 * p.learning_rate_mean}),
)}
"""Every scenario by name, ``default`` first."""


def resolve_scenarios(names: Sequence[str]) -> list[str]:
    """Scenario names in the order given, ``all`` expanding to every scenario, duplicates once.

    Raises ValueError naming the unknown names and listing the valid ones.
    """
    expanded = [s for name in names for s in (SCENARIOS if name == "all" else [name])]
    unknown = [name for name in expanded if name not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown scenario(s) {unknown}; expected 'all' or some of "
                         f"{list(SCENARIOS)}")
    if not expanded:
        raise ValueError(f"no scenario given; expected 'all' or some of {list(SCENARIOS)}")
    return list(dict.fromkeys(expanded))


def scenario_params(name: str, base: SimulationParams | None = None) -> SimulationParams:
    """The parameters of scenario ``name`` applied to ``base`` (default ``SimulationParams()``)."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; expected one of {list(SCENARIOS)}")
    return SCENARIOS[name].apply(SimulationParams() if base is None else base)
