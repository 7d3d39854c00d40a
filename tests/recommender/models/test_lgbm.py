import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from recommender.models import (
    FeatureFrameError,
    LightGBMMastery,
    LightGBMNoGraph,
    PopulationRate,
    feature_columns,
)
from recommender.models.lgbm import MONOTONE_INCREASING
from tests.recommender.models.conftest import split_by_educator

PARAMS = dict(
    n_estimators=200,
    learning_rate=0.08,
    num_leaves=15,
    min_child_samples=20,
    early_stopping_rounds=25,
    n_jobs=1,
)


@pytest.fixture(scope="module")
def split(frame):
    return split_by_educator(*frame)


@pytest.fixture(scope="module")
def model(split):
    Xtr, ytr, _, _ = split
    return LightGBMMastery(**PARAMS).fit(Xtr, ytr)


def test_lightgbm_beats_population_rate_on_auc(model, split):
    Xtr, ytr, Xte, yte = split
    auc_lgbm = roc_auc_score(yte, model.predict_proba(Xte)[:, 1])
    auc_pop = roc_auc_score(yte, PopulationRate().fit(Xtr, ytr).predict_proba(Xte)[:, 1])
    assert auc_lgbm > auc_pop + 0.1
    assert auc_lgbm > 0.7


@pytest.mark.parametrize("calibration", ["isotonic", "sigmoid", "none"])
@pytest.mark.parametrize("column", ["own_mean_score", "graph_prereq_mastery"])
def test_increasing_a_monotone_feature_never_lowers_the_probability(split, calibration, column):
    Xtr, ytr, Xte, _ = split
    m = LightGBMMastery(**PARAMS, calibration=calibration).fit(Xtr, ytr)
    assert m.monotone_constraints_[column] == 1
    rows = Xte.head(40)
    grid = np.linspace(Xtr[column].min(), Xtr[column].max(), 12)
    probs = []
    for v in grid:
        Xv = rows.copy()
        Xv[column] = v
        probs.append(m.predict_proba(Xv)[:, 1])
    probs = np.column_stack(probs)
    assert (np.diff(probs, axis=1) >= -1e-12).all()


def test_monotone_constraints_apply_only_to_present_matching_columns(split):
    Xtr, ytr, _, _ = split
    m = LightGBMMastery(**PARAMS).fit(Xtr, ytr)
    assert m.monotone_constraints_ == {
        "own_mean_score": 1,
        "own_last_score": 1,
        "graph_prereq_mastery": 1,
    }
    assert "graph_prereq_mastery" in MONOTONE_INCREASING
    assert LightGBMMastery(**PARAMS, monotone=False).fit(Xtr, ytr).monotone_constraints_ == {}
    custom = LightGBMMastery(**PARAMS, monotone={"dose_*": 1}).fit(Xtr, ytr)
    assert custom.monotone_constraints_ == {"dose_hours": 1}


def test_no_graph_model_has_no_graph_features(split):
    Xtr, ytr, Xte, _ = split
    m = LightGBMNoGraph(**PARAMS).fit(Xtr, ytr)
    assert not [c for c in m.feature_names_in_ if c.startswith("graph_")]
    assert "graph_prereq_mastery" not in m.monotone_constraints_
    assert list(m.feature_names_in_) == feature_columns(Xtr, exclude_prefixes=("graph_",))
    # the ablation does not need graph columns at predict time
    m.predict_proba(Xte.drop(columns=["graph_prereq_mastery", "graph_depth"]))
    # ... and keeps graph_ out even when exclude_prefixes is overridden
    again = LightGBMNoGraph(**PARAMS, exclude_prefixes=("dose_",)).fit(Xtr, ytr)
    assert again.exclude_prefixes_ == ("graph_", "dose_")
    assert not [c for c in again.feature_names_in_ if c.startswith(("graph_", "dose_"))]
    # the same thing through the parameter
    same = LightGBMMastery(**PARAMS, exclude_prefixes=("graph_",)).fit(Xtr, ytr)
    np.testing.assert_array_equal(same.predict_proba(Xte), m.predict_proba(Xte))


def test_feature_contributions_sum_to_the_raw_margin(model, split):
    _, _, Xte, _ = split
    contrib = model.feature_contributions(Xte)
    assert list(contrib.columns) == [*model.feature_names_in_, "bias"]
    assert contrib.index.equals(Xte.index)
    np.testing.assert_allclose(
        contrib.sum(axis=1).to_numpy(), model.decision_function(Xte), atol=1e-9
    )


def test_feature_importance_is_gain_per_feature(model):
    imp = model.feature_importance_
    assert list(imp.index) == list(model.feature_names_in_)
    assert (imp >= 0).all() and imp.sum() > 0


def test_early_stopping_and_grouped_validation(split):
    Xtr, ytr, _, _ = split
    m = LightGBMMastery(**{**PARAMS, "n_estimators": 2000, "learning_rate": 0.3}).fit(Xtr, ytr)
    assert 1 <= m.best_iteration_ < 2000
    assert m.n_train_rows_ + m.n_valid_rows_ == len(Xtr)
    # explicit groups equal to the educator ids give the same model as the default
    g = LightGBMMastery(**PARAMS).fit(
        Xtr.drop(columns="educator_id"), ytr, groups=Xtr["educator_id"].to_numpy()
    )
    d = LightGBMMastery(**PARAMS).fit(Xtr, ytr)
    np.testing.assert_array_equal(g.predict_proba(Xtr), d.predict_proba(Xtr))


def test_validation_split_needs_educator_ids(split):
    Xtr, ytr, _, _ = split
    with pytest.raises(FeatureFrameError, match="educator_id"):
        LightGBMMastery(**PARAMS).fit(Xtr.drop(columns="educator_id"), ytr)
    with pytest.raises(FeatureFrameError, match="at least 2 educators"):
        LightGBMMastery(**PARAMS).fit(Xtr, ytr, groups=np.zeros(len(Xtr)))


def test_without_validation_all_rounds_are_used(split):
    Xtr, ytr, _, _ = split
    m = LightGBMMastery(
        **{**PARAMS, "n_estimators": 30}, validation_fraction=0.0, calibration="none"
    ).fit(Xtr, ytr)
    assert m.best_iteration_ == 30
    assert m.n_valid_rows_ == 0 and m.calibrator_ is None


def test_isotonic_probabilities_stay_off_zero_and_one(model, split):
    _, _, Xte, _ = split
    p = model.predict_proba(Xte)[:, 1]
    assert p.min() >= 1e-3 and p.max() <= 1 - 1e-3


def test_unseen_category_predicts_like_missing(model, split):
    _, _, Xte, _ = split
    rows = Xte.head(10).copy()
    unseen, missing = rows.copy(), rows.copy()
    unseen["competency_id"] = unseen["competency_id"].cat.add_categories(["zz"])
    unseen["competency_id"] = "zz"
    missing["competency_id"] = np.nan
    np.testing.assert_array_equal(model.predict_proba(unseen), model.predict_proba(missing))


def test_non_numeric_feature_at_predict_is_named(model, split):
    _, _, Xte, _ = split
    bad = Xte.head(5).copy()
    bad["own_mean_score"] = "high"
    with pytest.raises(FeatureFrameError, match="own_mean_score"):
        model.predict_proba(bad)
