"""The fast serving path equals the old one: matrix vs feature frame, one build for per-educator
as-of times vs one build per time, and the estimator's batched model prior (issue #16 item 3)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.catalog import default_catalog
from recommender.estimate import MasteryEstimator
from recommender.evidence import validate_evidence
from recommender.features import FeatureBuilder
from recommender.graph import default_framework
from recommender.models import LightGBMMastery
from recommender.models.predictor import MasteryGrid, MasteryPredictor
from recommender.simulate import generate

from .test_features import CATALOG, GRAPH, T0, completions, evidence_sets


@pytest.fixture(scope="module")
def served():
    """A small calibrated LightGBM predictor (with profiles and completions) and a cohort."""
    graph = default_framework("educator")
    catalog = default_catalog(graph)

    def cohort(n, seed):
        data = generate(graph, catalog, n_educators=n, months=4, random_state=seed)
        ev = validate_evidence(data.evidence, competencies=list(graph),
                               now=pd.Timestamp("2100-01-01", tz="UTC")).valid
        return ev, data.completions, data.educators

    ev, done, edu = cohort(80, 3)
    builder = FeatureBuilder(graph, catalog=catalog).fit(ev, educators=edu)
    X, y = builder.training_frame(ev, completions=done, educators=edu)
    model = LightGBMMastery(n_estimators=20, n_jobs=1).fit(X, y)
    return MasteryPredictor(builder, model, "tiny"), cohort(30, 4)


def _frame_path(predictor, ev, **kw):
    """The old path: a feature frame, then predict_proba on it."""
    X = predictor.features(ev, **kw)
    return X, predictor.predict_features(X)


def test_the_matrix_path_gives_the_feature_frames_numbers_exactly(served):
    predictor, (ev, done, edu) = served
    ids = edu["educator_id"].tolist() + ["nobody"]
    as_of = ev["observed_at"].quantile(0.7)
    kw = {"educator_ids": ids, "as_of": as_of, "completions": done, "educators": edu}
    X, p = _frame_path(predictor, ev, **kw)
    out = predictor.mastery(ev, **kw)
    np.testing.assert_array_equal(out["p_mastery"].to_numpy(), p)
    np.testing.assert_array_equal(out["n_evidence"].to_numpy(), X["own_n"].to_numpy())
    assert out["educator_id"].tolist() == X["educator_id"].tolist()
    assert out["competency_id"].tolist() == X["competency_id"].astype(str).tolist()
    M, _ = predictor.builder.serving_matrix(ev, columns=predictor.input_columns,
                                            categories=predictor.model.categories_, **kw)
    np.testing.assert_array_equal(M, predictor.model.input_matrix(X))  # NaN equal NaN
    # the isotonic calibrator read directly equals its own predict, at its knots and between
    cal = predictor.model.calibrator_
    margin = np.r_[predictor.model._margin(M), cal.X_thresholds_, cal.X_min_ - 1, cal.X_max_ + 1]
    np.testing.assert_array_equal(predictor.model._positive(margin), cal.predict(margin))


def test_per_educator_times_are_one_build_equal_to_one_build_per_time(served):
    predictor, (ev, done, edu) = served
    ids = edu["educator_id"].to_numpy(object)[:12]
    rng = np.random.default_rng(0)
    lo, hi = ev["observed_at"].min().value, ev["observed_at"].max().value
    times = pd.DatetimeIndex(rng.integers(lo, hi, len(ids)).astype("datetime64[ns]"), tz="UTC")
    times = times.where(np.arange(len(ids)) % 3 != 0, times[0])  # some educators share a time
    kw = {"completions": done, "educators": edu}
    batch = predictor.mastery(ev, educator_ids=ids, as_of=times, **kw)
    one_by_one = pd.concat([predictor.mastery(ev, educator_ids=[e], as_of=t, **kw)
                            for e, t in zip(ids, times, strict=True)], ignore_index=True)
    pd.testing.assert_frame_equal(batch, one_by_one, check_exact=True)
    frame = predictor.features(ev, educator_ids=ids, as_of=times, **kw)
    assert (frame["as_of"].to_numpy() == np.repeat(times.to_numpy(), 42)).all()
    with pytest.raises(ValueError, match="per-educator times need one per distinct id"):
        predictor.features(ev, educator_ids=[ids[0], ids[0]], as_of=times[:2], **kw)


@settings(max_examples=30, deadline=None)
@given(evidence_sets(), st.lists(st.integers(0, 31), min_size=3, max_size=3))
def test_per_educator_serving_frames_equal_single_time_frames(ev, days):
    b = FeatureBuilder(GRAPH, catalog=CATALOG).fit(ev)
    ids = ["e1", "e2", "e3"]
    times = [T0 + pd.Timedelta(days=d, hours=6) for d in days]
    batch = b.serving_frame(ev, as_of=times, educator_ids=ids, completions=completions())
    alone = pd.concat([b.serving_frame(ev, as_of=t, educator_ids=[e], completions=completions())
                       for e, t in zip(ids, times, strict=True)], ignore_index=True)
    pd.testing.assert_frame_equal(batch, alone, check_exact=True)
    # a full grid reads a neighbour's history from its own query; any other order searches
    backwards = b.serving_frame(ev, as_of=times[0], educator_ids=ids,
                                competencies=b.competencies[::-1], completions=completions())
    grid = b.serving_frame(ev, as_of=times[0], educator_ids=ids, completions=completions())
    n = len(b.competencies)
    flip = (np.arange(len(grid)) // n) * n + (n - 1 - np.arange(len(grid)) % n)
    pd.testing.assert_frame_equal(grid, backwards.iloc[flip].reset_index(drop=True),
                                  check_exact=True)


class _PerTime:
    """The estimator's old model prior: one frame-path model call per distinct as-of time."""

    def __init__(self, predictor):
        self.predictor, self.calls = predictor, 0

    def mastery_grid(self, evidence, *, educator_ids, as_of, completions=None, educators=None):
        ids = np.asarray(educator_ids, dtype=object)
        times = pd.DatetimeIndex([as_of] * len(ids) if np.ndim(as_of) == 0 else as_of)
        comps = self.predictor.builder.competencies
        p = np.full((len(ids), len(comps)), np.nan)
        for t in times.unique():
            self.calls += 1
            rows = np.flatnonzero(times == t)
            _, p_t = _frame_path(self.predictor, evidence, educator_ids=ids[rows], as_of=t,
                                 completions=completions, educators=educators)
            p[rows] = p_t.reshape(len(rows), len(comps))  # educator-major, framework order
        return MasteryGrid(ids, comps, p, np.zeros_like(p))


def test_the_batched_model_prior_equals_one_model_call_per_first_completion(served):
    predictor, (ev, done, edu) = served
    graph, catalog = predictor.builder.graph, predictor.builder.catalog
    ids = edu["educator_id"].tolist()
    as_of = ev["observed_at"].max() + pd.Timedelta(days=1)
    kw = {"as_of": as_of, "completions": done, "educators": edu}
    old = _PerTime(predictor)
    reference = MasteryEstimator(graph, catalog, predictor=old).estimate(ev, ids, **kw)
    assert old.calls > 5  # the cohort's educators first complete at many different times
    fast = MasteryEstimator(graph, catalog, predictor=predictor).estimate(ev, ids, **kw)
    pd.testing.assert_frame_equal(fast, reference, check_exact=True)
