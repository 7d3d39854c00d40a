"""The team ranker (recommender.teams): shared steps, per-member fit and named misfits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from recommender.catalog import default_catalog
from recommender.errors import InvalidInputError
from recommender.graph import default_framework
from recommender.ranking import EducatorContext, prepare
from recommender.teams import TEAM_FORMATS, TeamRequest, rank_team

GRAPH = default_framework("educator")
CATALOG = default_catalog(GRAPH)
INDEX = prepare(GRAPH, CATALOG)
COMPS = sorted(GRAPH)


def _long(n: int, seed: int = 0) -> tuple[list[str], pd.DataFrame, dict]:
    rng = np.random.default_rng(seed)
    ids = [f"m{i:02d}" for i in range(n)]
    long = pd.DataFrame({"educator_id": np.repeat(ids, len(COMPS)),
                         "competency_id": np.tile(COMPS, n),
                         "p_mastery": rng.beta(2, 2, n * len(COMPS))})
    ctx = {e: EducatorContext(goals=(str(rng.choice(COMPS)),)) for e in ids}
    return ids, long, ctx


def _rank(ids, long, ctx, **kw):
    return rank_team(GRAPH, CATALOG, long, ids, contexts=ctx, index=INDEX,
                     request=TeamRequest(**kw))


def test_steps_are_team_formats_ordered_and_within_budget():
    ids, long, ctx = _long(8)
    steps = _rank(ids, long, ctx, k=4, max_hours=30)
    assert steps
    assert all(s.format in TEAM_FORMATS for s in steps)
    assert sum(s.hours for s in steps) <= 30
    scores = [s.score for s in steps]
    assert scores == sorted(scores, reverse=True)
    by_gain = _rank(ids, long, ctx, k=4, objective="gain")
    rates = [s.gain_per_hour for s in by_gain]
    assert rates == sorted(rates, reverse=True) and by_gain[0].score == by_gain[0].gain_per_hour
    for s in steps:
        assert [m.educator_id for m in s.members] == sorted(ids)
        assert s.team_gain == pytest.approx(sum(m.expected_gain for m in s.members))
        assert s.title in s.reason


def _goal_with_prereq() -> tuple[str, str]:
    """A team-format activity's primary target that has a direct prerequisite."""
    acts = CATALOG.activities
    for aid in acts.index[acts["format"].isin(TEAM_FORMATS)]:
        c = str(INDEX.competencies[INDEX.primary[INDEX.activity_pos[aid]]])
        if INDEX.predecessors[c]:
            return c, INDEX.predecessors[c][0]
    raise AssertionError("no team activity with a prerequisite")


def test_not_ready_and_mastered_members_are_named():
    goal, pre = _goal_with_prereq()
    ids = ["ready", "weak", "done"]
    rows = {"ready": {pre: 0.9, goal: 0.2}, "weak": {pre: 0.05, goal: 0.2},
            "done": {c: 0.95 for c in COMPS}}
    long = pd.DataFrame([{"educator_id": e, "competency_id": c, "p_mastery": v}
                         for e, m in rows.items() for c, v in m.items()])
    ctx = {e: EducatorContext(goals=(goal,)) for e in ids}
    steps = _rank(ids, long, ctx, k=10)
    on_goal = [s for s in steps if "weak" in s.named("not_ready")]
    assert on_goal, "the member far below a prerequisite is named"
    s = on_goal[0]
    weak = next(m for m in s.members if m.educator_id == "weak")
    assert weak.weak_prerequisite is not None and weak.weak_prerequisite_p < 0.5
    assert "weak" in s.reason and "Not ready" in s.reason
    for s in steps:
        assert "done" in s.named("mastered")
        assert next(m for m in s.members if m.educator_id == "done").expected_gain == 0


def test_p_bound_keeps_an_uncertain_mastery_open():
    goal, _ = _goal_with_prereq()
    base = pd.DataFrame({"educator_id": "a", "competency_id": COMPS, "p_mastery": 0.9})
    ctx = {"a": EducatorContext(goals=(goal,))}
    assert not _rank(["a"], base, ctx, k=3)  # everything mastered: nothing to gain
    unsure = base.assign(p_bound=0.4)
    assert _rank(["a"], unsure, ctx, k=3)  # the bound says not yet: steps again


def test_closed_member_gains_nothing_and_unavailable_drops_the_step():
    ids, long, ctx = _long(4, seed=3)
    first = _rank(ids, long, ctx, k=1)[0]
    ctx2 = {**ctx, ids[0]: EducatorContext(goals=ctx[ids[0]].goals,
                                           completed={first.activity_id})}
    again = [s for s in _rank(ids, long, ctx2, k=50) if s.activity_id == first.activity_id]
    assert again and ids[0] in again[0].named("closed")
    ctx3 = {**ctx, ids[1]: EducatorContext(goals=ctx[ids[1]].goals, available=set())}
    assert not _rank(ids, long, ctx3, k=5)


