"""The uncertainty shown beside a mastery probability: wide without evidence, narrowing with it."""

import numpy as np
import pytest

from recommender.uncertainty import mastery_uncertainty


def test_no_evidence_at_one_half_spans_almost_everything():
    se, lo, hi = mastery_uncertainty([0.5], [0])
    assert se[0] == pytest.approx(np.sqrt(0.25 / 3))
    assert lo[0] == pytest.approx(0.025, abs=0.01) and hi[0] == pytest.approx(0.975, abs=0.01)


def test_interval_narrows_with_evidence_and_stays_in_unit_range():
    p = np.full(5, 0.8)
    n = np.array([0, 1, 5, 20, 200])
    se, lo, hi = mastery_uncertainty(p, n)
    assert np.all(np.diff(se) < 0) and np.all(np.diff(hi - lo) < 0)
    assert np.all((0 <= lo) & (lo <= p) & (p <= hi) & (hi <= 1))
    _, lo0, hi0 = mastery_uncertainty([0.0, 1.0], [3, 3])
    assert lo0.tolist() == [0.0, 1.0] and hi0.tolist() == [0.0, 1.0]


def test_wider_level_gives_a_wider_interval():
    _, lo90, hi90 = mastery_uncertainty([0.6], [4], level=0.9)
    _, lo99, hi99 = mastery_uncertainty([0.6], [4], level=0.99)
    assert lo99[0] < lo90[0] and hi99[0] > hi90[0]


@pytest.mark.parametrize("kw,match", [
    ({"level": 1.0}, "level must be in"),
    ({"prior_strength": 0}, "prior_strength must be > 0"),
])
def test_bad_parameters_are_named(kw, match):
    with pytest.raises(ValueError, match=match):
        mastery_uncertainty([0.5], [1], **kw)


def test_shapes_and_counts_are_checked():
    with pytest.raises(ValueError, match="same shape"):
        mastery_uncertainty([0.5, 0.5], [1])
    with pytest.raises(ValueError, match=">= 0"):
        mastery_uncertainty([0.5], [-1])
