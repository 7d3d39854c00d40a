"""The fast pathway planner equals its frozen reference (issue #20).

:func:`tests.recommender.pathway_reference.reference_plan_pathway` is ``plan_pathway`` as it was
before it was indexed and vectorized; every property here draws small frameworks, catalogs
(some activities repeatable, with cool-downs), mastery tables (with and without ``p_bound``,
missing competencies), learned gains, goals, contexts (completed with times, declined, in
progress, available) and requests (formats, modalities, thresholds), and asks for the very same
:class:`~recommender.pathway.Pathway`, floats included.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.catalog import FORMATS, MODALITIES, Catalog, build_catalog, default_catalog
from recommender.errors import InvalidInputError, UnknownCompetencyError
from recommender.graph import default_framework
from recommender.pathway import plan_pathway, plan_pathways, prepare_pathway
from recommender.ranking import EducatorContext, RankingRequest, prepare
from tests.recommender.pathway_reference import reference_plan_pathway
from tests.recommender.test_ranking import P_VALUES, activity, framework, table, worlds

FAST = settings(max_examples=60, deadline=None)
_DEFAULT_GRAPH = default_framework("educator")
NOW = pd.Timestamp("2026-03-01", tz="UTC")


@st.composite
def repeatable_worlds(draw):
    """A small framework and catalog, some of whose activities are repeatable."""
    graph, catalog = draw(worlds())
    acts = catalog.activities.copy()
    rep = np.asarray(draw(st.lists(st.booleans(), min_size=len(acts), max_size=len(acts))))
    acts["repeatable"] = rep
    acts["cooldown_days"] = np.where(rep, draw(st.sampled_from([0.0, 10.0, 30.0])), 0.0)
    return graph, Catalog(activities=acts, targets=catalog.targets)


@st.composite
def mastery_inputs(draw, ids):
    """A mastery table (some competencies missing; maybe ``p_bound``) or a plain mapping."""
    present = draw(st.lists(st.sampled_from(ids), unique=True, max_size=len(ids)))
    p = {c: draw(P_VALUES) for c in present}
    kind = draw(st.sampled_from(["table", "bound", "mapping"]))
    if kind == "mapping":
        return p
    frame = table(p)
    if kind == "bound":
        frame["p_bound"] = [max(0.0, v - draw(st.sampled_from([0.0, 0.05, 0.3])))
                            for v in frame["p_mastery"]]
    return frame


@st.composite
def learned_gains(draw, catalog):
    """None, or ``gain_mean`` for some target pairs (NaN: the prior stays)."""
    if not draw(st.booleans()):
        return None
    t = catalog.targets
    rows = draw(st.lists(st.integers(0, len(t) - 1), unique=True, max_size=len(t)))
    values = [draw(st.sampled_from([0.0, 0.05, 0.3, -0.1, float("nan")])) for _ in rows]
    return pd.DataFrame({"activity_id": t["activity_id"].iloc[rows].to_list(),
                         "competency_id": t["competency_id"].iloc[rows].to_list(),
                         "gain_mean": values})


@st.composite
def pathway_contexts(draw, catalog):
    aids = sorted(catalog.activities.index)
    subset = st.lists(st.sampled_from(aids), unique=True, max_size=4)
    done_at = draw(subset)
    ages = [draw(st.sampled_from([0, 5, 20, 60])) for _ in done_at]
    return EducatorContext(
        completed=frozenset(draw(subset)) | {"RETIRED-1"},
        completed_at={a: NOW - pd.Timedelta(days=d) for a, d in zip(done_at, ages, strict=True)},
        declined=frozenset(draw(subset)),
        in_progress=frozenset(draw(subset)),
        available=draw(st.one_of(st.none(), st.lists(st.sampled_from([*aids, "RETIRED-2"]),
                                                      unique=True).map(frozenset))),
        now=NOW,
    )


def subsets(values):
    return st.one_of(st.none(), st.lists(st.sampled_from(values), min_size=1, unique=True,
                                         max_size=len(values)).map(tuple))


pathway_requests = st.builds(
    RankingRequest,
    formats=subsets(FORMATS[:3]),
    modalities=subsets(MODALITIES[:2]),
    mastery_threshold=st.one_of(st.sampled_from([0.5, 0.7, 1.0]), st.floats(0.05, 1.0)),
)


@st.composite
def pathway_cases(draw):
    graph, catalog = draw(repeatable_worlds())
    ids = sorted(graph)
    return dict(
        graph=graph, catalog=catalog, mastery=draw(mastery_inputs(ids)),
        goals=draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3, unique=True)),
        context=draw(pathway_contexts(catalog)), request=draw(pathway_requests),
        gains=draw(learned_gains(catalog)),
    )


def plan_both(case, **extra):
    args = (case["graph"], case["catalog"], case["mastery"], case["goals"])
    kw = dict(context=case["context"], request=case["request"], gains=case["gains"])
    return plan_pathway(*args, **kw, **extra), reference_plan_pathway(*args, **kw)


# --------------------------------------------------------------------------- single pathway


@FAST
@given(pathway_cases())
def test_plan_pathway_equals_the_frozen_reference(case):
    fast, reference = plan_both(case)
    assert fast == reference


@FAST
@given(pathway_cases())
def test_plan_pathway_with_a_prepared_index_equals_the_reference(case):
    index = prepare_pathway(case["graph"], case["catalog"], case["gains"])
    fast, reference = plan_both(case, index=index)
    assert fast == reference
    ranking = prepare(case["graph"], case["catalog"], case["gains"])
    assert plan_pathway(case["graph"], case["catalog"], case["mastery"], case["goals"],
                        context=case["context"], request=case["request"],
                        index=ranking) == reference


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_goals=st.integers(1, 4),
       threshold=st.sampled_from([0.5, 0.7, 0.9]), missing=st.floats(0, 0.5))
def test_default_framework_pathways_equal_the_reference(seed, n_goals, threshold, missing):
    graph = _DEFAULT_GRAPH
    catalog = _default_catalog(graph)
    comps = sorted(graph)
    rng = np.random.default_rng(seed)
    keep = [c for c in comps if rng.uniform() >= missing]
    mastery = table(dict(zip(keep, rng.beta(2, 2, len(keep)).tolist(), strict=True)))
    goals = list(rng.choice(comps, n_goals, replace=False))
    aids = catalog.activities.index.to_numpy()
    context = EducatorContext(completed=frozenset(rng.choice(aids, 3)),
                              in_progress=frozenset(rng.choice(aids, 2)))
    request = RankingRequest(mastery_threshold=threshold)
    case = dict(graph=graph, catalog=catalog, mastery=mastery, goals=goals, context=context,
                request=request, gains=None)
    fast, reference = plan_both(case, index=_DEFAULT["index"])
    assert fast == reference


_DEFAULT: dict = {}


def _default_catalog(graph):
    """The default catalog and its pathway index, built once per graph object."""
    if _DEFAULT.get("graph") is not graph:
        catalog = default_catalog(graph)
        _DEFAULT.update(graph=graph, catalog=catalog, index=prepare_pathway(graph, catalog))
    return _DEFAULT["catalog"]


def test_an_index_from_other_objects_is_refused():
    graph = _DEFAULT_GRAPH
    catalog = default_catalog(graph)
    index = prepare_pathway(graph, catalog)
    other = dataclasses.replace(catalog)
    with pytest.raises(ValueError, match="catalog"):
        plan_pathway(graph, other, {}, sorted(graph)[:1], index=index)
    with pytest.raises(TypeError, match="PathwayIndex or a RankingIndex"):
        plan_pathway(graph, catalog, {}, sorted(graph)[:1], index="nope")


def _raised(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the test compares whatever is raised
        return type(exc), str(exc)
    return None


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"p_mastery": [0.2, 1.5]}, index=["A", "B"]),
    pd.DataFrame({"p_mastery": [0.2, float("nan")]}, index=["A", "B"]),
    pd.DataFrame({"p_mastery": [0.2, 0.3]}, index=["A", "A"]),
    pd.DataFrame({"p_mastery": [0.2, 0.3]}, index=["A", "NOPE"]),
    pd.DataFrame({"p_mastery": [0.2, 0.3], "p_bound": [0.1, -0.2]}, index=["A", "B"]),
    pd.DataFrame({"p_mastery": [0.2, 0.3], "uncertainty": [0.1, -1.0]}, index=["A", "B"]),
    pd.DataFrame({"p_mastery": [0.2, 0.3], "n_evidence": [1.0, float("inf")]}, index=["A", "B"]),
    pd.DataFrame({"p_mastery": ["0.2", "x"]}, index=["A", "B"]),
    pd.DataFrame({"level": [0.2]}, index=["A"]),
    pd.DataFrame({"competency_id": ["A", "B"], "p_mastery": [0.2, 0.9]}),
    pd.DataFrame({"p_mastery": [0.2, 0.9], "p_bound": [0.2, 0.8]}, index=["B", "A"]),
    pd.DataFrame({"p_mastery": [0, 1], "n_evidence": [3, 0]}, index=["A", "B"]),
    pd.DataFrame({"p_mastery": [True, False]}, index=["A", "B"]),
    pd.DataFrame([[0.2, 0.9]], columns=["p_mastery", "p_mastery"], index=["A"]),
    pd.DataFrame({"p_mastery": [0.9, 0.1], "evidence_ids": [["e1"], []]}, index=["A", "B"]),
    pd.DataFrame({"p_mastery": [0.9, 0.1], "p_bound": [0.5, 0.1], "uncertainty": [0.1, None]},
                 index=["A", "B"]),
])
def test_mastery_tables_are_read_and_refused_as_the_reference_does(frame):
    graph = framework([("A", "B")])
    catalog = build_catalog({"activities": [activity("X", {"A": 1.0, "B": 0.5})]}, graph)

    def fast():
        return plan_pathway(graph, catalog, frame, "B")

    def reference():
        return reference_plan_pathway(graph, catalog, frame, "B")

    assert _raised(fast) == _raised(reference)
    if _raised(fast) is None:
        assert fast() == reference()


# --------------------------------------------------------------------------- batch


@st.composite
def batch_cases(draw):
    """A world and up to five educators, each with their own mastery, goals and context."""
    graph, catalog = draw(repeatable_worlds())
    ids = sorted(graph)
    n = draw(st.integers(1, 5))
    educators = [f"e{i}" for i in draw(st.permutations(range(n)))]
    levels = {e: {c: draw(P_VALUES) for c in draw(st.lists(st.sampled_from(ids), unique=True))}
              for e in educators}
    bounded = draw(st.booleans())
    bounds = {e: {c: max(0.0, v - draw(st.sampled_from([0.0, 0.05, 0.3])))
                  for c, v in levels[e].items()} for e in educators} if bounded else None
    goal_sets = {e: draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3, unique=True))
                 for e in educators}
    contexts = {e: draw(pathway_contexts(catalog)) for e in educators
                if draw(st.booleans())}
    return dict(graph=graph, catalog=catalog, levels=levels, bounds=bounds, goals=goal_sets,
                contexts=contexts, request=draw(pathway_requests),
                gains=draw(learned_gains(catalog)), shape=draw(st.sampled_from(["wide", "long"])))


def batch_mastery(case):
    """The case's mastery as the batch reads it (wide, or long with ``p_bound``), and as one
    educator's table for the reference."""
    levels, bounds = case["levels"], case["bounds"]
    if case["shape"] == "wide" and bounds is None:
        wide = pd.DataFrame.from_dict(levels, orient="index", dtype=float)
        return wide.reindex(list(levels)), {e: dict(v) for e, v in levels.items()}
    rows = [(e, c, v, (bounds or levels)[e][c]) for e, vs in levels.items() for c, v in vs.items()]
    long = pd.DataFrame(rows, columns=["educator_id", "competency_id", "p_mastery", "p_bound"])
    if bounds is None:
        long = long.drop(columns="p_bound")
    tables = {e: pd.DataFrame({"p_mastery": list(v.values()),
                               **({"p_bound": list(bounds[e].values())} if bounds else {})},
                              index=pd.Index(list(v), name="competency_id"))
              for e, v in levels.items()}
    return long, tables


