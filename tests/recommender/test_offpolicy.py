"""Off-policy estimators against hand-computed values, and on a synthetic bandit whose truth is
known: IPS and DR unbiased, intervals covering the truth about 95% of the time."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.offpolicy import crossfit_mean_reward, observed_value, policy_value


def _by_name(estimates):
    return {e.estimator: e for e in estimates}


def test_values_match_the_hand_computed_ones():
    r = [1.0, 0.0, 1.0, 0.0]
    p = [0.5, 0.25, 1.0, 0.5]
    t = [1, 1, 0, 0]
    ql, qt = [0.5, 0.5, 0.5, 0.5], [0.4, 0.4, 0.4, 0.4]
    est, ess = policy_value(r, p, t, q_logged=ql, q_target=qt)
    e = _by_name(est)
    # weights 2, 4, 0, 0
    assert e["ips"].value == pytest.approx((2 * 1 + 4 * 0) / 4)
    assert e["snips"].value == pytest.approx(2 / 6)
    assert e["dr"].value == pytest.approx(np.mean([0.4 + 2 * 0.5, 0.4 + 4 * -0.5, 0.4, 0.4]))
    assert ess == pytest.approx(36 / 20)
    terms = np.array([2.0, 0, 0, 0])
    assert e["ips"].se == pytest.approx(terms.std(ddof=1) / 2)
    assert e["ips"].low == pytest.approx(0.5 - 1.959964 * e["ips"].se, rel=1e-5)


def test_no_match_gives_zero_ips_and_undefined_snips():
    est, ess = policy_value([1.0, 1.0], [0.5, 0.5], [0, 0])
    e = _by_name(est)
    assert e["ips"].value == 0 and np.isnan(e["snips"].value) and ess == 0 and "dr" not in e


@pytest.mark.parametrize("kwargs, match", [
    ({"propensity": [0.0, 0.5]}, r"propensity must be in \(0, 1\]; record 0 is 0.0"),
    ({"propensity": [0.5]}, r"propensity must have one value per record \(2\)"),
    ({"reward": [np.nan, 1.0]}, "reward must be finite; record 0"),
    ({"target": [2, 0]}, r"target .* must be in \[0, 1\]"),
    ({"q_logged": [0.1, 0.1]}, "give both q_logged and q_target"),
])
def test_bad_input_names_the_field(kwargs, match):
    args = {"reward": [1.0, 0.0], "propensity": [0.5, 0.5], "target": [1, 0]} | kwargs
    with pytest.raises(ValueError, match=match):
        policy_value(**args)


def test_observed_value_is_the_mean_reward():
    e = observed_value([1.0, 0.0, 1.0, 1.0])
    assert e.value == 0.75 and e.low < 0.75 < e.high


def test_crossfit_reward_model_uses_other_folds_and_shrinks():
    keys = np.array(["a"] * 50 + ["b"] * 50, dtype=object)
    reward = np.r_[np.ones(50), np.zeros(50)]
    ql, qt = crossfit_mean_reward(keys, reward, np.array(["a"] * 99 + [None], dtype=object))
    assert (ql[:50] > 0.8).all() and (ql[50:] < 0.2).all()
    assert (qt[:99] > 0.8).all() and qt[99] == 0.0
    with pytest.raises(ValueError, match="folds must be at least 2"):
        crossfit_mean_reward(keys, reward, keys, folds=1)


def _synthetic(rng, n, n_actions=4):
    """Contexts with a known mean reward per (context type, action); an exploring logger."""
    ctx = rng.integers(0, 3, n)
    mean = np.array([[0.2, 0.5, 0.7, 0.1], [0.6, 0.3, 0.2, 0.4], [0.1, 0.1, 0.9, 0.5]])
    logits = np.array([[1.0, 0.5, 0.0, -0.5]] * 3)
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    a = (rng.random(n)[:, None] > np.cumsum(prob[ctx], axis=1)).sum(axis=1)
    r = (rng.random(n) < mean[ctx, a]).astype(float)
    candidate = np.array([2, 0, 2])[ctx]  # deterministic
    truth = float(mean[ctx, candidate].mean())
    return a, r, prob[ctx, a], (a == candidate).astype(float), candidate, truth


def test_ips_and_dr_are_unbiased_and_cover_on_a_synthetic_bandit():
    rng = np.random.default_rng(12345)
    values, covered = {"ips": [], "snips": [], "dr": []}, {"ips": 0, "snips": 0, "dr": 0}
    runs = 200
    for _ in range(runs):
        a, r, p, t, cand, truth = _synthetic(rng, 400)
        ql, qt = crossfit_mean_reward(a, r, cand)
        for e in policy_value(r, p, t, q_logged=ql, q_target=qt)[0]:
            values[e.estimator].append(e.value - truth)
            covered[e.estimator] += e.low <= truth <= e.high
    for name in ("ips", "dr"):
        assert abs(np.mean(values[name])) < 3 * np.std(values[name]) / np.sqrt(runs)
    for name in covered:
        assert covered[name] / runs >= 0.88


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(5, 60))
def test_estimates_of_the_logging_policy_itself_equal_the_observed_mean(seed, n):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 1, n)
    r = rng.random(n)
    # the logging policy evaluated on its own log: pi(a|x) = p, so w = 1
    e = _by_name(policy_value(r, p, p)[0])
    assert e["ips"].value == pytest.approx(r.mean())
    assert e["snips"].value == pytest.approx(r.mean())
