"""Exploration: shown orders are permutations of the ranked list, propensities are the drawing
probabilities (checked against frequencies and the Plackett-Luce formula), reproducible."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.exploration import (
    ExplorationPolicy,
    explore,
    explore_batch,
    first_slot_probabilities,
    request_rng,
)

SOFT = ExplorationPolicy("softmax", temperature=0.5)
EPS = ExplorationPolicy("epsilon", epsilon=0.3)


def test_off_keeps_the_ranker_order_with_propensity_one():
    order, prop = explore([3.0, 2.0, 1.0], ExplorationPolicy(), random.Random(0))
    assert order == [0, 1, 2] and prop == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("policy", [SOFT, EPS], ids=["softmax", "epsilon"])
def test_first_slot_frequencies_match_the_logged_propensities(policy):
    scores = np.tile([2.0, 1.5, 1.0, 0.2], (40_000, 1))
    order, prop = explore_batch(scores, policy, np.random.default_rng(1))
    expected = first_slot_probabilities(scores[:1], policy)[0]
    freq = np.bincount(order[:, 0], minlength=4) / len(order)
    assert freq == pytest.approx(expected, abs=0.01)
    # the logged first-slot propensity is the probability of the item shown there
    assert prop[:, 0] == pytest.approx(expected[order[:, 0]])


@pytest.mark.parametrize("policy", [SOFT, EPS], ids=["softmax", "epsilon"])
def test_one_list_draws_from_the_same_distribution_as_the_batch(policy):
    scores = [2.0, 1.5, 1.0, 0.2]
    rng = random.Random(5)
    draws = [explore(scores, policy, rng) for _ in range(20_000)]
    expected = first_slot_probabilities([scores], policy)[0]
    freq = np.bincount([o[0] for o, _ in draws], minlength=4) / len(draws)
    assert freq == pytest.approx(expected, abs=0.01)
    batch = explore_batch([scores], policy, np.random.default_rng(0))
    for order, prop in draws[:200]:  # the same order gets the same propensities
        if order == batch[0][0].tolist():
            assert prop == pytest.approx(batch[1][0].tolist())
        assert prop[0] == pytest.approx(expected[order[0]])


def test_softmax_propensities_are_the_plackett_luce_conditionals():
    scores = [1.0, 0.4, -0.3]
    order, prop = explore(scores, SOFT, random.Random(3))
    w = [math.exp(scores[i] / 0.5) for i in order]
    assert prop == pytest.approx([w[0] / sum(w), w[1] / (w[1] + w[2]), 1.0])


def test_epsilon_moves_one_item_to_the_front_and_keeps_the_rest_in_order():
    order, prop = explore_batch(np.tile([4.0, 3.0, 2.0, 1.0], (500, 1)), EPS,
                                np.random.default_rng(2))
    for row, p in zip(order, prop, strict=True):
        rest = [i for i in range(4) if i != row[0]]
        assert list(row[1:]) == rest
        assert p[0] == pytest.approx(0.7 + 0.3 / 4 if row[0] == 0 else 0.3 / 4)
        assert list(p[1:]) == [1.0, 1.0, 1.0]


def test_padded_lists_keep_their_padding():
    scores = [[1.0, 0.5, np.nan], [np.nan, np.nan, np.nan]]
    order, prop = explore_batch(scores, SOFT, np.random.default_rng(0))
    assert order[0, 2] == -1 and np.isnan(prop[0, 2]) and sorted(order[0, :2]) == [0, 1]
    assert (order[1] == -1).all() and np.isnan(prop[1]).all()
    assert first_slot_probabilities(scores, SOFT)[1].sum() == 0


def test_the_same_seed_and_request_draw_the_same_order():
    scores = np.linspace(1, 0, 10)
    a = explore(scores, SOFT, request_rng(7, "req-1"))
    assert explore(scores, SOFT, request_rng(7, "req-1")) == a
    draws = {tuple(explore(scores, SOFT, request_rng(7, f"req-{i}"))[0]) for i in range(30)}
    assert len(draws) > 1


@pytest.mark.parametrize("kwargs, match", [
    ({"mode": "greedy"}, "mode must be one of"),
    ({"mode": "softmax", "temperature": 0}, "temperature must be a finite number > 0"),
    ({"mode": "epsilon", "epsilon": 1.5}, r"epsilon must be a number in \[0, 1\]"),
])
def test_bad_settings_name_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ExplorationPolicy(**kwargs)


def test_scores_padded_in_the_middle_are_refused():
    with pytest.raises(ValueError, match="NaN may only pad the end"):
        explore_batch([[1.0, np.nan, 0.5]], SOFT, np.random.default_rng(0))


@settings(max_examples=60, deadline=None)
@given(scores=st.lists(st.floats(-50, 50), min_size=1, max_size=12),
       mode=st.sampled_from(["off", "softmax", "epsilon"]),
       temperature=st.floats(0.01, 100), epsilon=st.floats(0, 1), seed=st.integers(0, 2**32))
def test_order_is_a_permutation_and_propensities_are_probabilities(scores, mode, temperature,
                                                                   epsilon, seed):
    policy = ExplorationPolicy(mode, temperature=temperature, epsilon=epsilon)
    order, prop = explore(sorted(scores, reverse=True), policy, random.Random(seed))
    assert sorted(order) == list(range(len(scores)))
    assert all(0 < p <= 1 for p in prop)
    first = first_slot_probabilities([scores], policy)[0]
    assert first.sum() == pytest.approx(1.0)
