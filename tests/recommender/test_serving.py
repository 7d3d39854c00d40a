"""Serving-time estimates and contexts: the graph rule and feedback replay."""

import pandas as pd
import pytest

from recommender.graph import default_framework
from recommender.serving import estimate_mastery, feedback_context, graph_rule_mastery


@pytest.fixture(scope="module")
def graph():
    return default_framework("educator")


def _ev(educator, comp, proficient, day):
    return {"evidence_id": f"{educator}{comp}{day}", "educator_id": educator,
            "competency_id": comp, "proficient": proficient,
            "observed_at": pd.Timestamp(f"2024-03-{day:02d}", tz="UTC")}


def test_graph_rule_covers_every_competency_and_cold_educators_sit_at_one_half(graph):
    ev = pd.DataFrame([_ev("A", "INS.ELL", True, 1), _ev("A", "INS.ELL", True, 2)])
    out = graph_rule_mastery(graph, ev, ["A", "B"])
    assert len(out) == 2 * len(graph)
    a = out[out.educator_id == "A"].set_index("competency_id")
    b = out[out.educator_id == "B"]
    assert a.loc["INS.ELL", "p_mastery"] > 0.6 and a.loc["INS.ELL", "n_evidence"] == 2
    assert (b["p_mastery"] == 0.5).all() and (b["n_evidence"] == 0).all()


def test_graph_rule_of_one_educator_does_not_depend_on_the_batch(graph):
    ev = pd.DataFrame([_ev("A", "INS.ELL", True, 1), _ev("B", "INS.ELL", False, 28)])
    alone = graph_rule_mastery(graph, ev[ev.educator_id == "A"], ["A"])
    together = graph_rule_mastery(graph, ev, ["A", "B"])
    pd.testing.assert_frame_equal(alone, together[together.educator_id == "A"]
                                  .reset_index(drop=True))
    assert estimate_mastery(graph, ev, ["A"]).equals(alone)


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
