"""The contract every mastery model keeps, checked once for all of them (as implicit's
RecommenderBaseTestMixin and scikit-learn's common tests do), plus the shared helpers."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from recommender.errors import NotFittedError
from recommender.models import (
    MODELS,
    BKTMastery,
    FeatureFrameError,
    LightGBMMastery,
    LightGBMNoGraph,
    LogisticMastery,
    PopulationRate,
    expected_calibration_error,
    feature_columns,
    make_model,
    mastery_metrics,
    reliability_table,
)

FAST_TREES = dict(
    n_estimators=40,
    learning_rate=0.1,
    num_leaves=7,
    min_child_samples=10,
    early_stopping_rounds=10,
    n_jobs=1,
)

FACTORIES = {
    "lightgbm": lambda: LightGBMMastery(**FAST_TREES),
    "lightgbm_nograph": lambda: LightGBMNoGraph(**FAST_TREES),
    "logistic": lambda: LogisticMastery(),
    "bkt": lambda: BKTMastery(max_iter=60, n_init=1),
    "population": lambda: PopulationRate(),
}


@pytest.fixture(params=sorted(FACTORIES))
def name(request):
    """Registry name of the model under test."""
    return request.param


@pytest.fixture(scope="module")
def fitted(small_frame):
    """Each model fitted once on the small frame (shared; do not refit)."""
    X, y = small_frame
    return {name: f().fit(X, y) for name, f in FACTORIES.items()}


def test_registry_covers_every_model():
    assert set(MODELS) == set(FACTORIES)
    for name, f in FACTORIES.items():
        assert type(f()) is MODELS[name]


def test_fit_returns_self(name, small_frame):
    X, y = small_frame
    model = FACTORIES[name]()
    assert model.fit(X, y) is model
    np.testing.assert_array_equal(model.classes_, [0, 1])
    assert model.n_features_in_ == len(model.feature_names_in_) > 0


def test_fit_and_predict_leave_the_frame_unchanged(name, small_frame):
    X, y = small_frame
    before = X.copy()
    FACTORIES[name]().fit(X, y).predict_proba(X)
    pd.testing.assert_frame_equal(X, before)


def test_unfitted_model_raises_not_fitted_error_mentioning_fit(name, small_frame):
    X, _ = small_frame
    with pytest.raises(NotFittedError, match="Call 'fit'"):
        FACTORIES[name]().predict_proba(X)
    with pytest.raises(ValueError, match="not fitted"):  # NotFittedError subclasses ValueError
        FACTORIES[name]().predict(X)


def test_probabilities_are_valid(name, fitted, small_frame):
    X, _ = small_frame
    proba = fitted[name].predict_proba(X)
    assert proba.shape == (len(X), 2)
    assert np.isfinite(proba).all()
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    pred = fitted[name].predict(X)
    assert set(np.unique(pred)) <= {0, 1}
    np.testing.assert_array_equal(pred, (proba[:, 1] >= 0.5).astype(int))


def test_predict_mastery_is_aligned_with_the_frame_index(name, fitted, small_frame):
    X, _ = small_frame
    Xs = X.iloc[::7]
    s = fitted[name].predict_mastery(Xs)
    assert s.index.equals(Xs.index)
    np.testing.assert_allclose(s.to_numpy(), fitted[name].predict_proba(Xs)[:, 1])


def test_same_seed_gives_same_output(name, fitted, small_frame):
    X, y = small_frame
    again = FACTORIES[name]().fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), fitted[name].predict_proba(X))


def test_pickle_round_trip_gives_equal_predictions(name, fitted, small_frame):
    X, _ = small_frame
    model = fitted[name]
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_missing_required_column_is_named(name, fitted, small_frame):
    X, _ = small_frame
    model = fitted[name]
    assert "competency_id" in model.feature_names_in_
    with pytest.raises(FeatureFrameError, match="competency_id"):
        model.predict_proba(X.drop(columns="competency_id"))


def test_get_params_and_clone(name, fitted):
    model = FACTORIES[name]()
    params = model.get_params()
    assert params
    copy = clone(model)
    assert copy.get_params() == params
    assert type(copy) is type(model)
    # a clone of a fitted model is unfitted, and set_params round-trips
    with pytest.raises(NotFittedError):
        clone(fitted[name]).predict_proba(pd.DataFrame({"competency_id": ["c0"]}))
    assert copy.set_params(**params).get_params() == params


def test_unseen_competency_at_predict_does_not_crash(name, fitted, small_frame):
    X, _ = small_frame
    Xn = X.head(20).copy()
    for col in ("competency_id", "source", "prof_role"):
        Xn[col] = Xn[col].cat.add_categories(["never_seen"])
        Xn.loc[Xn.index[:10], col] = "never_seen"
    proba = fitted[name].predict_proba(Xn)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_plain_string_categoricals_predict_like_category_dtype(name, fitted, small_frame):
    X, _ = small_frame
    Xs = X.copy()
    for col in ("competency_id", "source", "domain", "prof_role"):
        Xs[col] = Xs[col].astype(str)
    model = fitted[name]
    np.testing.assert_allclose(model.predict_proba(Xs), model.predict_proba(X))


def test_column_order_does_not_matter_at_predict(name, fitted, small_frame):
    X, _ = small_frame
    model = fitted[name]
    shuffled = X[list(reversed(X.columns))]
    np.testing.assert_array_equal(model.predict_proba(shuffled), model.predict_proba(X))


@pytest.mark.parametrize(
    "y_bad, match",
    [
        (lambda y: np.zeros_like(y), "only class 0"),
        (lambda y: np.where(y == 1, 2, 0), "must be 0/1"),
        (lambda y: y[:-1], "rows but y has"),
    ],
    ids=["one-class", "not-binary", "wrong-length"],
)
def test_bad_target_is_rejected(name, small_frame, y_bad, match):
    X, y = small_frame
    with pytest.raises(FeatureFrameError, match=match):
        FACTORIES[name]().fit(X, y_bad(y))


def test_non_frame_input_is_rejected(name, small_frame):
    X, y = small_frame
    with pytest.raises(FeatureFrameError, match="DataFrame"):
        FACTORIES[name]().fit(X.to_numpy(), y)


@pytest.mark.parametrize(
    "model, param",
    [
        (LightGBMMastery(learning_rate=-1.0), "learning_rate"),
        (LightGBMMastery(calibration="platt"), "calibration"),
        (LightGBMMastery(validation_fraction=0.0), "validation_fraction"),
        (LogisticMastery(C=0.0), "'C'"),
        (BKTMastery(max_guess=0.9), "max_guess"),
        (PopulationRate(smoothing=-1), "smoothing"),
    ],
    ids=[
        "lgbm-lr",
        "lgbm-calibration",
        "lgbm-calibration-needs-valid",
        "logistic-C",
        "bkt-guess",
        "population-smoothing",
    ],
)
def test_bad_hyperparameter_is_rejected_at_fit_not_init(model, param, small_frame):
    X, y = small_frame
    with pytest.raises(ValueError, match=param):
        model.fit(X, y)


def test_make_model_builds_by_name_and_lists_known_names():
    model = make_model("lightgbm", n_estimators=10)
    assert isinstance(model, LightGBMMastery) and model.n_estimators == 10
    assert isinstance(make_model("lightgbm_nograph"), LightGBMNoGraph)
    with pytest.raises(ValueError, match="known models: bkt, lightgbm, lightgbm_nograph"):
        make_model("xgboost")
    with pytest.raises(ValueError, match=r"no parameter\(s\) \['depth'\]"):
        make_model("population", depth=3)


# --------------------------------------------------------------------------------------------
# shared helpers


def test_feature_columns_order_and_exclusions():
    X = pd.DataFrame(
        columns=[
            "educator_id",
            "as_of",
            "evidence_id",
            "hist_bits",
            "hist_len",
            "edu_n",
            "graph_prereq_mastery",
            "own_mean_score",
            "domain",
            "competency_id",
            "notes",
            "prof_role",
            "dose_hours",
            "source",
        ]
    )
    assert feature_columns(X) == [
        "competency_id",
        "source",
        "domain",
        "own_mean_score",
        "graph_prereq_mastery",
        "edu_n",
        "dose_hours",
        "prof_role",
    ]
    assert "graph_prereq_mastery" not in feature_columns(X, exclude_prefixes=("graph_",))
    assert feature_columns(X, exclude_prefixes="prof_")[-1] == "dose_hours"


def test_expected_calibration_error_known_values():
    assert expected_calibration_error([0, 1], [0.0, 1.0]) == 0.0
    assert expected_calibration_error([1, 1, 1, 1], [0.5] * 4) == pytest.approx(0.5)
    # two bins: (p=0.1, rate 0) and (p=0.9, rate 1): each off by 0.1
    assert expected_calibration_error([0, 0, 1, 1], [0.1, 0.1, 0.9, 0.9], n_bins=10) == (
        pytest.approx(0.1)
    )
    # accepts a predict_proba array
    assert expected_calibration_error([1, 0], np.array([[0.2, 0.8], [0.8, 0.2]]), n_bins=5) == (
        pytest.approx(0.2)
    )
    table = reliability_table([0, 1, 1], [0.05, 0.95, 1.0], n_bins=10)
    assert table["n"].tolist() == [1, 2]


def test_mastery_metrics_reports_every_metric():
    m = mastery_metrics([0, 1, 1, 0], [0.2, 0.7, 0.9, 0.4])
    assert set(m) == {"n", "base_rate", "auc", "log_loss", "brier", "ece"}
    assert m["auc"] == 1.0
    assert np.isnan(mastery_metrics([1, 1], [0.2, 0.7])["auc"])
    with pytest.raises(ValueError, match="probabilities"):
        mastery_metrics([0, 1], [0.2, 1.7])
