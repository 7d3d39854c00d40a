"""The logged bandit join: first slots of ranked answers, rewards within the window, unusable rows
counted by reason."""

from __future__ import annotations

import pandas as pd
import pytest

from recommender.offpolicy_data import BANDIT_COLUMNS, logged_bandit

T0 = pd.Timestamp("2026-01-01", tz="UTC")


def _log_row(req, educator, rank, activity, propensity, kind="recommend", days=0):
    return {"request_id": req, "educator_id": educator, "kind": kind, "rank": rank,
            "activity_id": activity, "shown_at": T0 + pd.Timedelta(days=days),
            "propensity": propensity, "policy": "softmax(t=0.1)", "model_name": "graph-rule",
            "model_version": None, "score": 1.0}


def _feedback(educator, activity, event, days):
    return {"educator_id": educator, "activity_id": activity, "event": event,
            "at": T0 + pd.Timedelta(days=days)}


LOG = pd.DataFrame([
    _log_row("r1", "T1", 1, "A", 0.5), _log_row("r1", "T1", 2, "B", 1.0),
    _log_row("r2", "T2", 1, "B", 0.25, days=1),
    _log_row("r3", "T1", 1, "C", 0.8, days=2),
    _log_row("r4", "T1", 1, "A", None, days=3),          # before migration 0003
    _log_row("r5", "T1", 1, "D", None, kind="pathway", days=3),
    _log_row("r6", "T2", 1, "A", 1.5, days=3),           # bad propensity
])
FEEDBACK = pd.DataFrame([
    _feedback("T1", "A", "completed", 5),    # r1: inside 30 days
    _feedback("T2", "B", "completed", 40),   # r2: too late
    _feedback("T1", "C", "accepted", 3),     # r3: accepted only
    _feedback("T1", "C", "completed", 1),    # r3: before it was shown
])


def test_first_slots_join_rewards_within_the_window():
    out = logged_bandit(LOG, FEEDBACK)
    assert list(out.data.columns) == BANDIT_COLUMNS
    assert out.data["request_id"].tolist() == ["r1", "r2", "r3"]
    assert out.data["reward"].tolist() == [1.0, 0.0, 0.0]
    assert out.data["propensity"].tolist() == [0.5, 0.25, 0.8]
    assert out.skipped == {"not a ranked answer (pathway)": 1,
                           "no propensity (logged before migration 0003)": 1,
                           "propensity outside (0, 1]": 1}


def test_accepted_counts_when_asked_and_the_window_is_configurable():
    out = logged_bandit(LOG, FEEDBACK, events=("completed", "accepted"),
                        window=pd.Timedelta(days=60))
    assert out.data["reward"].tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("frame, name", [("log", "recommendation log"), ("feedback", "feedback")])
def test_missing_columns_are_named(frame, name):
    args = {"log": LOG, "feedback": FEEDBACK}
    args[frame] = args[frame].drop(columns=["educator_id"])
    with pytest.raises(ValueError, match=f"{name} lacks the column.*educator_id"):
        logged_bandit(**args)


def test_answers_logged_without_exploration_are_left_out_unless_asked():
    log = pd.concat([LOG, pd.DataFrame([_log_row("r7", "T1", 1, "A", 1.0, days=1)
                                        | {"policy": "off"}])])
    out = logged_bandit(log, FEEDBACK)
    assert "r7" not in set(out.data["request_id"])
    assert out.skipped["logged without exploration (policy off)"] == 1
    assert "r7" in set(logged_bandit(log, FEEDBACK, explored_only=False).data["request_id"])


def test_empty_feedback_gives_zero_rewards():
    out = logged_bandit(LOG, FEEDBACK.iloc[:0])
    assert out.data["reward"].sum() == 0 and len(out.data) == 3
