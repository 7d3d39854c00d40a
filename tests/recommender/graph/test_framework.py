import json

import networkx as nx
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from recommender.errors import CycleError, FrameworkError
from recommender.graph import build_framework, framework_to_dict, load_framework
from tests.recommender.graph.strategies import dag_frameworks


def comp(cid, *prereqs, domain="cognitive"):
    return {"id": cid, "name": cid.upper(), "domain": domain, "prerequisites": list(prereqs)}


def test_load_keeps_attributes_and_edges_point_from_prerequisite(tmp_path):
    data = {
        "name": "t",
        "competencies": [
            {**comp("a"), "description": "d", "levels": {"beginning": "x"}},
            comp("b", "a", domain="instructional"),
        ],
    }
    path = tmp_path / "f.yaml"
    path.write_text(yaml.safe_dump(data))
    g = load_framework(path)
    assert list(g.edges) == [("a", "b")]
    assert g.nodes["a"]["levels"] == {"beginning": "x"}
    assert g.nodes["b"]["domain"] == "instructional"
    assert g.graph["domains"] == ["cognitive", "instructional"]
    assert g.graph["scale"] == {"min": 1.0, "max": 4.0, "proficient": 3.0}


def test_json_and_top_level_edges_are_read(tmp_path):
    data = {"name": "t", "competencies": [comp("a"), comp("b")], "edges": [{"from": "a", "to": "b"}]}
    path = tmp_path / "f.json"
    path.write_text(json.dumps(data))
    assert list(load_framework(path).edges) == [("a", "b")]


def test_duplicate_ids_are_named():
    with pytest.raises(FrameworkError, match=r"duplicate competency ids \['a'\]"):
        build_framework({"competencies": [comp("a"), comp("a"), comp("b")]})


def test_unknown_ids_in_edges_are_named():
    with pytest.raises(FrameworkError, match=r"unknown competency ids \['zz'\]"):
        build_framework({"competencies": [comp("a"), comp("b", "zz")]})


def test_self_loop_is_named():
    with pytest.raises(FrameworkError, match=r"self-loop prerequisites on \['a'\]"):
        build_framework({"competencies": [comp("a", "a")]})


def test_missing_required_field_is_named():
    with pytest.raises(FrameworkError, match=r"\('b', 'domain'\)"):
        build_framework({"competencies": [comp("a"), {"id": "b", "name": "B"}]})


def test_cycle_error_prints_the_cycle():
    rotations = r"(a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c)"
    with pytest.raises(CycleError, match=r"prerequisite cycle: " + rotations):
        build_framework({"competencies": [comp("a", "c"), comp("b", "a"), comp("c", "b"), comp("d")]})


def test_bad_scale_is_rejected():
    with pytest.raises(FrameworkError, match="scale"):
        build_framework({"competencies": [comp("a")], "scale": {"min": 1, "max": 4, "proficient": 5}})


@given(dag_frameworks())
def test_every_generated_dag_loads_and_round_trips(data):
    g = build_framework(data)
    assert nx.is_directed_acyclic_graph(g)
    assert set(g) == {c["id"] for c in data["competencies"]}
    again = build_framework(framework_to_dict(g))
    assert set(again.edges) == set(g.edges)


@given(dag_frameworks(min_nodes=2), st.data())
def test_every_framework_with_a_cycle_is_rejected_with_a_real_cycle(data, draw):
    # Close a cycle: add an edge from a node back to one of its ancestors (or itself's parent).
    g = build_framework(data)
    edges = list(g.edges)
    if not edges:
        u, v = list(g)[:2]
        edges = [(u, v)]
        by_id = {c["id"]: c for c in data["competencies"]}
        by_id[v]["prerequisites"].append(u)
    u, v = draw.draw(st.sampled_from(edges))
    by_id = {c["id"]: c for c in data["competencies"]}
    by_id[u]["prerequisites"].append(v)  # v -> u closes u -> v -> u
    with pytest.raises(CycleError) as info:
        build_framework(data)
    cycle = info.value.cycle
    input_edges = {(p, c["id"]) for c in data["competencies"] for p in c["prerequisites"]}
    assert len(cycle) >= 2
    for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True):
        assert (a, b) in input_edges
    assert " -> ".join(cycle) in str(info.value)