def test_cold_member_and_formats_and_flagged_activities():
    ids, long, ctx = _long(3)
    steps = _rank([*ids, "newcomer"], long, ctx, k=2, formats=("course",))
    assert steps and all(s.format == "course" for s in steps)
    assert "newcomer" in [m.educator_id for m in steps[0].members]
    extra = str(CATALOG.activities.index[CATALOG.activities["format"] == "micro_credential"][0])
    got = _rank(ids, long, ctx, k=200, formats=("plc_cycle",), activities=(extra,))
    assert {s.format for s in got} <= {"plc_cycle", "micro_credential"}


@pytest.mark.parametrize("kw, field", [({"k": 0}, "k"), ({"max_hours": -1}, "max_hours"),
                                       ({"gate_threshold": 2}, "gate_threshold"),
                                       ({"objective": "fun"}, "objective")])
def test_bad_request_names_the_field(kw, field):
    with pytest.raises(ValueError, match=field):
        TeamRequest(**kw)


def test_bad_inputs():
    ids, long, ctx = _long(2)
    with pytest.raises(ValueError, match="members"):
        _rank([], long, ctx)
    with pytest.raises(InvalidInputError, match="formats"):
        _rank(ids, long, ctx, formats=("potluck",))
    with pytest.raises(ValueError, match="missing column"):
        _rank(ids, long.drop(columns="p_mastery"), ctx)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 6))
def test_member_order_does_not_matter_and_more_members_never_lower_team_gain(seed, n):
    ids, long, ctx = _long(n, seed)
    a = _rank(ids, long, ctx, k=3)
    b = _rank(ids[::-1], long, ctx, k=3)
    assert [s.activity_id for s in a] == [s.activity_id for s in b]
    fewer = {s.activity_id: s.team_gain for s in _rank(ids[:-1], long, ctx, k=200)}
    for s in _rank(ids, long, ctx, k=200):
        assert s.team_gain >= fewer.get(s.activity_id, 0.0) - 1e-12


def _scores(ids, long, ctx, **kw) -> dict[str, float]:
    return {s.activity_id: s.score for s in _rank(ids, long, ctx, k=200, **kw)}


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5))
def test_finish_counts_each_member_once_and_only_toward_open_goals(seed, n):
    """``finish`` sums each member's share of their remaining way to their goals (in [0, 1])
    per hour: a member with every goal mastered, or with no goal, adds nothing; a second copy
    of every member doubles every score; no score exceeds members / (hours + overhead)."""
    ids, long, ctx = _long(n, seed)
    base = _scores(ids, long, ctx)
    assume(base)  # a lone member may have nothing left to gain
    slot = {a: CATALOG.activities.loc[a, "hours"] + INDEX.params.step_overhead_hours
            for a in base}
    assert all(0 <= v <= n / slot[a] + 1e-12 for a, v in base.items())
    done = pd.DataFrame({"educator_id": "done", "competency_id": COMPS, "p_mastery": 0.95})
    extra = {"done": EducatorContext(goals=(COMPS[0],)), "free": EducatorContext()}
    more = _scores([*ids, "done", "free"], pd.concat([long, done]), {**ctx, **extra})
    for a, v in base.items():
        assert more[a] == pytest.approx(v)
    twins = long.assign(educator_id=long["educator_id"] + "b")
    ctx2 = {**ctx, **{e + "b": c for e, c in ctx.items()}}
    doubled = _scores([*ids, *(e + "b" for e in ids)], pd.concat([long, twins]), ctx2)
    for a, v in base.items():
        assert doubled[a] == pytest.approx(2 * v)


@settings(max_examples=10, deadline=None)
@given(st.floats(0.02, 0.45), st.floats(0.02, 0.45), st.floats(0.05, 0.95))
def test_finish_favours_the_member_nearer_their_goal(p_near, p_far, p_pre):
    """A step covers at least as large a share of the way for a member nearer their goal than
    for one identical but further away (what lowers the team's mean hours to goal most: bring
    those nearly there over the line)."""
    goal, pre = _goal_with_prereq()
    p_near, p_far = max(p_near, p_far), min(p_near, p_far)

    def one(p_goal: float) -> dict[str, float]:
        long = pd.DataFrame({"educator_id": "m", "competency_id": COMPS, "p_mastery": 0.6})
        long.loc[long["competency_id"] == goal, "p_mastery"] = p_goal
        long.loc[long["competency_id"] == pre, "p_mastery"] = p_pre
        return _scores(["m"], long, {"m": EducatorContext(goals=(goal,))})

    near, far = one(p_near), one(p_far)
    for a, v in far.items():
        assert near.get(a, 0.0) >= v - 1e-12


def test_a_team_without_goals_gets_the_steps_with_most_gain_per_hour():
    ids, long, _ = _long(4, seed=5)
    steps = _rank(ids, long, {}, k=3)
    assert all(s.score == 0 for s in steps)
    rates = [s.gain_per_hour for s in steps]
    assert rates == sorted(rates, reverse=True)
