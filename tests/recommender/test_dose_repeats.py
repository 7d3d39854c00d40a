"""A repeatable activity completed k times counts k times as dose (issue 20, item 4).

The dose features (:mod:`recommender.features.dose`) count completion *rows*, so k completions
of one activity are k doses; :func:`recommender.serving.completions_from_feedback` keeps every
``completed`` event, and the estimator's learning step moves mastery once per completion. These
tests pin that: nothing on the way deduplicates repeated completions.
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.catalog import build_catalog
from recommender.estimate import MasteryEstimator
from recommender.features import FeatureBuilder
from recommender.serving import completions_from_feedback
from tests.recommender.test_features import GRAPH, T0, make_evidence

CATALOG = build_catalog({"activities": [
    {"id": "cyc", "title": "Coaching cycle", "format": "coaching_cycle",
     "competencies": {"b": 1.0, "c": 0.5}, "hours": 4, "modality": "job_embedded",
     "level": "developing", "expected_gain": 0.1, "repeatable": True, "cooldown_days": 7},
]}, GRAPH)


def _completions(days):
    return pd.DataFrame({"educator_id": ["e1"] * len(days), "activity_id": ["cyc"] * len(days),
                         "completed_at": [T0 + pd.Timedelta(days=d) for d in days]})


def _serving(days, as_of_day=100):
    ev = make_evidence([("e1", "a", 0, 1.0)])
    b = FeatureBuilder(GRAPH, catalog=CATALOG).fit(ev)
    S = b.serving_frame(ev, as_of=T0 + pd.Timedelta(days=as_of_day), educator_ids=["e1"],
                        completions=_completions(days))
    return S.set_index("competency_id")


def test_three_completions_of_a_repeatable_activity_are_three_doses():
    S = _serving([10, 40, 70])
    assert S.loc["b", "dose_n_total"] == 3
    assert S.loc["b", "dose_gain_total"] == pytest.approx(3 * 0.1)
    assert S.loc["c", "dose_n_total"] == 3
    assert S.loc["c", "dose_gain_total"] == pytest.approx(3 * 0.5 * 0.1)
    assert S.loc["b", "dose_hours_since"] == pytest.approx(3 * 4.0)  # no own record on b
    assert S.loc["a", "dose_n_total"] == 0


def test_completions_at_the_same_instant_are_not_merged():
    assert _serving([10, 10])["dose_n_total"]["b"] == 2


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 99), min_size=0, max_size=12), st.integers(1, 100))
def test_dose_is_the_number_of_completions_strictly_before_as_of(days, as_of_day):
    S = _serving(days, as_of_day)
    k = sum(d < as_of_day for d in days)
    assert S.loc["b", "dose_n_total"] == k
    assert S.loc["c", "dose_gain_total"] == pytest.approx(k * 0.05)


def test_completions_from_feedback_keep_every_completed_event():
    at = [T0 + pd.Timedelta(days=d) for d in (1, 2, 2, 3)]
    feedback = pd.DataFrame({"educator_id": "e1", "activity_id": "cyc",
                             "event": ["completed", "completed", "completed", "rated"], "at": at})
    done = completions_from_feedback(feedback)
    assert len(done) == 3 and list(done["completed_at"]) == at[:3]


def test_each_completion_moves_the_estimate():
    """The estimator's learning step counts repeats too: more completions, higher mastery."""
    est = MasteryEstimator(GRAPH, CATALOG)
    ev = make_evidence([("e1", "a", 0, 1.0)])
    as_of = T0 + pd.Timedelta(days=100)
    p = [est.estimate(ev, ["e1"], as_of=as_of, completions=_completions(list(range(10, 10 + k))))
         .set_index("competency_id").loc["b", "p_mastery"] for k in range(4)]
    assert np.all(np.diff(p) > 0), p
