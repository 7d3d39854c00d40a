"""Renewal rules, credit, progress and the MILP planner (against exhaustive search)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.catalog import build_catalog, default_catalog
from recommender.errors import CatalogError
from recommender.graph import default_framework
from recommender.renewal import (
    RenewalRulesError,
    activity_credit,
    build_rules,
    credited,
    renewal_progress,
    rules_to_dict,
    window_counts,
)
from recommender.renewal_plan import plan_renewal

GRAPH = default_framework()
NOW = pd.Timestamp("2026-01-01", tz="UTC")
COMPS = sorted(GRAPH.nodes)
FORMATS = ["course", "coaching_cycle", "video_reflection"]
RULES = {"name": "t", "window_years": 5, "deadline": "2027-06-30",
         "rules": [{"id": "total", "kind": "total", "hours": 20},
                   {"id": "inst", "kind": "category", "category": "instructional", "hours": 8}],
         "caps": {"video_reflection": 4}, "multipliers": {"coaching_cycle": 1.5}}


def _activity(i, fmt="course", hours=4.0, comp=None, **extra):
    return {"id": f"A{i}", "title": f"a{i}", "format": fmt, "modality": "online",
            "level": "developing", "expected_gain": 0.1, "hours": hours,
            "competencies": {comp or COMPS[i % len(COMPS)]: 1.0}, **extra}


def _catalog(acts):
    return build_catalog({"activities": acts}, GRAPH)


def _none():
    return pd.DataFrame({"activity_id": pd.Series([], dtype=str), "at": pd.Series([], dtype=str)})


def test_rules_errors_name_field_value_and_expected():
    bad = {"window_years": 0, "rules": [{"id": "x", "kind": "bogus", "hours": -1},
                                        {"id": "x", "kind": "category", "hours": 5}],
           "caps": {"nope": 3}, "deadline": "not a date"}
    with pytest.raises(RenewalRulesError) as exc:
        build_rules(bad, formats=FORMATS)
    fields = {f for f, _, _ in exc.value.problems}
    assert {"window_years", "rules[0].kind", "rules[0].hours", "rules[1].category", "rules",
            "caps.nope", "deadline"} <= fields
    assert "got 'bogus', expected one of ['total', 'category']" in str(exc.value)


def test_rules_round_trip():
    rules = build_rules(RULES, FORMATS)
    assert build_rules(rules_to_dict(rules), FORMATS) == rules


def test_catalog_credit_defaults_and_declared():
    cat = _catalog([_activity(0, hours=3), _activity(1, credit_hours=7, categories=["ell"])])
    assert cat.activities["credit_hours"].tolist() == [3.0, 7.0]
    assert cat.categories.values.tolist() == [["A1", "ell"],
                                              ["A0", GRAPH.nodes[COMPS[0]]["domain"]]]
    with pytest.raises(CatalogError, match="credit_hours -1 must be a positive number"):
        _catalog([_activity(0, credit_hours=-1)])
    with pytest.raises(CatalogError, match="categories"):
        _catalog([_activity(0, categories="ell")])


def test_default_catalog_categories_are_target_domains():
    cat = default_catalog(GRAPH)
    rules = build_rules({"window_years": 5, "rules": [
        {"id": d, "kind": "category", "category": d, "hours": 1}
        for d in GRAPH.graph["domains"]]})
    credit = activity_credit(rules, cat, GRAPH)
    for i, d in enumerate(GRAPH.graph["domains"]):
        t = cat.targets
        expect = set(t.loc[t["competency_id"].map(lambda c: GRAPH.nodes[c]["domain"]) == d,
                           "activity_id"])
        assert set(credit.ids[credit.scope[i]]) == expect


def test_progress_counts_window_caps_and_multipliers():
    inst = next(c for c in COMPS if GRAPH.nodes[c]["domain"] == "instructional")
    other = next(c for c in COMPS if GRAPH.nodes[c]["domain"] != "instructional")
    cat = _catalog([_activity(0, "video_reflection", 3, inst), _activity(1, "video_reflection", 3,
                    other), _activity(2, "coaching_cycle", 4, inst, repeatable=True)])
    rules = build_rules(RULES, FORMATS)
    comp = pd.DataFrame({"activity_id": ["A0", "A1", "A2", "A2", "A2", "ZZ"],
                         "at": ["2024-01-01", "2024-02-01", "2023-01-01", "2025-01-01",
                                "2020-01-01", "2024-01-01"]})
    p = renewal_progress(rules, cat, GRAPH, comp, now=NOW)
    # video capped at 4 of 6 (total) and 3 (inst); coaching 2 in window x 4 x 1.5 = 12
    assert [(r.rule_id, r.earned, r.missing, r.met) for r in p.rules] == [
        ("total", 16.0, 4.0, False), ("inst", 15.0, 0.0, True)]
    assert (p.completions_counted, p.completions_unknown, p.days_left) == (4, 1, 545)


def test_deadline_required_when_rules_set_none():
    rules = build_rules({**RULES, "deadline": None})
    with pytest.raises(RenewalRulesError, match="deadline"):
        renewal_progress(rules, _catalog([_activity(0)]), GRAPH, _none())


def test_infeasible_rule_named_with_shortfall():
    rules = build_rules({**RULES, "rules": [{"id": "total", "kind": "total", "hours": 100}]})
    plan = plan_renewal(rules, _catalog([_activity(0), _activity(1)]), GRAPH, _none(), now=NOW)
    assert [(s.kind, s.id, s.hours) for s in plan.shortfalls] == [("rule", "total", 92.0)]
    assert plan.total_hours == 8.0  # as close as it gets


def test_goal_forces_an_activity_targeting_it():
    acts = [_activity(0, hours=10, comp=COMPS[0]), _activity(1, hours=1, comp=COMPS[1])]
    rules = build_rules({**RULES, "rules": [{"id": "total", "kind": "total", "hours": 1}]})
    assert [a.activity_id for a in plan_renewal(rules, _catalog(acts), GRAPH, _none(),
                                                now=NOW).activities] == ["A1"]
    plan = plan_renewal(rules, _catalog(acts), GRAPH, _none(), now=NOW, goals=[COMPS[0]])
    assert [a.activity_id for a in plan.activities] == ["A0"]
    missing = plan_renewal(rules, _catalog(acts), GRAPH, _none(), now=NOW, goals=[COMPS[5]])
    assert [(s.kind, s.id) for s in missing.shortfalls] == [("goal", COMPS[5])]


_act = st.tuples(st.sampled_from(FORMATS), st.integers(1, 12), st.integers(0, 6),
                 st.booleans(), st.booleans(), st.booleans())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(acts=st.lists(_act, min_size=1, max_size=8), total=st.integers(1, 60),
       cat_hours=st.integers(0, 20), cap=st.integers(0, 10), mult=st.sampled_from([1.0, 1.5]),
       goal=st.booleans())
def test_milp_matches_exhaustive_search(acts, total, cat_hours, cap, mult, goal):
    docs = [_activity(i, f, h, COMPS[c], repeatable=rep, **({"cooldown_days": 400} if rep else
                                                           {}))
            for i, (f, h, c, rep, _, _) in enumerate(acts)]
    cat = _catalog(docs)
    rules = [{"id": "total", "kind": "total", "hours": total}]
    if cat_hours:
        rules.append({"id": "c", "kind": "category", "category": "instructional",
                      "hours": cat_hours})
    rules = build_rules({"window_years": 5, "deadline": "2027-06-30", "rules": rules,
                         "caps": {"video_reflection": cap} if cap else {},
                         "multipliers": {"coaching_cycle": mult}})
    done = [f"A{i}" for i, a in enumerate(acts) if a[4]]
    comp = pd.DataFrame({"activity_id": done, "at": ["2024-06-01"] * len(done)})
    goals = [COMPS[acts[0][2]]] if goal else []
    plan = plan_renewal(rules, cat, GRAPH, comp, now=NOW, goals=goals)
    credit = activity_credit(rules, cat, GRAPH)
    earned, _ = window_counts(rules, credit, comp, rules.deadline)
    # allowed times: a repeatable one with a 400-day cool-down and 545 days left 0..2, a one-shot
    # one 0..1, or 0 once completed
    ranges = [range(3) if a[3] else range(1 if f"A{i}" in done else 2)
              for i, a in enumerate(acts)]
    best_need = credited(rules, credit, earned + np.array([len(r) - 1 for r in ranges]))
    need = np.minimum([r.hours for r in rules.rules], best_need)
    t = cat.targets
    cover = {a for a in t.loc[t["competency_id"].isin(goals), "activity_id"]
             if len(ranges[int(a[1:])]) > 1}
    if goals and not cover:  # no allowed activity targets the goal: named, then left out
        assert [(s.kind, s.id) for s in plan.shortfalls if s.kind == "goal"] == [
            ("goal", goals[0])]
        goals = []
    best = np.inf
    for x in itertools.product(*ranges):
        xs = np.array(x, float)
        if goals and not any(x[i] for i in range(len(x)) if f"A{i}" in cover):
            continue
        if np.all(credited(rules, credit, earned + xs) >= need - 1e-9):
            best = min(best, float(credit.hours @ xs))
    assert plan.total_hours == pytest.approx(best)
    if not [s for s in plan.shortfalls if s.kind == "rule"]:
        assert all(r.met for r in plan.rules)
    else:
        assert not np.all(best_need >= [r.hours for r in rules.rules])