def reference_rows(case, tables):
    """Steps, unreachable pairs and totals of the reference, educator by educator."""
    steps, lost, totals = [], [], {}
    for e in sorted(tables):
        plan = reference_plan_pathway(
            case["graph"], case["catalog"], tables[e], case["goals"][e],
            context=case["contexts"].get(e, EducatorContext()), request=case["request"],
            gains=case["gains"])
        steps += [(e, i + 1, *s.__dict__.values()) for i, s in enumerate(plan.steps)]
        lost += [(e, c) for c in plan.unreachable]
        totals[e] = plan.total_hours
    return steps, lost, totals


@settings(max_examples=50, deadline=None)
@given(batch_cases())
def test_plan_pathways_equals_the_reference_per_educator(case):
    mastery, tables = batch_mastery(case)
    batch = plan_pathways(case["graph"], case["catalog"], mastery, case["goals"],
                          contexts=case["contexts"], request=case["request"],
                          gains=case["gains"])
    steps, lost, totals = reference_rows(case, tables)
    assert list(batch.steps.itertuples(index=False, name=None)) == steps
    assert list(batch.unreachable.itertuples(index=False, name=None)) == lost
    assert batch.total_hours.to_dict() == pytest.approx(totals)


def test_plan_pathways_shares_goals_and_fills_educators_without_mastery():
    graph = _DEFAULT_GRAPH
    catalog = _default_catalog(graph)
    comps = sorted(graph)
    rng = np.random.default_rng(7)
    wide = pd.DataFrame(rng.beta(2, 2, (3, len(comps))), index=["b", "a", "c"], columns=comps)
    wide.iloc[0, :5] = np.nan
    goals = comps[-2:]
    contexts = {"z": EducatorContext(declined={catalog.activities.index[0]})}
    index = prepare_pathway(graph, catalog)
    batch = plan_pathways(graph, catalog, wide, goals, contexts=contexts, index=index)
    assert list(batch.total_hours.index) == ["a", "b", "c", "z"]
    for e in ["a", "b", "c", "z"]:
        row = {} if e == "z" else wide.loc[e].dropna().to_dict()
        plan = reference_plan_pathway(graph, catalog, row, goals,
                                      context=contexts.get(e, EducatorContext()))
        mine = batch.steps[batch.steps["educator_id"] == e]
        assert list(mine["activity_id"]) == [s.activity_id for s in plan.steps]
        assert list(mine["p_after"]) == [s.p_after for s in plan.steps]
        assert batch.total_hours[e] == pytest.approx(plan.total_hours)


def test_plan_pathways_names_bad_input():
    graph = _DEFAULT_GRAPH
    catalog = _default_catalog(graph)
    comps = sorted(graph)
    wide = pd.DataFrame({comps[0]: [0.2, 0.4]}, index=["a", "b"])
    with pytest.raises(InvalidInputError, match=r"every educator.*\['b'\]"):
        plan_pathways(graph, catalog, wide, {"a": [comps[1]]})
    with pytest.raises(UnknownCompetencyError, match="NOPE"):
        plan_pathways(graph, catalog, wide, ["NOPE"])
    with pytest.raises(UnknownCompetencyError, match="NOPE"):
        plan_pathways(graph, catalog, wide.assign(NOPE=0.1), comps[1])
    with pytest.raises(ValueError, match=r"\('b', '" + comps[0] + r"', 1.5\)"):
        plan_pathways(graph, catalog, wide.assign(**{comps[0]: [0.2, 1.5]}), comps[1])
    with pytest.raises(ValueError, match="at least one competency"):
        plan_pathways(graph, catalog, wide, [])
    with pytest.raises(TypeError, match="DataFrame"):
        plan_pathways(graph, catalog, {"a": {}}, comps[1])
