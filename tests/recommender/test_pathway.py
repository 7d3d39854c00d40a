import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.catalog import build_catalog, default_catalog
from recommender.errors import UnknownCompetencyError
from recommender.graph import default_framework, prerequisite_closure
from recommender.pathway import Pathway, PathwayStep, plan_pathway
from recommender.ranking import EducatorContext, RankingRequest
from tests.recommender.test_ranking import (
    activity,
    contexts,
    framework,
    mastery_tables,
    p_map,
    table,
    worlds,
)

FAST = settings(max_examples=40)


@st.composite
def plans(draw):
    graph, catalog = draw(worlds())
    mastery = draw(mastery_tables(sorted(graph)))
    goals = draw(st.lists(st.sampled_from(sorted(graph)), min_size=1, max_size=3, unique=True))
    context = draw(contexts(graph, catalog))
    request = RankingRequest(formats=draw(st.one_of(st.none(), st.just(("course",)))))
    return graph, catalog, mastery, goals, context, request


def allowed_targets(catalog, context, request):
    """Competencies some allowed (not completed/declined, available, format ok) activity
    develops."""
    acts = catalog.activities
    ok = ~acts.index.isin(list(context.completed | context.declined))
    if context.available is not None:
        ok &= acts.index.isin(list(context.available))
    if request.formats is not None:
        ok &= acts["format"].isin(request.formats).to_numpy(bool)
    keep = set(acts.index[ok])
    t = catalog.targets
    return set(t.loc[t["activity_id"].isin(keep), "competency_id"])


@FAST
@given(plans())
def test_pathway_is_topological_and_covers_exactly_the_reachable_unmastered_closure(case):
    graph, catalog, mastery, goals, context, request = case
    plan = plan_pathway(graph, catalog, mastery, goals, context=context, request=request)
    closure = prerequisite_closure(graph, goals, p_map(mastery), request.mastery_threshold)
    order = [s.competency_id for s in plan.steps]
    position = {c: i for i, c in enumerate(order)}
    for u, v in graph.edges:
        if u in position and v in position:
            assert position[u] < position[v], (u, v)
    reachable = allowed_targets(catalog, context, request)
    assert set(order) == set(closure) & reachable
    assert len(order) == len(set(order))
    assert plan.unreachable == [c for c in closure if c not in reachable]
    assert order == [c for c in closure if c in reachable]  # the closure's own order


@FAST
@given(plans())
def test_pathway_steps_respect_filters_and_add_up(case):
    graph, catalog, mastery, goals, context, request = case
    plan = plan_pathway(graph, catalog, mastery, goals, context=context, request=request)
    assert plan.goals == tuple(goals)
    acts = catalog.activities
    counted = [s.activity_id for s in plan.steps if s.hours > 0]
    assert len(counted) == len(set(counted))  # no activity is planned (and paid for) twice
    for s in plan.steps:
        assert s.activity_id not in context.completed | context.declined
        if request.formats is not None:
            assert acts.at[s.activity_id, "format"] in request.formats
        assert s.competency_id in set(
            catalog.targets.loc[catalog.targets["activity_id"] == s.activity_id, "competency_id"])
        assert 0 <= s.p_before <= s.p_after <= 1
        assert s.hours in (0.0, acts.at[s.activity_id, "hours"])
    assert plan.total_hours == pytest.approx(sum(s.hours for s in plan.steps))


@FAST
@given(plans())
def test_same_inputs_give_the_same_pathway(case):
    graph, catalog, mastery, goals, context, request = case
    first = plan_pathway(graph, catalog, mastery, goals, context=context, request=request)
    assert first == plan_pathway(graph, catalog, mastery.iloc[::-1], goals, context=context,
                                 request=request)


# --------------------------------------------------------------------------- unit tests

G = framework([("A", "B"), ("B", "C")], nodes=["Z"])


def test_simulated_mastery_is_carried_forward():
    cat = build_catalog({"activities": [
        activity("AB", {"A": 1.0, "B": 0.5}, hours=6, gain=0.2),
        activity("B1", {"B": 1.0}, hours=6, gain=0.1),
        activity("C1", {"C": 1.0}, hours=6, gain=0.1),
    ]}, G)
    plan = plan_pathway(G, cat, table({"A": 0.6, "B": 0.1, "C": 0.0}), "C")
    assert [(s.competency_id, s.activity_id) for s in plan.steps] == [
        ("A", "AB"), ("B", "B1"), ("C", "C1")]
    a, b, c = plan.steps
    assert (a.p_before, a.p_after) == pytest.approx((0.6, 0.8))
    assert b.readiness == pytest.approx(0.8)  # uses A after step 1, not the table's 0.6
    assert b.p_before == pytest.approx(0.1 + 0.2 * 0.5)  # step 1 also developed B
    assert b.p_after == pytest.approx(0.3)
    assert c.readiness == pytest.approx(0.3) and c.p_after == pytest.approx(0.1)
    assert plan.total_hours == 18
    assert plan.unreachable == []
    assert isinstance(plan, Pathway) and isinstance(a, PathwayStep)
    assert list(plan.to_frame()["competency_id"]) == ["A", "B", "C"]


