import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.catalog import FORMATS, MODALITIES, build_catalog, default_catalog
from recommender.errors import UnknownCompetencyError
from recommender.graph import build_framework, default_framework
from recommender.pathway import plan_pathway
from recommender.pathway_batch import plan_pathways
from recommender.ranking import (
    COLD_START_P,
    DEFAULT_RANKER_PARAMS,
    EducatorContext,
    RankerParams,
    RankingIndex,
    RankingRequest,
    ScoreWeights,
    prepare,
    rank_activities,
    rank_batch,
    target_gains,
)
from tests.recommender.graph.strategies import dag_frameworks

# --------------------------------------------------------------------------- helpers


def framework(edges, nodes=None, names=None):
    """A framework graph from ``(prerequisite, dependent)`` pairs."""
    ids = sorted(set(nodes or []) | {x for e in edges for x in e})
    names = names or {}
    return build_framework({"name": "t", "competencies": [
        {"id": i, "name": names.get(i, f"Skill {i}"), "domain": "instructional",
         "prerequisites": sorted(u for u, v in edges if v == i)} for i in ids]})


def activity(aid, targets, hours=5, fmt="course", gain=0.1, modality="online", title=None):
    return {"id": aid, "title": title or f"Activity {aid}", "format": fmt,
            "competencies": targets, "hours": hours, "modality": modality,
            "level": "developing", "expected_gain": gain}


def table(p, uncertainty=0.1, evidence=True):
    """A mastery table from ``{competency: p}``, with two evidence ids per competency."""
    ids = sorted(p)
    frame = pd.DataFrame({
        "p_mastery": [p[i] for i in ids],
        "uncertainty": uncertainty,
        "n_evidence": 2,
    }, index=pd.Index(ids, name="competency_id"))
    if evidence:
        frame["evidence_ids"] = [[f"ev-{i}-1", f"ev-{i}-2"] for i in ids]
        frame["contributions"] = [[("own_mean_score", 0.2), ("graph_prereq", -0.05)]
                                  for _ in ids]
    return frame


def ids_of(recs):
    return [r.activity_id for r in recs]


# --------------------------------------------------------------------------- strategies

FAST = settings(max_examples=30)  # each example builds a framework and a catalog

P_VALUES = st.one_of(st.sampled_from([0.0, 0.5, 0.7, 1.0]), st.floats(0, 1))


HOURS = st.sampled_from([1, 2, 3, 5, 8, 13, 40])
WEIGHTS = st.sampled_from([0.3, 0.5, 1.0])
GAINS = st.sampled_from([0.05, 0.1, 0.2])


@st.composite
def worlds(draw, max_nodes=8, max_activities=14):
    """A small framework and a catalog over it."""
    graph = build_framework(draw(dag_frameworks(min_nodes=1, max_nodes=max_nodes)))
    ids = sorted(graph)
    one = st.tuples(
        st.dictionaries(st.sampled_from(ids), WEIGHTS, min_size=1, max_size=min(3, len(ids))),
        HOURS, st.sampled_from(FORMATS[:3]), st.sampled_from(MODALITIES[:2]), GAINS,
    )
    drawn = draw(st.lists(one, min_size=1, max_size=max_activities))
    acts = [activity(f"A{i:02d}", targets, hours=h, fmt=f, modality=m, gain=g)
            for i, (targets, h, f, m, g) in enumerate(drawn)]
    return graph, build_catalog({"activities": acts}, graph)


@st.composite
def mastery_tables(draw, ids):
    """A mastery table over a subset of ``ids`` (the rest are missing: a cold start)."""
    present = draw(st.lists(st.sampled_from(ids), unique=True, max_size=len(ids)))
    frame = table({c: draw(P_VALUES) for c in present})
    return frame


@st.composite
def contexts(draw, graph, catalog):
    aids = sorted(catalog.activities.index)
    subset = st.lists(st.sampled_from(aids), unique=True, max_size=4)
    return EducatorContext(
        goals=tuple(draw(st.lists(st.sampled_from(sorted(graph)), unique=True, max_size=2))),
        completed=frozenset(draw(subset)) | {"RETIRED-1"},
        declined=frozenset(draw(subset)),
        in_progress=frozenset(draw(subset)),
        pinned=tuple(draw(st.lists(st.sampled_from(aids), unique=True, max_size=2))),
        available=draw(st.one_of(st.none(), st.lists(st.sampled_from([*aids, "RETIRED-2"]),
                                                      unique=True).map(frozenset))),
    )


ranker_params = st.builds(
    RankerParams,
    weights=st.builds(ScoreWeights, need=st.sampled_from([0.0, 1.0]),
                      readiness=st.sampled_from([0.0, 0.5, 2.0]), gain=st.sampled_from([0.0, 3.0]),
                      cost=st.sampled_from([0.0, 0.15, 1.0]), goal=st.sampled_from([0.0, 2.0, 5.0])),
    diversity_penalty=st.sampled_from([0.0, 0.3, 1.0]),
    logits_per_gain=st.sampled_from([1.0, 4.0, 8.0]),
    readiness_floor=st.sampled_from([0.05, 0.25, 1.0]),
    readiness_slope=st.sampled_from([0.0, 2.0, 5.0]),
    step_overhead_hours=st.sampled_from([0.0, 10.0, 40.0]),
    p_clip=st.sampled_from([0.001, 0.01, 0.2]),
    cold_start_p=st.sampled_from([0.0, 0.5, 0.8]),
)
"""Ranker params around the defaults, including the edges of each range."""

requests = st.builds(
    RankingRequest,
    k=st.integers(1, 6),
    max_hours=st.one_of(st.none(), st.sampled_from([1.0, 4.0, 10.0, 25.0])),
    formats=st.one_of(st.none(), st.lists(st.sampled_from(FORMATS[:3]), min_size=1,
                                          unique=True).map(tuple)),
    hard_gate=st.booleans(),
    gate_threshold=st.sampled_from([0.3, 0.5]),
    diversify=st.booleans(),
)


