"""Serving-time estimates and contexts: the one estimator over stored rows, feedback replay."""

import numpy as np
import pandas as pd
import pytest

from recommender.catalog import default_catalog
from recommender.estimate import MasteryEstimator
from recommender.graph import default_framework
from recommender.models.predictor import MasteryGrid
from recommender.serving import estimate_mastery, feedback_context


@pytest.fixture(scope="module")
def graph():
    return default_framework("educator")


def _ev(educator, comp, proficient, day):
    return {"evidence_id": f"{educator}{comp}{day}", "educator_id": educator,
            "competency_id": comp, "source": "observation", "proficient": proficient,
            "observed_at": pd.Timestamp(f"2024-03-{day:02d}", tz="UTC")}


def _estimator(graph, predictor=None):
    return MasteryEstimator(graph, default_catalog(graph), predictor=predictor)


def test_every_competency_is_estimated_and_cold_educators_are_alike(graph):
    ev = pd.DataFrame([_ev("A", "INS.ELL", True, 1), _ev("A", "INS.ELL", True, 2)])
    out = estimate_mastery(_estimator(graph), ev, ["A", "B"], as_of="2024-04-01")
    assert len(out) == 2 * len(graph)
    a = out[out.educator_id == "A"].set_index("competency_id")
    b = out[out.educator_id == "B"]
    assert a.loc["INS.ELL", "p_mastery"] > b["p_mastery"].max()
    assert a.loc["INS.ELL", "n_evidence"] == 2
    assert b["p_mastery"].nunique() == 1 and (b["n_evidence"] == 0).all()


def test_the_estimate_of_one_educator_does_not_depend_on_the_batch(graph):
    ev = pd.DataFrame([_ev("A", "INS.ELL", True, 1), _ev("B", "INS.ELL", False, 28)])
    est = _estimator(graph)
    alone = estimate_mastery(est, ev[ev.educator_id == "A"], ["A"], as_of="2024-04-01")
    together = estimate_mastery(est, ev, ["A", "B"], as_of="2024-04-01")
    pd.testing.assert_frame_equal(alone, together[together.educator_id == "A"]
                                  .reset_index(drop=True))


def test_feedback_replay_order_matters_and_declines_expire():
    t = pd.Timestamp("2024-03-01", tz="UTC")
    events = [
        {"activity_id": "A", "event": "started", "at": t},
        {"activity_id": "A", "event": "completed", "at": t + pd.Timedelta(days=2)},
        {"activity_id": "B", "event": "declined", "at": t},
        {"activity_id": "C", "event": "pinned", "at": t},
        {"activity_id": "D", "event": "replaced", "replaces": "C", "at": t + pd.Timedelta(days=1)},
        {"activity_id": "E", "event": "accepted", "at": t},
    ]
    ctx = feedback_context(events, goals=["INS.ELL"], now=t + pd.Timedelta(days=10))
    assert ctx.completed == {"A"} and ctx.in_progress == {"E"}
    assert ctx.declined == {"B", "C"} and ctx.pinned == ("D",) and ctx.goals == ("INS.ELL",)
    later = feedback_context(events, now=t + pd.Timedelta(days=200), decline_days=90)
    assert later.declined == frozenset()


# --- stored rows that break the field contract (stored before it was enforced) ---------------

class _NanosecondPredictor:
    """Stands in for the model: its features work in nanoseconds, as the feature builder's do."""

    def mastery_grid(self, evidence, *, educator_ids, as_of, completions=None, educators=None):
        evidence["observed_at"].astype("datetime64[ns, UTC]")  # raises for a year 1600
        if completions is not None:
            completions["completed_at"].astype("datetime64[ns, UTC]")
        ids = np.asarray(list(educator_ids), dtype=object)
        return MasteryGrid(ids, ["INS.ELL"], np.full((len(ids), 1), 0.5),
                           np.full((len(ids), 1), float(len(evidence))))


def _stored(rows):
    """Evidence as the store returns it: times from integer microseconds (any year)."""
    frame = pd.DataFrame(rows)
    frame["observed_at"] = pd.to_datetime(frame.pop("observed_us"), unit="us", utc=True)
    return frame


@pytest.mark.parametrize("predictor", [None, _NanosecondPredictor()],
                         ids=["evidence-filter", "model"])
def test_evidence_rows_dated_outside_the_window_are_skipped_with_a_warning(graph, predictor,
                                                                          caplog):
    good = {"evidence_id": "g", "educator_id": "A", "competency_id": "INS.ELL",
            "source": "observation", "proficient": True, "observed_us": 1_709_287_200_000_000}  # 2024-03-01
    old = {**good, "evidence_id": "o", "proficient": False,
           "observed_us": -11_676_096_000_000_000}  # 1600-01-01
    year_zero = {**good, "evidence_id": "z", "proficient": False,
                 "observed_us": -62_135_596_800_000_000 - 50_400_000_000}
    completions = pd.DataFrame({"educator_id": ["A"], "activity_id": ["ACT-001"],
                                "completed_at": pd.to_datetime(["9999-12-31"], utc=True)
                                .as_unit("us")})
    with caplog.at_level("WARNING", logger="recommender.serving"):
        got = estimate_mastery(_estimator(graph, predictor), _stored([good, old, year_zero]),
                               ["A"], completions=completions, as_of="2024-04-01")
    want = estimate_mastery(_estimator(graph, predictor), _stored([good]), ["A"],
                            as_of="2024-04-01")
    pd.testing.assert_frame_equal(got, want)
    assert "skipped 2 stored evidence rows of educator(s) ['A']" in caplog.text
    if predictor is not None:
        assert "skipped 1 stored completions" in caplog.text


def test_a_decline_dated_far_ahead_does_not_hide_an_activity_forever(caplog):
    t = pd.Timestamp("2024-03-01", tz="UTC")
    events = [{"activity_id": "A", "event": "declined",
               "at": pd.Timestamp("9999-12-31T23:59:59", tz="UTC")},
              {"activity_id": "B", "event": "completed", "at": pd.Timestamp("0001-01-01",
                                                                             tz="UTC")},
              {"activity_id": "C", "event": "declined", "at": t}]
    with caplog.at_level("WARNING", logger="recommender.serving"):
        ctx = feedback_context(events, now=t + pd.Timedelta(days=1))
    assert ctx.declined == {"C"} and ctx.completed == frozenset()
    assert "skipped 2 stored feedback event(s)" in caplog.text
