import numpy as np
import pandas as pd
import pytest
from scipy.optimize import approx_fprime
from scipy.special import expit

from recommender.models import (
    BKTMastery,
    FeatureFrameError,
    LightGBMMastery,
    LogisticMastery,
    PopulationRate,
    bkt_predict,
)
from recommender.models.baselines import _bkt_nll_grad, _history_counts, unpack_history
from tests.recommender.models.conftest import pack_bits, simulate_bkt

TRUE_BKT = {"easy": (0.5, 0.2, 0.2, 0.1), "hard": (0.2, 0.08, 0.1, 0.2)}


@pytest.fixture(scope="module")
def bkt_data():
    return simulate_bkt(TRUE_BKT, n_learners=300, n_steps=10, seed=7)


@pytest.fixture(scope="module")
def bkt(bkt_data):
    return BKTMastery().fit(*bkt_data)


def _hist_frame(histories, competency="easy"):
    return pd.DataFrame(
        {
            "competency_id": pd.Categorical([competency] * len(histories)),
            "hist_bits": np.array([pack_bits(h) for h in histories], dtype=np.int64),
            "hist_len": np.array([len(h) for h in histories], dtype=np.int64),
        }
    )


# --------------------------------------------------------------------------------------------
# population rate


def test_population_rate_smooths_toward_the_global_rate():
    X = pd.DataFrame({"competency_id": pd.Categorical(["a"] * 4 + ["b"] * 6)})
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 1])
    m = PopulationRate(smoothing=2.0).fit(X, y)
    assert m.global_rate_ == pytest.approx(0.5)
    assert m.rates_["a"] == pytest.approx((4 + 2 * 0.5) / (4 + 2))
    assert m.rates_["b"] == pytest.approx((1 + 2 * 0.5) / (6 + 2))
    raw = PopulationRate(smoothing=0.0).fit(X, y)
    assert raw.rates_.to_dict() == pytest.approx({"a": 1.0, "b": 1 / 6})
    new = pd.DataFrame({"competency_id": ["zz", None, "a"]})
    np.testing.assert_allclose(m.predict_proba(new)[:, 1], [0.5, 0.5, m.rates_["a"]])


# --------------------------------------------------------------------------------------------
# BKT


def test_bkt_predict_matches_the_hand_computed_filter():
    L0, T, G, S = 0.3, 0.1, 0.2, 0.1
    p = L0
    for o in (1, 0, 1):
        post = (
            p * (1 - S) / (p * (1 - S) + (1 - p) * G) if o else p * S / (p * S + (1 - p) * (1 - G))
        )
        p = post + (1 - post) * T
    expected = p * (1 - S) + (1 - p) * G
    assert bkt_predict(pack_bits([1, 0, 1]), 3, L0, T, G, S) == pytest.approx(expected)
    # bits beyond hist_len are ignored
    assert bkt_predict(pack_bits([1, 0, 1, 1]), 3, L0, T, G, S) == pytest.approx(expected)


def test_unpack_history_is_oldest_first():
    out = unpack_history([pack_bits([1, 0, 1]), 0], [3, 0])
    np.testing.assert_array_equal(out[:, 0], [1, 0, 1])
    np.testing.assert_array_equal(out[:, 1], [-1, -1, -1])


def test_bkt_gradient_matches_finite_differences(bkt_data):
    X, y = bkt_data
    bits, lens = X["hist_bits"].to_numpy(), X["hist_len"].to_numpy()
    args = (*_history_counts(bits, lens, y), 0.3, 0.3)
    theta = np.array([0.2, -1.5, 0.4, -0.6])
    nll, grad = _bkt_nll_grad(theta, *args)
    # the value is the mean negative log-likelihood of the rows themselves
    L0, T, G, S = expit(theta[0]), expit(theta[1]), 0.3 * expit(theta[2]), 0.3 * expit(theta[3])
    q = bkt_predict(bits, lens, L0, T, G, S)
    assert nll == pytest.approx(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))
    numeric = approx_fprime(theta, lambda t: _bkt_nll_grad(t, *args)[0], 1e-7)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-7)


def test_bkt_recovers_simulated_parameters(bkt):
    for comp, truth in TRUE_BKT.items():
        got = bkt.params_.loc[comp, ["p_init", "p_learn", "p_guess", "p_slip"]].to_numpy(float)
        np.testing.assert_allclose(got, truth, atol=0.08, err_msg=comp)
        assert not bkt.params_.loc[comp, "pooled"]


def test_bkt_prediction_rises_after_a_correct_answer(bkt):
    p = bkt.predict_proba(_hist_frame([[], [1], [0], [0, 1], [0, 0], [1, 1, 1]]))[:, 1]
    none, one, zero, zero_one, zero_zero, three = p
    assert one > none
    assert one > zero
    assert zero_one > zero_zero
    assert three > one


def test_bkt_falls_back_to_pooled_parameters(bkt_data):
    X, y = bkt_data
    m = BKTMastery(min_rows=10**6).fit(X, y)
    assert m.params_["pooled"].all()
    pooled = [m.pooled_params_[k] for k in ("p_init", "p_learn", "p_guess", "p_slip")]
    np.testing.assert_allclose(m.params_.iloc[0, :4].to_numpy(float), pooled)
    assert m.pooled_params_["p_guess"] <= 0.3 and m.pooled_params_["p_slip"] <= 0.3


def test_bkt_unseen_competency_uses_pooled_parameters(bkt):
    pp = bkt.pooled_params_
    got = bkt.predict_proba(_hist_frame([[1, 0]], competency="never_seen"))[0, 1]
    expected = bkt_predict(
        pack_bits([1, 0]), 2, pp["p_init"], pp["p_learn"], pp["p_guess"], pp["p_slip"]
    )
    assert got == pytest.approx(expected)


def test_bkt_rejects_bad_history_columns(bkt_data):
    X, y = bkt_data
    with pytest.raises(FeatureFrameError, match="hist_len"):
        BKTMastery().fit(X.drop(columns="hist_len"), y)
    bad = X.copy()
    bad["hist_bits"] = bad["hist_bits"].astype(float)
    bad.loc[bad.index[0], "hist_bits"] = np.nan
    with pytest.raises(FeatureFrameError, match="hist_bits"):
        BKTMastery().fit(bad, y)
    bad = X.copy()
    bad["hist_len"] = 99
    with pytest.raises(FeatureFrameError, match="hist_len"):
        BKTMastery().fit(bad, y)


# --------------------------------------------------------------------------------------------
# logistic regression


def test_logistic_uses_the_same_features_as_lightgbm(small_frame):
    X, y = small_frame
    lr = LogisticMastery().fit(X, y)
    gb = LightGBMMastery(n_estimators=5, min_child_samples=5, n_jobs=1).fit(X, y)
    assert list(lr.feature_names_in_) == list(gb.feature_names_in_)
    assert "hist_bits" not in lr.feature_names_in_ and "educator_id" not in lr.feature_names_in_
    assert set(lr.categorical_features_) == {"competency_id", "source", "domain", "prof_role"}
    no_graph = LogisticMastery(exclude_prefixes=("graph_",)).fit(X, y)
    assert not [c for c in no_graph.feature_names_in_ if c.startswith("graph_")]


def test_logistic_handles_missing_values_and_an_all_missing_column(small_frame):
    X, y = small_frame
    X = X.copy()
    X["dose_empty"] = np.nan
    m = LogisticMastery().fit(X, y)
    assert X["own_mean_score"].isna().any()  # first observations have no history
    p = m.predict_proba(X)
    assert np.isfinite(p).all()