@st.composite
def cases(draw, pins=True):
    graph, catalog = draw(worlds())
    context = draw(contexts(graph, catalog))
    if not pins:
        context = EducatorContext(goals=context.goals, completed=context.completed,
                                  declined=context.declined, in_progress=context.in_progress)
    return graph, catalog, draw(mastery_tables(sorted(graph))), context, draw(requests)


# --------------------------------------------------------------------------- a reference


def _logit(x, clip):
    x = min(max(x, clip), 1 - clip)
    return math.log(x / (1 - x))


def _gate(graph, theta, c, params):
    preds = list(graph.predecessors(c))
    if not preds:
        return 1.0
    slope, floor = params.readiness_slope, params.readiness_floor
    ready = sum(1 / (1 + math.exp(-slope * theta[q])) for q in preds) / len(preds)
    return floor + (1 - floor) * ready


def reference_progress(graph, catalog, p, goals, aid, threshold, params):
    """Goal hours saved per hour invested by doing ``aid`` next (before per-educator scaling)."""
    theta = {c: _logit(p.get(c, 0.0), params.p_clip) for c in graph}
    target = math.log(threshold / (1 - threshold))
    hours = catalog.activities["hours"]
    overhead = params.step_overhead_hours
    gain = {(a, c): catalog.activities.at[a, "expected_gain"] * w * params.logits_per_gain
            for a, c, w in catalog.targets[["activity_id", "competency_id", "weight"]].itertuples(
                index=False)}
    after = dict(theta)
    for (a, c), g in gain.items():
        if a == aid:
            after[c] = theta[c] + g * _gate(graph, theta, c, params)
    saved = 0.0
    for j in goals:
        rate = max((g / (hours[a] + overhead) for (a, c), g in gain.items() if c == j),
                   default=0.0)
        if rate <= 0 or theta[j] >= target:
            continue
        saved += ((target - theta[j]) / (rate * _gate(graph, theta, j, params))
                  - max(target - after[j], 0.0) / (rate * _gate(graph, after, j, params)))
    return max(saved, 0.0) / (hours[aid] + overhead)


def reference_goal(graph, catalog, p, context, aid, request, params=DEFAULT_RANKER_PARAMS):
    """``goal``: progress relative to the best candidate's (allowed, not excluded, open)."""
    best = 0.0
    for other, row in catalog.activities.iterrows():
        targets = catalog.targets.loc[catalog.targets["activity_id"] == other, "competency_id"]
        if (other in context.excluded
                or (request.formats is not None and row["format"] not in request.formats)
                or (request.modalities is not None
                    and row["modality"] not in request.modalities)
                or not any(p.get(c, 0.0) < request.mastery_threshold for c in targets)):
            continue
        best = max(best, reference_progress(graph, catalog, p, context.goals, other,
                                            request.mastery_threshold, params))
    if best <= 0:
        return 0.0
    return reference_progress(graph, catalog, p, context.goals, aid,
                              request.mastery_threshold, params) / best


def reference_parts(graph, catalog, p, context, aid, request, params=DEFAULT_RANKER_PARAMS):
    """The documented score parts of one activity, computed the slow, obvious way."""
    t = catalog.targets[catalog.targets["activity_id"] == aid]
    w = dict(zip(t["competency_id"], t["weight"], strict=True))
    wsum = sum(w.values())
    prior = catalog.activities.at[aid, "expected_gain"]
    get = lambda c: p.get(c, 0.0)  # noqa: E731
    ready = {c: min((get(q) for q in graph.predecessors(c)), default=1.0) for c in w}
    return {
        "need": sum(w[c] * (1 - get(c)) for c in w) / wsum,
        "readiness": sum(w[c] * ready[c] for c in w) / wsum,
        "gain": sum(prior * w[c] * (1 - get(c)) for c in w),
        "cost": math.log1p(catalog.activities.at[aid, "hours"]),
        "goal": reference_goal(graph, catalog, p, context, aid, request, params),
    }


def _ancestors(graph, c):
    seen, stack = set(), list(graph.predecessors(c))
    while stack:
        q = stack.pop()
        if q not in seen:
            seen.add(q)
            stack.extend(graph.predecessors(q))
    return seen


def p_map(frame, graph=(), cold=COLD_START_P):
    """P(mastery) of the table's competencies, and ``cold`` (the ranker's cold-start value)
    for every other competency of ``graph``."""
    return {**dict.fromkeys(graph, cold), **dict(zip(frame.index, frame["p_mastery"],
                                                     strict=True))}


# --------------------------------------------------------------------------- properties


@FAST
@given(cases())
def test_hard_gate_is_never_violated(case):
    graph, catalog, mastery, context, request = case
    p = p_map(mastery, graph)
    for rec in rank_activities(graph, catalog, mastery, context=context, request=request):
        if rec.pinned or not request.hard_gate:
            continue
        for t in rec.explanation["targets"]:
            if p.get(t["competency_id"], 0.0) < request.mastery_threshold:
                for q in graph.predecessors(t["competency_id"]):
                    assert p.get(q, 0.0) >= request.gate_threshold, (rec.activity_id, q)
        assert rec.explanation["prerequisite_gaps"] == []


@FAST
@given(cases())
def test_completed_declined_and_in_progress_are_never_proposed(case):
    graph, catalog, mastery, context, request = case
    recs = rank_activities(graph, catalog, mastery, context=context, request=request)
    assert not set(ids_of(recs)) & context.excluded


@FAST
@given(cases(), st.one_of(st.none(), ranker_params))
def test_nothing_outside_available_is_proposed_or_planned(case, params):
    graph, catalog, mastery, context, request = case
    recs = rank_activities(graph, catalog, mastery, context=context, request=request,
                           params=params)
    if context.available is not None:  # pins included: availability is a hard constraint
        assert set(ids_of(recs)) <= context.available
    goals = context.goals or (sorted(graph)[0],)
    plan = plan_pathway(graph, catalog, mastery, goals, context=context, request=request)
    if context.available is not None:
        assert {s.activity_id for s in plan.steps} <= context.available
    everything = dataclasses.replace(context, available=None)
    if context.available is None or set(catalog.activities.index) <= context.available:
        assert recs == rank_activities(graph, catalog, mastery, context=everything,
                                       request=request, params=params)