def test_best_activity_is_the_highest_gain_per_log_hour():
    cat = build_catalog({"activities": [
        activity("LONG", {"A": 1.0}, hours=80, gain=0.3),  # 0.3 / log(81) = 0.068
        activity("MID", {"A": 1.0}, hours=8, gain=0.18),  # 0.18 / log(9) = 0.082
        activity("SHORT", {"A": 1.0}, hours=2, gain=0.05),  # 0.05 / log(3) = 0.046
    ]}, G)
    [step] = plan_pathway(G, cat, {}, "A").steps
    assert step.activity_id == "MID"
    assert step.p_after == pytest.approx(0.18)
    learned = pd.DataFrame({"activity_id": ["SHORT"], "competency_id": ["A"],
                            "gain_mean": [0.2]})
    assert plan_pathway(G, cat, {}, "A", gains=learned).steps[0].activity_id == "SHORT"
    ctx = EducatorContext(in_progress={"LONG"})
    assert plan_pathway(G, cat, {}, "A", context=ctx).steps[0].activity_id == "LONG"
    ctx = EducatorContext(completed={"MID"}, declined={"SHORT"})
    assert plan_pathway(G, cat, {}, "A", context=ctx).steps[0].activity_id == "LONG"


def test_competencies_without_activities_are_unreachable():
    cat = build_catalog({"activities": [activity("C1", {"C": 1.0}, fmt="coaching_cycle")]}, G)
    plan = plan_pathway(G, cat, table({"A": 0.9}), ["C"])
    assert plan.unreachable == ["B"]
    assert [s.competency_id for s in plan.steps] == ["C"]
    courses_only = plan_pathway(G, cat, table({"A": 0.9}), ["C"],
                                request=RankingRequest(formats=("course",)))
    assert courses_only.steps == [] and courses_only.unreachable == ["B", "C"]


def test_replanning_with_new_evidence_drops_what_became_mastered():
    cat = build_catalog({"activities": [activity(f"{c}1", {c: 1.0}) for c in "ABC"]}, G)
    before = plan_pathway(G, cat, table({"A": 0.2, "B": 0.2, "C": 0.1}), "C")
    assert [s.competency_id for s in before.steps] == ["A", "B", "C"]
    after = plan_pathway(G, cat, table({"A": 0.85, "B": 0.2, "C": 0.1}), "C",
                         context=EducatorContext(completed={"A1"}))
    assert [s.competency_id for s in after.steps] == ["B", "C"]
    assert after.total_hours < before.total_hours
    done = plan_pathway(G, cat, table({"A": 0.9, "B": 0.9, "C": 0.95}), "C")
    assert done.steps == [] and done.total_hours == 0


def test_an_activity_is_not_planned_twice():
    cat = build_catalog({"activities": [activity("AB", {"A": 1.0, "B": 1.0}, gain=0.1)]}, G)
    plan = plan_pathway(G, cat, {}, "B")
    assert [(s.competency_id, s.activity_id, s.hours) for s in plan.steps] == [
        ("A", "AB", 5.0), ("B", "AB", 0.0)]
    assert plan.steps[1].p_before == plan.steps[1].p_after == pytest.approx(0.1)
    assert plan.total_hours == 5


def test_bad_goals_are_named():
    cat = build_catalog({"activities": [activity("A1", {"A": 1.0})]}, G)
    with pytest.raises(UnknownCompetencyError, match="NOPE"):
        plan_pathway(G, cat, {}, ["A", "NOPE"])
    with pytest.raises(ValueError, match="goals must name at least one competency"):
        plan_pathway(G, cat, {}, [])


def test_default_framework_pathway_to_a_deep_goal():
    graph = default_framework("educator")
    catalog = default_catalog(graph)
    comps = sorted(graph)
    rng = np.random.default_rng(3)
    mastery = table(dict(zip(comps, rng.uniform(0, 0.6, len(comps)), strict=True)))
    deepest = max(comps, key=lambda c: (len(graph.pred[c]) > 0, len(prerequisite_closure(
        graph, c)), c))
    plan = plan_pathway(graph, catalog, mastery, deepest)
    closure = prerequisite_closure(graph, deepest, p_map(mastery))
    assert [s.competency_id for s in plan.steps] == [c for c in closure
                                                     if c not in plan.unreachable]
    assert plan.steps[-1].competency_id == deepest
    assert plan.total_hours > 0
