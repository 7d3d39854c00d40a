"""The scenario registry: each misspecified world is the documented change of the parameters."""

import dataclasses
import math

import numpy as np
import pytest

from recommender.graph import default_framework
from recommender.simulate import (
    SCENARIOS,
    SimulationParams,
    initial_population,
    resolve_scenarios,
    scenario_params,
)

BASE = SimulationParams()
GRAPH = default_framework("educator")

EXPECTED = {
    "default": {},
    "steep-gate": {"gate_slope": 6.0, "gate_floor": 0.075},
    "flat-gate": {"gate_slope": 1.5, "gate_floor": 0.3},
    "weak-gains": {"gain_noise_sd": 0.75,
                   "gain_scale": 0.5 * 4.0 * math.exp(0.3 ** 2 / 2) / math.exp(0.75 ** 2 / 2)},
    "harsh-raters": {"rater_bias_sd": 1.0},
    "slow-learners": {"learning_rate_mean": 0.6},
}


def _changed(params: SimulationParams) -> dict:
    return {f.name: getattr(params, f.name) for f in dataclasses.fields(params)
            if getattr(params, f.name) != getattr(BASE, f.name)}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_a_scenario_changes_exactly_its_documented_parameters(name):
    changed = _changed(scenario_params(name))
    assert changed.keys() == EXPECTED[name].keys()
    for key, value in EXPECTED[name].items():
        assert changed[key] == pytest.approx(value)


def test_every_registered_scenario_is_documented_here():
    assert list(SCENARIOS) == list(EXPECTED)
    assert all(s.description for s in SCENARIOS.values())


def test_weak_gains_halves_the_mean_gain_and_makes_it_noisier():
    p = scenario_params("weak-gains")

    def mean_gain(q):  # E[gain_scale * eta], eta = exp(gain_noise_sd * z)
        return q.gain_scale * math.exp(q.gain_noise_sd ** 2 / 2)

    assert mean_gain(p) == pytest.approx(0.5 * mean_gain(BASE))
    assert p.gain_noise_sd > BASE.gain_noise_sd


def test_a_scenario_applies_to_any_base():
    base = dataclasses.replace(BASE, gate_slope=5.0, rater_bias_sd=0.2)
    assert scenario_params("steep-gate", base).gate_slope == 10.0
    assert scenario_params("harsh-raters", base).rater_bias_sd == 0.4


def test_the_same_seed_gives_the_same_educators_in_every_scenario():
    base = initial_population(GRAPH, 50, random_state=3)
    slow = initial_population(GRAPH, 50, params=scenario_params("slow-learners"), random_state=3)
    harsh = initial_population(GRAPH, 50, params=scenario_params("harsh-raters"), random_state=3)
    np.testing.assert_array_equal(slow.theta, base.theta)
    np.testing.assert_allclose(slow.learning_rate, 0.6 * base.learning_rate)
    np.testing.assert_allclose(harsh.rater_bias, 2 * base.rater_bias)


def test_all_expands_and_duplicates_are_dropped():
    assert resolve_scenarios(["all"]) == list(SCENARIOS)
    assert resolve_scenarios(["flat-gate", "default", "flat-gate"]) == ["flat-gate", "default"]


@pytest.mark.parametrize("call", [lambda: scenario_params("nope"),
                                  lambda: resolve_scenarios(["default", "nope"])])
def test_an_unknown_scenario_is_named_with_the_valid_ones(call):
    with pytest.raises(ValueError, match=r"unknown scenario.*'nope'.*'steep-gate'.*'slow-learners'"):
        call()
