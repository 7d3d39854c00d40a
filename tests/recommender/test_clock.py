"""The evidence clock (issue 20, item 4): a tenant's half-life in its own time unit, applied to
the smoothed evidence share and the served mastery filter; the default is today's behaviour."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.catalog import build_catalog
from recommender.clock import DEFAULT_CLOCK, EvidenceClock, with_clock
from recommender.errors import InvalidInputError
from recommender.estimate import MasteryEstimator
from recommender.sim_estimators import smoothed_mastery
from tests.recommender.test_ranking import activity, framework

T0 = pd.Timestamp("2025-01-01", tz="UTC")


def _evidence(offsets, unit, proficient):
    n = len(offsets)
    return pd.DataFrame({
        "evidence_id": [f"r{i}" for i in range(n)],
        "educator_id": "e1", "competency_id": "FA", "source": "observation",
        "proficient": proficient,
        "observed_at": [T0 + pd.Timedelta(**{unit: x}) for x in offsets]})


@pytest.mark.parametrize("kw,field", [
    ({"unit": "weeks"}, "unit"), ({"half_life": 0}, "half_life"),
    ({"half_life": -1}, "half_life"), ({"half_life": math.nan}, "half_life"),
    ({"half_life": math.inf}, "half_life"), ({"half_life": True}, "half_life"),
    ({"half_life": "60"}, "half_life"), ({"half_life": 1e7}, "half_life")])
def test_a_bad_clock_is_refused_naming_the_field(kw, field):
    with pytest.raises(InvalidInputError) as err:
        EvidenceClock(**kw)
    assert err.value.field == field and field in str(err.value)


def test_clock_values_and_mapping():
    assert DEFAULT_CLOCK == EvidenceClock("days", 60) and DEFAULT_CLOCK.scale == 1.0
    c = EvidenceClock("minutes", 30)
    assert c.half_life_days == pytest.approx(30 / 1440) and c.scale == pytest.approx(2880.0)
    longest = EvidenceClock("days", 999_999.9)  # beyond a pandas Timedelta: plain arithmetic
    assert longest.half_life_days == 999_999.9 and longest.scale == pytest.approx(60 / 999_999.9)
    assert EvidenceClock.from_dict(c.to_dict()) == c and EvidenceClock.from_dict(None) is DEFAULT_CLOCK
    with pytest.raises(InvalidInputError, match="half_lives"):
        EvidenceClock.from_dict({"unit": "days", "half_lives": 3})


def test_the_default_clock_is_todays_smoothed_share_bit_for_bit():
    rng = np.random.default_rng(0)
    ev = _evidence(rng.uniform(0, 400, 50), "days", rng.random(50) < 0.6)
    today = smoothed_mastery(ev, half_life_days=60.0)
    pd.testing.assert_frame_equal(smoothed_mastery(ev), today, check_exact=True)
    pd.testing.assert_frame_equal(smoothed_mastery(ev, clock=DEFAULT_CLOCK), today,
                                  check_exact=True)
    with pytest.raises(ValueError, match="not both"):
        smoothed_mastery(ev, clock=DEFAULT_CLOCK, half_life_days=60)


def test_evidence_minutes_apart_decays_on_a_minutes_clock():
    ev = _evidence([0, 120], "minutes", [False, True])  # failed, then passed two hours later
    days = smoothed_mastery(ev)["p_mastery"].item()
    minutes = smoothed_mastery(ev, clock=EvidenceClock("minutes", 30))["p_mastery"].item()
    assert days == pytest.approx(2 / 4, abs=1e-3)  # on a 60-day clock both weigh ~1
    assert minutes > 0.6  # the old failure has faded through four half-lives


OFFSETS = st.lists(st.floats(0, 500), min_size=1, max_size=15)


@settings(max_examples=40, deadline=None)
@given(OFFSETS, st.sampled_from(["hours", "minutes"]), st.floats(0.5, 200), st.data())
def test_a_clock_is_a_change_of_time_scale(offsets, unit, half_life, data):
    """The same history counted in another unit, on a clock of the same number in that unit,
    gives the same smoothed share."""
    prof = data.draw(st.lists(st.booleans(), min_size=len(offsets), max_size=len(offsets)))
    a = smoothed_mastery(_evidence(offsets, unit, prof), clock=EvidenceClock(unit, half_life))
    b = smoothed_mastery(_evidence(offsets, "days", prof), clock=EvidenceClock("days", half_life))
    assert a["p_mastery"].to_numpy() == pytest.approx(b["p_mastery"].to_numpy(), rel=1e-6)


G = framework([("FA", "AL")])
CAT = build_catalog({"activities": [activity("A1", {"FA": 1.0})]}, G)


def test_with_clock_keeps_the_default_and_scales_the_filters_drift():
    est = MasteryEstimator(G, CAT)
    assert with_clock(est, DEFAULT_CLOCK) is est
    hourly = with_clock(est, EvidenceClock("hours", 60))
    assert hourly is not est and est.params.drift_sd_per_month == 0.1
    assert hourly.params.drift_sd_per_month == pytest.approx(0.1 * math.sqrt(24))
    with pytest.raises(TypeError):
        with_clock(est, {"unit": "hours"})


def test_the_filter_on_an_hours_clock_reads_hours_as_the_default_reads_days():
    est = MasteryEstimator(G, CAT)
    offsets, prof = [0, 10, 35, 80], [True, False, True, True]
    as_of = {"hours": T0 + pd.Timedelta(hours=200), "days": T0 + pd.Timedelta(days=200)}

    def p(estimator, unit):
        out = estimator.estimate(_evidence(offsets, unit, prof), ["e1"], as_of=as_of[unit])
        return out.set_index("competency_id")[["p_mastery", "p_bound"]]

    hourly = p(with_clock(est, EvidenceClock("hours", 60)), "hours")
    pd.testing.assert_frame_equal(hourly, p(est, "days"), rtol=1e-9)
    assert not np.allclose(p(est, "hours")["p_bound"], hourly["p_bound"])  # it does change
