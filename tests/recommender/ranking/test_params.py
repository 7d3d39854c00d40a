"""RankerParams: validation that names the field, the flat MLflow form and its round trip."""

import dataclasses
import math

import numpy as np
import pytest

from recommender.ranking import DEFAULT_RANKER_PARAMS, RankerParams, ScoreWeights


def test_defaults_are_the_documented_values():
    """The defaults reproduce the ranker as it was tuned (changing one is a decision, not a
    refactor: the policy tables of docs/simulation.md rest on them)."""
    assert DEFAULT_RANKER_PARAMS == RankerParams()
    assert DEFAULT_RANKER_PARAMS.to_dict() == {
        "ranker.weights.need": 1.0, "ranker.weights.readiness": 0.5, "ranker.weights.gain": 3.0,
        "ranker.weights.cost": 0.15, "ranker.weights.goal": 2.0,
        "ranker.diversity_penalty": 0.3, "ranker.logits_per_gain": 4.0,
        "ranker.readiness_floor": 0.25, "ranker.readiness_slope": 2.0,
        "ranker.step_overhead_hours": 1.0, "ranker.p_clip": 0.01,
        "ranker.missing_uncertainty": 0.5, "ranker.cold_start_p": 0.5,
    }


def test_every_field_is_documented_with_its_source():
    doc = RankerParams.__doc__
    for f in dataclasses.fields(RankerParams):
        assert f"{f.name} :" in doc, f.name
    assert "seed 100" in doc and "Where the values come from" in doc


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"diversity_penalty": -0.1}, r"RankerParams\.diversity_penalty must be a finite number "
                                      r">= 0; got -0\.1\."),
        ({"logits_per_gain": 0}, r"RankerParams\.logits_per_gain must be a finite number > 0; "
                                 r"got 0\."),
        ({"readiness_floor": 0.0}, r"RankerParams\.readiness_floor must be a number in \(0, 1\]; "
                                   r"got 0\.0\."),
        ({"readiness_floor": 1.5}, r"RankerParams\.readiness_floor .*got 1\.5\."),
        ({"readiness_slope": math.inf}, r"RankerParams\.readiness_slope .*got inf\."),
        ({"step_overhead_hours": -1}, r"RankerParams\.step_overhead_hours must be a finite "
                                      r"number of hours >= 0; got -1\."),
        ({"step_overhead_hours": "10"}, r"RankerParams\.step_overhead_hours .*got '10'\."),
        ({"p_clip": 0.5}, r"RankerParams\.p_clip must be a number in \(0, 0\.5\); got 0\.5\."),
        ({"missing_uncertainty": math.nan}, r"RankerParams\.missing_uncertainty .*got nan\."),
        ({"cold_start_p": 1.5}, r"RankerParams\.cold_start_p .*got 1\.5"),
        ({"diversity_penalty": True}, r"RankerParams\.diversity_penalty .*got True\."),
        ({"weights": {"goal": 1.0}}, r"RankerParams\.weights must be a ScoreWeights; "
                                     r"got \{'goal': 1\.0\}\."),
    ],
    ids=["negative-penalty", "zero-logits", "zero-floor", "floor-above-1", "infinite-slope",
         "negative-overhead", "string-overhead", "clip-half", "nan-uncertainty", "cold-above-1",
         "bool-penalty", "dict-weights"],
)
def test_bad_params_name_the_field_the_value_and_what_is_expected(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        RankerParams(**kwargs)


def test_bad_weights_are_named():
    with pytest.raises(ValueError, match=r"ScoreWeights\.cost must be a finite number >= 0; "
                                         r"got -0\.1"):
        ScoreWeights(cost=-0.1)


def test_numpy_numbers_are_accepted_and_the_object_is_frozen():
    params = RankerParams(step_overhead_hours=np.float64(12.5), readiness_floor=np.int64(1))
    assert params.step_overhead_hours == 12.5
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.p_clip = 0.1


@pytest.mark.parametrize("params", [
    DEFAULT_RANKER_PARAMS,
    RankerParams(weights=ScoreWeights(need=0.0, goal=5.5), diversity_penalty=0.0,
                 logits_per_gain=2.5, readiness_floor=1.0, readiness_slope=0.0,
                 step_overhead_hours=40, p_clip=0.2, missing_uncertainty=0.25),
], ids=["default", "changed"])
def test_round_trip_through_the_flat_dict_and_through_strings(params):
    flat = params.to_dict()
    assert all(k.startswith("ranker.") for k in flat)
    assert RankerParams.from_dict(flat) == params
    # MLflow hands params back as strings, beside the run's other params
    logged = {**{k: str(v) for k, v in flat.items()}, "model": "lightgbm", "gains_spread": "0.01"}
    assert RankerParams.from_dict(logged) == params


def test_from_dict_keeps_defaults_for_missing_keys_and_refuses_unknown_or_bad_ones():
    assert RankerParams.from_dict({}) == DEFAULT_RANKER_PARAMS
    assert RankerParams.from_dict({"ranker.weights.goal": 3}) == RankerParams(
        weights=ScoreWeights(goal=3))
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['ranker\.overhead'\]; expected "
                                         r"some of \[.*'ranker\.step_overhead_hours'"):
        RankerParams.from_dict({"ranker.overhead": 5})
    with pytest.raises(ValueError, match=r"ranker\.p_clip must be a number; got 'tiny'"):
        RankerParams.from_dict({"ranker.p_clip": "tiny"})
    with pytest.raises(ValueError, match=r"RankerParams\.p_clip must be a number in "
                                         r"\(0, 0\.5\); got 0\.7"):
        RankerParams.from_dict({"ranker.p_clip": "0.7"})