@FAST
@given(cases(), ranker_params)
def test_pinned_first_then_scores_non_increasing(case, params):
    graph, catalog, mastery, context, request = case
    recs = rank_activities(graph, catalog, mastery, context=context, request=request,
                           params=params)
    flags = [r.pinned for r in recs]
    assert flags == sorted(flags, reverse=True)  # every pinned item before every other
    pinned = [r.activity_id for r in recs if r.pinned]
    assert pinned == [a for a in context.pinned if a in pinned]  # in pin order
    scores = [r.score for r in recs if not r.pinned]
    assert all(a >= b for a, b in zip(scores, scores[1:], strict=False))


@FAST
@given(cases())
def test_k_budget_and_filters_are_respected(case):
    graph, catalog, mastery, context, request = case
    recs = rank_activities(graph, catalog, mastery, context=context, request=request)
    assert len(recs) <= request.k
    assert len(set(ids_of(recs))) == len(recs)
    if request.max_hours is not None:
        assert sum(r.hours for r in recs) <= request.max_hours
    if request.formats is not None:
        assert {r.format for r in recs} <= set(request.formats)


@FAST
@given(cases(pins=False))
def test_activities_whose_targets_are_all_mastered_are_not_proposed(case):
    graph, catalog, mastery, context, request = case
    p = p_map(mastery, graph)
    for rec in rank_activities(graph, catalog, mastery, context=context, request=request):
        assert any(p.get(t["competency_id"], 0.0) < request.mastery_threshold
                   for t in rec.explanation["targets"])


@FAST
@given(cases())
def test_explanations_cite_only_this_educators_evidence(case):
    graph, catalog, mastery, context, request = case
    own = {e for ids in mastery["evidence_ids"] for e in ids}
    recs = rank_activities(graph, catalog, mastery, context=context, request=request,
                           model_version="m-7")
    for rec in recs:
        ex = rec.explanation
        assert set(ex["evidence_ids"]) <= own
        assert ex["model_version"] == "m-7"
        assert rec.reason.endswith(".") and rec.reason.count(". ") == 0  # one sentence
        assert ex["goal"] is None or ex["goal"] in context.goals


