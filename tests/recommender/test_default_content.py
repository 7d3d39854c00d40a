"""The shipped package data: default frameworks and activity catalog load and are realistic."""

from __future__ import annotations

import networkx as nx
import pytest
import yaml

from recommender.catalog import FORMATS, default_catalog
from recommender.errors import CycleError
from recommender.graph import LEVELS, default_framework, depths, load_framework

EDUCATOR_DOMAINS = {"cognitive", "intrapersonal", "interpersonal", "instructional"}
PREFIX = {
    "cognitive": "COG.", "intrapersonal": "INT.", "interpersonal": "REL.", "instructional": "INS.",
}

HOURS = {  # realistic range of hours per format
    "course": (4, 15),
    "micro_credential": (8, 20),
    "coaching_cycle": (6, 12),
    "plc_cycle": (6, 10),
    "peer_observation": (2, 4),
    "lesson_study": (10, 20),
    "residency": (40, 120),
    "video_reflection": (1, 3),
}


@pytest.fixture(scope="module")
def educator() -> nx.DiGraph:
    return default_framework("educator")


@pytest.fixture(scope="module")
def leader() -> nx.DiGraph:
    return default_framework("leader")


@pytest.fixture(scope="module")
def catalog(educator):
    return default_catalog(educator)


# ------------------------------------------------------------------------------ frameworks
def test_educator_framework_size_and_domains(educator):
    assert educator.graph["name"] == "educator"
    assert 36 <= len(educator) <= 42
    assert set(educator.graph["domains"]) == EDUCATOR_DOMAINS
    for node, domain in educator.nodes(data="domain"):
        assert node.startswith(PREFIX[domain]), (node, domain)
    assert educator.graph["scale"] == {"min": 1, "max": 4, "proficient": 3}


def test_leader_framework_size(leader):
    assert leader.graph["name"] == "leader"
    assert 12 <= len(leader) <= 16
    assert all(n.startswith("LDR.") for n in leader)
    assert max(depths(leader).values()) >= 2


@pytest.mark.parametrize("name", ["educator", "leader"])
def test_every_competency_has_four_distinct_level_descriptors(name):
    graph = default_framework(name)
    for node, attrs in graph.nodes(data=True):
        levels = attrs["levels"]
        assert set(levels) == set(LEVELS), node
        texts = [levels[lv] for lv in LEVELS]
        assert all(isinstance(t, str) and t.strip() for t in texts), node
        assert len(set(texts)) == 4, f"{node}: level descriptors are not distinct"
        assert attrs["name"].strip() and attrs["description"].strip(), node
        assert attrs.get("source"), f"{node}: no seed source"


def test_educator_graph_shape(educator):
    assert nx.is_directed_acyclic_graph(educator)
    assert max(depths(educator).values()) >= 4
    assert sum(1 for n in educator if educator.in_degree(n) >= 2) >= 6
    assert not list(nx.isolates(educator))
    roots = [n for n in educator if educator.in_degree(n) == 0]
    assert 3 <= len(roots) <= 8


def test_leader_graph_has_no_isolated_node(leader):
    assert not list(nx.isolates(leader))


def test_educator_framework_covers_the_seed_skills(educator):
    """The seven new skills, assessment literacy, data use, SWD/EL, PLCs, equity, voice."""
    required = {
        "INS.DIFFERENTIATION", "INS.ALIGN_OBJECTIVES", "INS.FORMATIVE", "INS.PERF_ASSESS",
        "INS.DATA_DRIVEN", "INS.SEL_LIFELONG", "INS.PERSONALIZED", "INS.BLENDED",
        "COG.ASSESS_LIT", "INS.SWD", "INS.ELL", "REL.PLC", "INT.LIFELONG_LEARNING",
        "INT.EQUITY_ORIENTATION", "REL.EDUCATOR_VOICE", "REL.TEACHER_LEADERSHIP",
    }
    assert required <= set(educator)


# ------------------------------------------------------------------------------- catalog
def test_catalog_loads_with_enough_activities(catalog):
    assert 120 <= len(catalog) <= 150
    assert catalog.activities.index.is_unique
    assert catalog.activities["title"].is_unique


def test_every_format_is_used(catalog):
    counts = catalog.activities["format"].value_counts()
    assert set(counts.index) == set(FORMATS)
    assert counts.min() >= 8, counts.to_dict()


def test_every_competency_is_targeted_at_several_levels(educator, catalog):
    merged = catalog.targets.join(catalog.activities["level"], on="activity_id")
    per_comp = merged.groupby("competency_id")
    counts = per_comp.size()
    missing = set(educator) - set(counts.index)
    assert not missing, f"untargeted competencies: {sorted(missing)}"
    assert counts.min() >= 3, counts[counts < 3].to_dict()
    assert per_comp["level"].nunique().min() >= 2


def test_hours_and_gains_are_realistic(catalog):
    acts = catalog.activities
    for aid, row in acts.iterrows():
        lo, hi = HOURS[row["format"]]
        assert lo <= row["hours"] <= hi, (aid, row["format"], row["hours"])
        assert 0.03 <= row["expected_gain"] <= 0.30, aid
    mean_gain = acts.groupby("format")["expected_gain"].mean()
    assert mean_gain["residency"] > mean_gain["course"]
    assert mean_gain["coaching_cycle"] > mean_gain["course"]
    assert mean_gain["video_reflection"] < mean_gain["course"]


def test_modality_matches_format(catalog):
    allowed = {
        "coaching_cycle": {"job_embedded", "in_person"},
        "lesson_study": {"job_embedded", "in_person"},
        "peer_observation": {"job_embedded", "in_person"},
        "plc_cycle": {"job_embedded", "in_person"},
        "residency": {"job_embedded", "blended"},
    }
    for aid, row in catalog.activities.iterrows():
        if row["format"] in allowed:
            assert row["modality"] in allowed[row["format"]], (aid, row["format"], row["modality"])


# ------------------------------------------------------------------------- cycle errors
def test_framework_with_cycle_names_the_cycle(tmp_path):
    data = {
        "name": "cyclic",
        "competencies": [
            {"id": "A", "name": "A", "domain": "cognitive", "prerequisites": ["C"]},
            {"id": "B", "name": "B", "domain": "cognitive", "prerequisites": ["A"]},
            {"id": "C", "name": "C", "domain": "cognitive", "prerequisites": ["B"]},
            {"id": "D", "name": "D", "domain": "cognitive", "prerequisites": ["A"]},
        ],
    }
    path = tmp_path / "cyclic.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    # the message names every id of the cycle (whichever node it starts from) and not D
    pattern = r"prerequisite cycle: (?=[^.]*\bA\b)(?=[^.]*\bB\b)(?=[^.]*\bC\b)(?![^.]*\bD\b)"
    with pytest.raises(CycleError, match=pattern) as info:
        load_framework(path)
    assert set(info.value.cycle) == {"A", "B", "C"}
