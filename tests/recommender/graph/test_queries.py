import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from recommender.errors import UnknownCompetencyError
from recommender.graph import (
    all_dependents,
    all_prerequisites,
    build_framework,
    dependents,
    depth,
    depths,
    frontier,
    prerequisite_closure,
    prerequisites,
)
from tests.recommender.graph.strategies import dag_frameworks, mastery_maps

CHAIN = nx.DiGraph([("a", "b"), ("b", "c"), ("x", "c"), ("c", "d")])


def test_direct_and_transitive_relations():
    assert prerequisites(CHAIN, "c") == {"b", "x"}
    assert all_prerequisites(CHAIN, "d") == {"a", "b", "c", "x"}
    assert dependents(CHAIN, "b") == {"c"}
    assert all_dependents(CHAIN, "a") == {"b", "c", "d"}


def test_depth_is_longest_chain():
    assert depths(CHAIN) == {"a": 0, "x": 0, "b": 1, "c": 2, "d": 3}
    assert depth(CHAIN, "d") == 3


def test_unknown_id_is_named():
    with pytest.raises(UnknownCompetencyError, match=r"\['nope'\]"):
        prerequisites(CHAIN, "nope")
    with pytest.raises(KeyError):  # subclasses the builtin
        prerequisite_closure(CHAIN, ["a", "nope"])


def test_frontier_with_partial_mastery():
    assert frontier(CHAIN, {"a": 0.9, "x": 0.8}) == {"b"}
    assert frontier(CHAIN, {}) == {"a", "x"}
    assert frontier(CHAIN, {"a": 0.9}, threshold=0.95) == {"a", "x"}


def test_closure_of_several_goals_is_topological_and_skips_mastered():
    assert prerequisite_closure(CHAIN, "d", {"a": 0.9}) == ["b", "x", "c", "d"]
    assert prerequisite_closure(CHAIN, ["b", "x"], {}) == ["a", "b", "x"]
    assert prerequisite_closure(CHAIN, "d", {n: 1.0 for n in CHAIN}) == []


@given(st.data())
def test_frontier_members_are_ready_and_unmastered(data):
    g = build_framework(data.draw(dag_frameworks()))
    mastery = data.draw(mastery_maps(set(g)))
    threshold = data.draw(st.floats(0.05, 1.0))
    front = frontier(g, mastery, threshold)
    mastered = {n for n, p in mastery.items() if p >= threshold}
    assert not front & mastered
    for n in front:
        assert set(g.predecessors(n)) <= mastered
    # and nothing ready was left out
    for n in set(g) - mastered - front:
        assert not set(g.predecessors(n)) <= mastered


@given(st.data())
def test_closure_is_topological_and_only_unmastered_ancestors(data):
    g = build_framework(data.draw(dag_frameworks()))
    mastery = data.draw(mastery_maps(set(g)))
    goals = data.draw(st.lists(st.sampled_from(sorted(g)), min_size=1, max_size=3, unique=True))
    closure = prerequisite_closure(g, goals, mastery)
    expected = set(goals).union(*(nx.ancestors(g, x) for x in goals))
    expected = {n for n in expected if mastery.get(n, 0.0) < 0.7}
    assert set(closure) == expected
    assert len(closure) == len(set(closure))
    position = {n: i for i, n in enumerate(closure)}
    for u, v in g.edges:
        if u in position and v in position:
            assert position[u] < position[v]