@FAST
@given(cases(pins=False), st.one_of(st.just(DEFAULT_RANKER_PARAMS), ranker_params))
def test_scores_match_the_documented_formula(case, params):
    graph, catalog, mastery, context, request = case
    wt = params.weights
    p = p_map(mastery, graph, params.cold_start_p)
    for rec in rank_activities(graph, catalog, mastery, context=context, request=request,
                               params=params):
        parts = rec.explanation["score_parts"]
        ref = reference_parts(graph, catalog, p, context, rec.activity_id, request, params)
        for name, value in ref.items():
            assert parts[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
        rebuilt = (wt.need * ref["need"] + wt.readiness * ref["readiness"] + wt.gain * ref["gain"]
                   + wt.goal * ref["goal"] - wt.cost * ref["cost"] - parts["diversity_penalty"])
        assert rec.score == pytest.approx(rebuilt, abs=1e-12)


@FAST
@given(cases(pins=False))
def test_nothing_eligible_is_left_out_when_room_remains(case):
    """If fewer than k items come back, every other eligible activity is over the budget."""
    graph, catalog, mastery, context, request = case
    recs = rank_activities(graph, catalog, mastery, context=context, request=request)
    if len(recs) == request.k:
        return
    p = p_map(mastery, graph)
    used = sum(r.hours for r in recs)
    budget = math.inf if request.max_hours is None else request.max_hours
    for aid, row in catalog.activities.iterrows():
        if aid in ids_of(recs) or aid in context.excluded:
            continue
        if request.formats is not None and row["format"] not in request.formats:
            continue
        targets = catalog.targets.loc[catalog.targets["activity_id"] == aid, "competency_id"]
        open_ = [c for c in targets if p.get(c, 0.0) < request.mastery_threshold]
        if not open_:
            continue
        if request.hard_gate and any(p.get(q, 0.0) < request.gate_threshold
                                     for c in open_ for q in graph.predecessors(c)):
            continue
        assert used + row["hours"] > budget, aid


@FAST
@given(cases())
def test_same_inputs_give_the_same_ranking(case):
    graph, catalog, mastery, context, request = case
    first = rank_activities(graph, catalog, mastery, context=context, request=request)
    again = rank_activities(graph, catalog, mastery.iloc[::-1], context=context, request=request)
    assert first == again


@FAST
@given(st.data())
def test_rank_batch_agrees_with_rank_activities(data):
    graph, catalog = data.draw(worlds())
    request = data.draw(requests)
    params = data.draw(st.one_of(st.none(), ranker_params))
    n = data.draw(st.integers(1, 4))
    tables = {f"e{i}": data.draw(mastery_tables(sorted(graph))) for i in range(n)}
    bounded = data.draw(st.booleans())  # lower bounds that decide "mastered", or none
    if bounded:
        tables = {e: t.assign(p_bound=t["p_mastery"] * data.draw(st.floats(0, 1)))
                  for e, t in tables.items()}
    ctxs = {e: data.draw(contexts(graph, catalog)) for e in tables if data.draw(st.booleans())}
    ctxs["cold-start"] = data.draw(contexts(graph, catalog))  # no mastery rows at all
    cols = ["p_mastery", "uncertainty", "n_evidence"] + (["p_bound"] if bounded else [])
    long = pd.concat([t[cols].reset_index().assign(educator_id=e) for e, t in tables.items()],
                     ignore_index=True)
    batch = rank_batch(graph, catalog, long, contexts=ctxs, request=request, params=params)
    assert list(batch.columns) == ["educator_id", "rank", "activity_id", "score"]
    tables["cold-start"] = table({})
    known = set(long["educator_id"]) | set(ctxs)  # an educator with no rows and no context
    for e, t in tables.items():                   # is unknown to the batch
        if e not in known:
            assert e not in set(batch["educator_id"])
            continue
        single = rank_activities(graph, catalog, t, context=ctxs.get(e, EducatorContext()),
                                 request=request, params=params)
        rows = batch[batch["educator_id"] == e].sort_values("rank")
        assert rows["activity_id"].tolist() == ids_of(single)
        assert rows["rank"].tolist() == list(range(1, len(single) + 1))
        assert rows["score"].tolist() == [r.score for r in single]


@FAST
@given(st.data())
def test_a_missing_competency_ranks_as_an_explicit_cold_start_row(data):
    """A competency without a row and an explicit row at ``cold_start_p`` (level and bound)
    rank identically, one educator at a time and in a batch, for a missing educator too."""
    graph, catalog = data.draw(worlds())
    request = data.draw(requests)
    params = data.draw(st.one_of(st.none(), ranker_params))
    cold = (params or DEFAULT_RANKER_PARAMS).cold_start_p
    comps = sorted(graph)
    partial = data.draw(mastery_tables(comps))[["p_mastery"]]
    bounded = data.draw(st.booleans())
    if bounded:
        partial = partial.assign(p_bound=partial["p_mastery"] * data.draw(st.floats(0, 1)))
    missing = [c for c in comps if c not in partial.index]
    filled = pd.concat([partial, pd.DataFrame(
        {"p_mastery": cold, **({"p_bound": cold} if bounded else {})},
        index=pd.Index(missing, name=partial.index.name))])
    context = data.draw(contexts(graph, catalog))
    single = rank_activities(graph, catalog, partial, context=context, request=request,
                             params=params)
    explicit = rank_activities(graph, catalog, filled, context=context, request=request,
                               params=params)
    assert [(r.activity_id, r.score) for r in single] == [
        (r.activity_id, r.score) for r in explicit]

    def long(t, e):
        return t.rename_axis("competency_id").reset_index().assign(educator_id=e)

    all_cold = pd.DataFrame({"p_mastery": cold, **({"p_bound": cold} if bounded else {})},
                            index=pd.Index(comps, name="competency_id"))
    ctxs = {"e": context, "none": context}
    a = rank_batch(graph, catalog, long(partial, "e"), contexts=ctxs, request=request,
                   params=params)
    b = rank_batch(graph, catalog, pd.concat([long(filled, "e"), long(all_cold, "none")]),
                   contexts=ctxs, request=request, params=params)
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    rows = a[a["educator_id"] == "e"]
    assert rows["activity_id"].tolist() == [r.activity_id for r in single]


# --------------------------------------------------------------------------- unit tests

NAMES = {"AL": "Assessment literacy", "FA": "Formative assessment",
         "DDI": "Data-driven instruction", "X": "Classroom culture"}
G = framework([("AL", "FA"), ("FA", "DDI")], nodes=["X"], names=NAMES)


def test_reason_reads_as_one_sentence_a_coach_can_check():
    cat = build_catalog({"activities": [
        activity("A1", {"FA": 1.0}, hours=6, gain=0.14)]}, G)
    mastery = table({"AL": 0.81, "FA": 0.32}, uncertainty=0.10)
    [rec] = rank_activities(G, cat, mastery, context=EducatorContext(goals=("DDI",)),
                            request=RankingRequest(k=3), model_version="3")
    assert rec.reason == (
        "Builds Formative assessment (mastery 0.32 ± 0.10), which you are ready for since "
        "Assessment literacy is at 0.81, and leads toward your goal Data-driven instruction; "
        "6 h, expected gain +0.10."
    )
    ex = rec.explanation
    model = [{"kind": "model", "text": "model feature own_mean_score: +0.20",
              "competency_id": "FA", "value": 0.2},
             {"kind": "model", "text": "model feature graph_prereq: -0.05",
              "competency_id": "FA", "value": -0.05}]
    assert ex["targets"] == [{"competency_id": "FA", "name": "Formative assessment",
                              "p_mastery": 0.32, "uncertainty": 0.10, "weight": 1.0,
                              "gain": 0.14, "evidence": [], "contributions": model}]
    assert ex["ready_because"] == [{"competency_id": "AL", "name": "Assessment literacy",
                                    "p_mastery": 0.81}]
    assert ex["evidence_ids"] == ["ev-FA-1", "ev-FA-2", "ev-AL-1", "ev-AL-2"]
    assert ex["top_contributions"] == model
    assert ex["goal"] == "DDI" and ex["model_version"] == "3"
    assert ex["expected_gain"] == pytest.approx(0.14 * 0.68)


def test_a_lower_bound_decides_mastered_and_the_level_how_far():
    cat = build_catalog({"activities": [activity("A1", {"AL": 1.0}), activity("A2", {"X": 1.0})]},
                        G)
    level = pd.DataFrame({"p_mastery": [0.9, 0.9]}, index=pd.Index(["AL", "X"], name="c"))
    assert rank_activities(G, cat, level) == []  # both look mastered at their level
    # AL's bound is below the threshold: not yet called mastered, so still worked on
    sure = level.assign(p_bound=[0.5, 0.8])
    assert ids_of(rank_activities(G, cat, sure)) == ["A1"]
    goal = EducatorContext(goals=("AL",))
    plan = plan_pathway(G, cat, sure, ["AL"], context=goal)
    assert [s.activity_id for s in plan.steps][:1] == ["A1"]
    assert plan_pathway(G, cat, level, ["AL"], context=goal).steps == []


def test_missing_competency_counts_as_the_cold_start_value_with_high_uncertainty():
    cat = build_catalog({"activities": [activity("A1", {"X": 1.0})]}, G)
    [rec] = rank_activities(G, cat, table({"AL": 0.9}))
    assert rec.explanation["targets"][0]["p_mastery"] == COLD_START_P == 0.5
    [rec0] = rank_activities(G, cat, table({"AL": 0.9}), params=RankerParams(cold_start_p=0))
    assert rec0.explanation["targets"][0]["p_mastery"] == 0.0
    assert rec0.score > rec.score  # read as a known gap, X is needed more
    assert rec.explanation["targets"][0]["uncertainty"] == DEFAULT_RANKER_PARAMS.missing_uncertainty
    [rec] = rank_activities(G, cat, table({"AL": 0.9}), params=RankerParams(missing_uncertainty=1))
    assert rec.explanation["targets"][0]["uncertainty"] == 1
    assert "not yet assessed" in rec.reason
    assert rec.explanation["evidence_ids"] == []


def test_a_weak_prerequisite_of_the_goal_comes_before_the_goal_and_the_unrelated():
    g = framework([("A", "GOAL")], nodes=["B"])
    cat = build_catalog({"activities": [activity("A1", {"B": 1.0}), activity("A2", {"A": 1.0}),
                                        activity("A3", {"GOAL": 1.0})]}, g)
    mastery = table({"A": 0.1, "B": 0.1, "GOAL": 0.1})
    assert ids_of(rank_activities(g, cat, mastery))[:2] == ["A1", "A2"]  # tie: by id
    lifted = rank_activities(g, cat, mastery, context=EducatorContext(goals=("GOAL",)))
    # with A at 0.1 little of a gain on GOAL sticks: raising A first saves the most goal hours
    assert ids_of(lifted) == ["A2", "A3", "A1"]
    parts = {r.activity_id: r.explanation["score_parts"]["goal"] for r in lifted}
    assert parts["A2"] == 1.0 and 0 < parts["A3"] < 1.0
    assert parts["A1"] == 0.0  # B leads nowhere
    assert lifted[0].explanation["goal"] == "GOAL"
    assert "leads toward your goal" in lifted[0].reason


def test_the_goal_itself_earns_more_than_its_prerequisites_once_they_are_there():
    g = framework([("A", "GOAL")])
    cat = build_catalog({"activities": [activity("A1", {"A": 1.0}),
                                        activity("A2", {"GOAL": 1.0})]}, g)
    mastery = table({"A": 0.65, "GOAL": 0.1})  # ready enough for the goal itself
    context = EducatorContext(goals=("GOAL",))
    rec, other = rank_activities(g, cat, mastery, context=context)
    assert rec.activity_id == "A2" and other.activity_id == "A1"
    assert rec.explanation["score_parts"]["goal"] == 1.0
    p = p_map(mastery, g)
    request = RankingRequest()
    assert other.explanation["score_parts"]["goal"] == pytest.approx(
        reference_goal(g, cat, p, context, "A1", request))
    assert 0 < other.explanation["score_parts"]["goal"] < 1
    assert "is your goal" in rec.reason


def test_diversification_spreads_targets():
    g = framework([], nodes=["A", "B"])
    cat = build_catalog({"activities": [
        activity("A1", {"A": 1.0}), activity("A2", {"A": 1.0}), activity("A3", {"A": 1.0}),
        activity("B1", {"B": 1.0}, gain=0.08)]}, g)
    mastery = table({"A": 0.1, "B": 0.1})
    plain = rank_activities(g, cat, mastery, request=RankingRequest(k=2, diversify=False))
    assert ids_of(plain) == ["A1", "A2"]
    spread = rank_activities(g, cat, mastery, request=RankingRequest(k=2))
    assert ids_of(spread) == ["A1", "B1"]
    full = rank_activities(g, cat, mastery, request=RankingRequest(k=4))
    assert ids_of(full) == ["A1", "B1", "A2", "A3"]
    assert [r.explanation["score_parts"]["diversity_penalty"] for r in full] == pytest.approx(
        [0.0, 0.0, 0.3, 0.6])


def test_format_and_modality_filters():
    cat = build_catalog({"activities": [
        activity("A1", {"X": 1.0}, fmt="course"),
        activity("A2", {"X": 1.0}, fmt="coaching_cycle", modality="in_person"),
        activity("A3", {"X": 1.0}, fmt="video_reflection", modality="in_person")]}, G)
    mastery = table({"X": 0.1})
    req = RankingRequest(formats=["coaching_cycle", "video_reflection"])  # a list is accepted
    assert req.formats == ("coaching_cycle", "video_reflection")
    assert set(ids_of(rank_activities(G, cat, mastery, request=req))) == {"A2", "A3"}
    req = RankingRequest(formats="course")  # one string is one format
    assert ids_of(rank_activities(G, cat, mastery, request=req)) == ["A1"]
    req = RankingRequest(modalities=("in_person",), formats={"video_reflection"})
    assert ids_of(rank_activities(G, cat, mastery, request=req)) == ["A3"]


def test_hard_gate_drops_activities_with_unready_targets_unless_switched_off():
    cat = build_catalog({"activities": [activity("A1", {"FA": 1.0}),
                                        activity("A2", {"AL": 1.0, "FA": 0.5})]}, G)
    mastery = table({"AL": 0.3, "FA": 0.2})
    gated = rank_activities(G, cat, mastery, request=RankingRequest(hard_gate=True))
    assert ids_of(gated) == []  # A2's FA needs AL >= 0.5
    assert RankingRequest().hard_gate is False  # opt-in: by default readiness lowers the score
    recs = rank_activities(G, cat, mastery)
    assert set(ids_of(recs)) == {"A1", "A2"}
    a1 = next(r for r in recs if r.activity_id == "A1")
    assert a1.explanation["prerequisite_gaps"] == [
        {"competency_id": "AL", "name": "Assessment literacy", "p_mastery": 0.3}]
    assert "although Assessment literacy is only at 0.30" in a1.reason


def test_a_mastered_target_is_exempt_from_the_gate():
    # FA is mastered (inconsistently with AL), so A2 only teaches AL, which has no prerequisite
    cat = build_catalog({"activities": [activity("A2", {"AL": 1.0, "FA": 0.5})]}, G)
    assert ids_of(rank_activities(G, cat, table({"AL": 0.3, "FA": 0.9}))) == ["A2"]


def test_budget_is_for_the_whole_list_and_drops_long_activities():
    g = framework([], nodes=["A", "B", "C"])
    cat = build_catalog({"activities": [
        activity("L", {"A": 1.0}, hours=40, gain=0.3), activity("M", {"B": 1.0}, hours=6),
        activity("S", {"C": 1.0}, hours=3)]}, g)
    mastery = table({"A": 0.0, "B": 0.0, "C": 0.0})
    recs = rank_activities(g, cat, mastery, request=RankingRequest(max_hours=10))
    assert "L" not in ids_of(recs)
    assert sum(r.hours for r in recs) <= 10 and len(recs) == 2
    assert ids_of(rank_activities(g, cat, mastery, request=RankingRequest(max_hours=7))) in (
        ["M"], ["S"])


def test_pins_come_first_and_override_the_gate_but_not_exclusions():
    cat = build_catalog({"activities": [activity("A1", {"FA": 1.0}), activity("A2", {"X": 1.0}),
                                        activity("A3", {"X": 0.5})]}, G)
    mastery = table({"AL": 0.1, "FA": 0.1, "X": 0.1})
    ctx = EducatorContext(pinned=("A3", "A1", "NOT-IN-CATALOG"), declined={"A3"})
    recs = rank_activities(G, cat, mastery, context=ctx)
    assert ids_of(recs) == ["A1", "A2"]
    assert recs[0].pinned and not recs[1].pinned
    assert recs[0].reason.startswith("Pinned by your coach: builds Formative assessment")


def test_learned_gains_replace_the_catalog_prior():
    g = framework([], nodes=["A"])
    cat = build_catalog({"activities": [activity("A1", {"A": 1.0}),
                                        activity("A2", {"A": 1.0})]}, g)
    mastery = table({"A": 0.0})
    req = RankingRequest(diversify=False)
    assert ids_of(rank_activities(g, cat, mastery, request=req)) == ["A1", "A2"]
    learned = pd.DataFrame({"gain_mean": [0.3]},
                           index=pd.MultiIndex.from_tuples([("A2", "A")],
                                                           names=["activity_id", "competency_id"]))
    as_columns = learned.reset_index()
    for gains in (learned, as_columns):
        recs = rank_activities(g, cat, mastery, request=req, gains=gains)
        assert ids_of(recs) == ["A2", "A1"]
        assert recs[0].explanation["expected_gain"] == pytest.approx(0.3)
    tg = target_gains(cat, learned).set_index("activity_id")["gain"]
    assert tg.to_dict() == {"A1": 0.1, "A2": 0.3}


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"k": 0}, r"RankingRequest\.k must be an integer >= 1; got 0"),
        ({"k": 2.5}, r"RankingRequest\.k .* got 2\.5"),
        ({"max_hours": -3}, r"RankingRequest\.max_hours must be .*> 0; got -3"),
        ({"formats": ()}, r"RankingRequest\.formats .*non-empty collection"),
        ({"modalities": ("",)}, r"RankingRequest\.modalities .*non-empty words"),
        ({"gate_threshold": 1.5}, r"RankingRequest\.gate_threshold must be .*\[0, 1\]; got 1\.5"),
        ({"mastery_threshold": 0}, r"RankingRequest\.mastery_threshold .*got 0"),
        ({"hard_gate": "yes"}, r"RankingRequest\.hard_gate must be True or False; got 'yes'"),
    ],
    ids=["k-zero", "k-float", "negative-hours", "empty-formats", "empty-modality-word",
         "gate-above-1", "mastery-zero", "gate-not-bool"],
)
def test_bad_request_names_field_and_value(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        RankingRequest(**kwargs)


def test_filter_words_are_checked_against_the_catalogs_vocabulary_when_ranking():
    own = build_catalog({"vocabularies": {"formats": ["podcast", "workshop"]},
                         "activities": [activity("A1", {"FA": 1.0}, fmt="podcast"),
                                        activity("A2", {"FA": 1.0}, fmt="workshop")]}, G)
    mastery = table({"AL": 0.8, "FA": 0.2})
    picked = rank_activities(G, own, mastery, request=RankingRequest(formats="podcast"))
    assert ids_of(picked) == ["A1"]  # a tenant's own word filters
    expected = r"formats\[0\] must be one of \['podcast', 'workshop'\]; got 'course'"
    with pytest.raises(ValueError, match=expected):
        rank_activities(G, own, mastery, request=RankingRequest(formats="course"))
    with pytest.raises(ValueError, match=r"modalities\[0\].*'telepathy'"):
        rank_activities(G, own, mastery, request=RankingRequest(modalities=("telepathy",)))
    # the pathway planners read the same vocabulary (single and batch)
    steps = plan_pathway(G, own, {"AL": 0.8, "FA": 0.2}, "FA",
                         request=RankingRequest(formats="workshop")).steps
    assert [s.activity_id for s in steps] == ["A2"]
    with pytest.raises(ValueError, match=r"formats\[0\] must be one of"):
        plan_pathway(G, own, {"AL": 0.8, "FA": 0.2}, "FA", request=RankingRequest(formats="course"))
    wide = pd.DataFrame({"AL": [0.8], "FA": [0.2]}, index=["E1"])
    with pytest.raises(ValueError, match=r"formats\[0\] must be one of"):
        plan_pathways(G, own, wide, "FA", request=RankingRequest(formats="course"))


def test_mastery_inputs_are_checked_and_every_documented_shape_is_accepted():
    cat = build_catalog({"activities": [activity("A1", {"FA": 1.0})]}, G)
    expected = ids_of(rank_activities(G, cat, table({"AL": 0.8, "FA": 0.2})))
    assert expected == ["A1"]
    as_column = table({"AL": 0.8, "FA": 0.2}).reset_index()
    assert ids_of(rank_activities(G, cat, as_column)) == expected
    assert ids_of(rank_activities(G, cat, {"AL": 0.8, "FA": 0.2})) == expected
    only_p = table({"AL": 0.8, "FA": 0.2})[["p_mastery"]]
    [rec] = rank_activities(G, cat, only_p)
    assert rec.explanation["targets"][0]["uncertainty"] is None
    assert "(mastery 0.20)" in rec.reason
    with pytest.raises(UnknownCompetencyError, match="NOPE"):
        rank_activities(G, cat, {"NOPE": 0.5})
    with pytest.raises(UnknownCompetencyError, match="NOPE"):
        rank_activities(G, cat, {}, context=EducatorContext(goals=("NOPE",)))
    with pytest.raises(ValueError, match=r"p_mastery must be a number in \[0, 1\].*'FA', 1\.5"):
        rank_activities(G, cat, {"FA": 1.5})
    with pytest.raises(ValueError, match="no 'p_mastery' column"):
        rank_activities(G, cat, pd.DataFrame({"p": [0.1]}, index=["FA"]))
    with pytest.raises(ValueError, match=r"duplicate competency ids: \['FA'\]"):
        rank_activities(G, cat, pd.DataFrame({"p_mastery": [0.1, 0.2]}, index=["FA", "FA"]))
    with pytest.raises(TypeError, match="mastery must be a DataFrame"):
        rank_activities(G, cat, [0.1, 0.2])


def test_rank_batch_checks_its_long_frame():
    cat = build_catalog({"activities": [activity("A1", {"FA": 1.0})]}, G)
    long = pd.DataFrame({"educator_id": ["e1", "e1"], "competency_id": ["FA", "FA"],
                         "p_mastery": [0.1, 0.2]})
    with pytest.raises(ValueError, match=r"duplicate \(educator_id, competency_id\).*'e1', 'FA'"):
        rank_batch(G, cat, long)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['p_mastery'\]"):
        rank_batch(G, cat, long.drop(columns="p_mastery"))
    with pytest.raises(UnknownCompetencyError, match="ZZ"):
        rank_batch(G, cat, long.assign(competency_id=["FA", "ZZ"]))
    with pytest.raises(ValueError, match=r"\('e1', 'AL'\), -0\.5"):
        rank_batch(G, cat, long.assign(competency_id=["FA", "AL"], p_mastery=[0.1, -0.5]))


def test_default_framework_and_catalog_rank_and_batch_agree():
    graph = default_framework("educator")
    catalog = default_catalog(graph)
    rng = np.random.default_rng(7)
    comps = sorted(graph)
    long = pd.DataFrame({
        "educator_id": np.repeat([f"t{i}" for i in range(6)], len(comps)),
        "competency_id": comps * 6,
        "p_mastery": rng.uniform(0, 1, 6 * len(comps)),
        "uncertainty": 0.1, "n_evidence": 1,
    })
    goals = {"t0": EducatorContext(goals=(comps[5],), completed={"ACT-001", "ACT-017"}),
             "t3": EducatorContext(pinned=("ACT-100",))}
    req = RankingRequest(k=5, max_hours=30)
    batch = rank_batch(graph, catalog, long, contexts=goals, request=req)
    for e, rows in long.groupby("educator_id"):
        recs = rank_activities(graph, catalog, rows.set_index("competency_id"),
                               context=goals.get(e, EducatorContext()), request=req)
        assert 4 <= len(recs) <= 5  # the 30 h budget may end the list early
        assert sum(r.hours for r in recs) <= 30
        assert batch.loc[batch["educator_id"] == e, "activity_id"].tolist() == ids_of(recs)
        assert all(r.reason.count(";") == 1 for r in recs)


# --------------------------------------------------------------------------- the prepared index


def _default_world():
    graph = default_framework("educator")
    catalog = default_catalog(graph)
    comps = sorted(graph)
    rng = np.random.default_rng(11)
    long = pd.DataFrame({"educator_id": np.repeat(["t0", "t1", "t2"], len(comps)),
                         "competency_id": comps * 3,
                         "p_mastery": rng.uniform(0, 1, 3 * len(comps))})
    gains = target_gains(catalog).rename(columns={"gain": "gain_mean"})
    gains["gain_mean"] *= 1.5
    return graph, catalog, long, gains


def test_a_prepared_index_gives_exactly_the_same_answers():
    graph, catalog, long, gains = _default_world()
    index = prepare(graph, catalog, gains)
    assert isinstance(index, RankingIndex) and index.gains is gains
    ctx = EducatorContext(goals=(sorted(graph)[3],), declined={"ACT-002"}, pinned=("ACT-100",))
    for req in (RankingRequest(k=4), RankingRequest(k=6, formats=("course", "residency"),
                                                    max_hours=40)):
        for _, rows in long.groupby("educator_id"):
            table = rows.set_index("competency_id")
            built = rank_activities(graph, catalog, table, context=ctx, request=req, gains=gains,
                                    model_version="7")
            reused = rank_activities(graph, catalog, table, context=ctx, request=req,
                                     index=index, model_version="7")
            assert built == reused
        pd.testing.assert_frame_equal(
            rank_batch(graph, catalog, long, contexts={"t1": ctx}, request=req, gains=gains),
            rank_batch(graph, catalog, long, contexts={"t1": ctx}, request=req, index=index))


def test_an_index_of_other_objects_is_refused_naming_them():
    graph, catalog, long, gains = _default_world()
    index = prepare(graph, catalog, gains)
    table = long[long["educator_id"] == "t0"].set_index("competency_id")
    other_graph = default_framework("educator")
    with pytest.raises(ValueError, match="another graph than"):
        rank_activities(other_graph, catalog, table, index=index)
    with pytest.raises(ValueError, match="another catalog and gains"):
        rank_batch(graph, default_catalog(graph), long, gains=gains.copy(), index=index)
    with pytest.raises(TypeError, match="RankingIndex"):
        rank_activities(graph, catalog, table, index="not an index")
    # gains=None with an index means "the index's gains"; the same object is accepted too
    assert rank_activities(graph, catalog, table, index=index) == rank_activities(
        graph, catalog, table, index=index, gains=gains)


def test_the_index_cannot_be_changed_in_place():
    graph, catalog, _, _ = _default_world()
    index = prepare(graph, catalog)
    for name in ("tidx", "tw", "tgain", "wsum", "hours", "has_targets", "pidx", "n_prereq",
                 "gain_logits", "goal_rate"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(index, name)[0] = 0
    with pytest.raises(AttributeError):
        index.gains = None  # frozen


# --------------------------------------------------------------------------- ranker params

GOAL_ONLY = ScoreWeights(need=0.0, readiness=0.0, gain=0.0, cost=0.0, goal=1.0)


def test_a_larger_step_overhead_favours_the_longer_activity_that_moves_the_goal_more():
    g = framework([], nodes=["GOAL"])
    cat = build_catalog({"activities": [activity("SHORT", {"GOAL": 1.0}, hours=2, gain=0.1),
                                        activity("LONG", {"GOAL": 1.0}, hours=20, gain=0.3)]}, g)
    mastery, ctx = table({"GOAL": 0.1}), EducatorContext(goals=("GOAL",))

    def first(overhead):
        params = RankerParams(weights=GOAL_ONLY, step_overhead_hours=overhead)
        return ids_of(rank_activities(g, cat, mastery, context=ctx, params=params))[0]

    # goal hours saved per hour: gain / (hours + overhead), 0.1 / 2 h beats 0.3 / 20 h ...
    assert first(0.0) == "SHORT"
    # ... but 0.1 / (2 + 10) h loses to 0.3 / (20 + 10) h
    assert first(10.0) == "LONG"


def test_a_readiness_floor_of_1_makes_prerequisites_irrelevant_to_the_goal_term():
    g = framework([("A", "GOAL")], nodes=["B"])
    cat = build_catalog({"activities": [activity("A1", {"B": 1.0}), activity("A2", {"A": 1.0}),
                                        activity("A3", {"GOAL": 1.0})]}, g)
    mastery, ctx = table({"A": 0.1, "B": 0.1, "GOAL": 0.1}), EducatorContext(goals=("GOAL",))
    assert ids_of(rank_activities(g, cat, mastery, context=ctx)) == ["A2", "A3", "A1"]
    flat = rank_activities(g, cat, mastery, context=ctx, params=RankerParams(readiness_floor=1))
    # the whole gain on GOAL sticks whatever A is: raising A first saves no goal hours
    assert {r.activity_id: r.explanation["score_parts"]["goal"] for r in flat} == {
        "A1": 0.0, "A2": 0.0, "A3": 1.0}
    assert ids_of(flat) == ["A3", "A1", "A2"]


@FAST
@given(cases(pins=False))
def test_a_goal_weight_of_0_makes_goals_irrelevant(case):
    graph, catalog, mastery, context, request = case
    params = RankerParams(weights=ScoreWeights(goal=0.0))
    no_goals = EducatorContext(completed=context.completed, declined=context.declined,
                               in_progress=context.in_progress)
    recs = rank_activities(graph, catalog, mastery, context=context, request=request,
                           params=params)
    plain = rank_activities(graph, catalog, mastery, context=no_goals, request=request,
                            params=params)
    assert [(r.activity_id, r.score) for r in recs] == [(r.activity_id, r.score) for r in plain]


@FAST
@given(cases())
def test_a_diversity_penalty_of_0_is_no_diversification(case):
    graph, catalog, mastery, context, request = case
    zero = rank_activities(graph, catalog, mastery, context=context, request=request,
                           params=RankerParams(diversity_penalty=0.0))
    off = rank_activities(graph, catalog, mastery, context=context,
                          request=dataclasses.replace(request, diversify=False))
    assert zero == off


def test_default_params_rank_exactly_as_no_params():
    graph, catalog, long, gains = _default_world()
    ctx = {"t1": EducatorContext(goals=(sorted(graph)[3],), pinned=("ACT-100",))}
    req = RankingRequest(k=5, max_hours=40)
    batches = [rank_batch(graph, catalog, long, contexts=ctx, request=req, gains=gains,
                          params=params)
               for params in (None, DEFAULT_RANKER_PARAMS, RankerParams())]
    for other in batches[1:]:
        pd.testing.assert_frame_equal(batches[0], other)
    rows = long[long["educator_id"] == "t1"].set_index("competency_id")
    singles = [rank_activities(graph, catalog, rows, context=ctx["t1"], request=req, gains=gains,
                               params=params)
               for params in (None, DEFAULT_RANKER_PARAMS, RankerParams())]
    assert singles[0] == singles[1] == singles[2]
    assert prepare(graph, catalog).params is DEFAULT_RANKER_PARAMS


def test_the_index_carries_its_params_and_refuses_other_ones():
    graph, catalog, long, gains = _default_world()
    params = RankerParams(step_overhead_hours=25.0, weights=ScoreWeights(goal=3.0))
    index = prepare(graph, catalog, gains, params=params)
    assert index.params is params
    rows = long[long["educator_id"] == "t0"].set_index("competency_id")
    ctx = EducatorContext(goals=(sorted(graph)[3],))
    built = rank_activities(graph, catalog, rows, context=ctx, gains=gains, params=params)
    assert rank_activities(graph, catalog, rows, context=ctx, index=index) == built
    equal = RankerParams(step_overhead_hours=25.0, weights=ScoreWeights(goal=3.0))
    assert rank_activities(graph, catalog, rows, context=ctx, index=index, params=equal) == built
    assert built != rank_activities(graph, catalog, rows, context=ctx, gains=gains)
    with pytest.raises(ValueError, match=r"other ranker params .*'ranker\.weights\.goal': "
                                         r"\(3\.0, 2\.0\), 'ranker\.step_overhead_hours': "
                                         r"\(25\.0, 1\.0\)"):
        rank_batch(graph, catalog, long, index=index, params=DEFAULT_RANKER_PARAMS)
    with pytest.raises(TypeError, match="params must be a RankerParams; got dict"):
        rank_activities(graph, catalog, rows, params={"ranker.p_clip": 0.1})
