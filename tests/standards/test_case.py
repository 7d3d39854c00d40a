"""CASE 1.0 import and export: shared samples, hand-built precedes packages, untidy packages
(no crash, no silent drop), the round trip and schema validity of what we export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given

from recommender.graph import build_framework, default_framework
from recommender.standards.case import import_case, read_case
from recommender.standards.case_export import export_case, validate_package
from recommender.standards.case_report import REASONS
from tests.standards.case_factory import (
    DOC_ID,
    assoc,
    chain_package,
    item,
    json_values,
    package,
    tidy_packages,
    uid,
    untidy_packages,
)

CASE_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "standards" / "case"
SCHEMA = CASE_DIR / "opensalt__case-v1p0-cfpackage-schema.json"
SAMPLES = sorted(p for p in CASE_DIR.glob("opensalt__*.json") if p != SCHEMA)
needs_shared = pytest.mark.skipif(not SCHEMA.exists(), reason="../shared/data/standards/case absent")


def check_accounting(pkg, result) -> None:
    """Every input item and association is imported (has a role) or reported as skipped."""
    report = result.report
    items = pkg.get("CFItems") if isinstance(pkg, dict) else None
    assocs = pkg.get("CFAssociations") if isinstance(pkg, dict) else None
    assert len(report.item_roles) == (len(items) if isinstance(items, list) else 0)
    assert len(report.association_roles) == (len(assocs) if isinstance(assocs, list) else 0)
    assert set(report.item_roles) <= {"competency", "domain", "level", "skipped"}
    assert set(report.association_roles) <= {"hierarchy", "prerequisite", "level", "skipped"}
    for element, roles in (("CFItem", report.item_roles), ("CFAssociation",
                                                           report.association_roles)):
        reported = {s.index for s in report.skipped if s.element == element}
        assert reported == {i for i, r in enumerate(roles) if r == "skipped"}
    assert all(s.reason in REASONS for s in report.skipped)
    if result.framework is None:
        assert "competency" not in report.item_roles
        return
    graph = build_framework(result.framework)
    assert graph.number_of_nodes() == report.item_roles.count("competency")
    assert graph.number_of_edges() == report.association_roles.count("prerequisite")


def by_id(framework) -> dict:
    return {c["id"]: c for c in framework["competencies"]}


@needs_shared
@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_shared_sample_imports_item_by_item(path):
    pkg = json.loads(path.read_text(encoding="utf-8"))
    result = read_case(path)
    check_accounting(pkg, result)
    assert result.report.skipped == []  # the shared samples are tidy
    graph = build_framework(result.framework)
    assert graph.number_of_nodes() == len(pkg["CFItems"])
    codes = {i.get("humanCodingScheme") for i in pkg["CFItems"]} - {None}
    assert codes == {a.get("code") for _, a in graph.nodes(data=True)} - {None}


@needs_shared
def test_ordering_sample_maps_hierarchy_to_domain_and_parent():
    framework = read_case(CASE_DIR / "opensalt__Ordering.json").framework
    comps = by_id(framework)
    assert {c["domain"] for c in comps.values()} == {"Geometry and Measurement"}
    assert comps["H.A.MATH.GM.PF"]["parent"] == "H.A.MATH.GM"
    assert comps["H.A.MATH.GM.PF"]["case_id"] == "9d8d5691-3c65-4f95-af82-858844732458"
    assert "parent" not in comps["H.A.MATH.GM"]
    assert framework["source"]["identifier"] == "a33fc64e-5c40-11e7-82c4-3d54268aa9ee"


@needs_shared
def test_schema_file_is_not_a_package_and_is_reported():
    result = read_case(SCHEMA)
    assert result.framework is None
    assert [s.reason for s in result.report.skipped] == ["package"]


def test_precedes_become_prerequisites():
    pkg = chain_package(["A", "B", "C", "D"], [("A", "B"), ("B", "C"), ("D", "C")])
    result = import_case(pkg)
    check_accounting(pkg, result)
    comps = by_id(result.framework)
    assert comps["B"]["prerequisites"] == ["A"]
    assert comps["C"]["prerequisites"] == ["B", "D"]
    assert comps["A"]["prerequisites"] == [] and result.report.skipped == []
    assert set(build_framework(result.framework).predecessors("C")) == {"B", "D"}


def test_precedes_cycle_is_reported_by_name_and_the_rest_kept():
    pkg = chain_package(["A", "B", "C", "D"], [("A", "B"), ("B", "C"), ("C", "A"), ("D", "A")])
    result = import_case(pkg)
    check_accounting(pkg, result)
    cycles = [s for s in result.report.skipped if s.reason == "precedes cycle"]
    assert len(cycles) == 3
    for s in cycles:
        name = s.detail.split("in the cycle ")[1]
        assert set(name.split(" -> ")) == {"A", "B", "C"} and name.count(" -> ") == 3
    assert by_id(result.framework)["A"]["prerequisites"] == ["D"]


def test_reversed_and_mapped_association_types():
    pkg = chain_package(["A", "B"], [])
    pkg["CFAssociations"].append(assoc(uid(1, "c"), "isRelatedTo", uid(1), uid(2)))
    unmapped = import_case(pkg)
    assert [s.reason for s in unmapped.report.skipped] == ["association type not mapped"]
    mapped = import_case(pkg, association_map={"isRelatedTo": "prerequisite-reversed"})
    assert by_id(mapped.framework)["A"]["prerequisites"] == ["B"]
    with pytest.raises(ValueError, match="association_map"):
        import_case(pkg, association_map={"isRelatedTo": "friend"})


def test_levels_from_has_skill_level_and_from_notes():
    items = [item(uid(1), "Plan", "P", notes="Beginning: lists steps\nAdvanced - coaches others"),
             item(uid(2), "Teach", "T")]
    assocs = [assoc(uid(1, "a"), "isChildOf", uid(1), DOC_ID),
              assoc(uid(2, "a"), "isChildOf", uid(2), DOC_ID)]
    for n in range(4):  # four unnamed level items, given out of order: sequenceNumber decides
        items.append(item(uid(10 + n), f"level text {3 - n}"))
        assocs.append(assoc(uid(10 + n, "a"), "hasSkillLevel", uid(2), uid(10 + n),
                            sequenceNumber=str(4 - n)))
    pkg = package(items, assocs)
    result = import_case(pkg)
    check_accounting(pkg, result)
    comps = by_id(result.framework)
    assert comps["P"]["levels"] == {"beginning": "lists steps", "advanced": "coaches others"}
    assert comps["T"]["levels"] == {"beginning": "level text 0", "developing": "level text 1",
                                    "proficient": "level text 2", "advanced": "level text 3"}
    assert result.report.item_roles.count("level") == 4


def test_untidy_package_reports_each_trap():
    items = [item(uid(1), "One", "X.1"), item(uid(2), "Two", 2), item(uid(1), "dup"), 7,
             {"identifier": uid(5)}, item(uid(3), "Three", "X.3")]
    assocs = [
        {**assoc(uid(1, "a"), "precedes", uid(1), uid(2)), "originNodeURI": f"x/CFItems/{uid(1)}",
         "sequenceNumber": "1"},
        assoc(uid(2, "a"), "precedes", uid(2), uid(99)),
        assoc(uid(3, "a"), "isCousinOf", uid(1), uid(2)),
        assoc(uid(4, "a"), "precedes", uid(5), uid(1)),
        assoc(uid(5, "a"), "isChildOf", uid(1), uid(3)),
        assoc(uid(6, "a"), "isChildOf", uid(3), uid(1)),
        assoc(uid(7, "a"), "precedes", uid(3), uid(3)),
        assoc(uid(1, "a"), "precedes", uid(3), uid(1)),
        "not an association",
    ]
    pkg = package(items, assocs)
    result = import_case(pkg)
    check_accounting(pkg, result)
    reasons = {(s.element, s.identifier or str(s.index)): s.reason for s in result.report.skipped}
    assert reasons[("CFItem", uid(1))] == "duplicate identifier"
    assert reasons[("CFItem", "3")] == "not an object"
    assert reasons[("CFItem", uid(5))] == "no statement"
    assert reasons[("CFAssociation", uid(2, "a"))] == "points outside the package"
    assert reasons[("CFAssociation", uid(3, "a"))] == "unknown association type"
    assert reasons[("CFAssociation", uid(4, "a"))] == "points to a skipped item"
    assert reasons[("CFAssociation", uid(6, "a"))] == "isChildOf cycle"
    assert reasons[("CFAssociation", uid(7, "a"))] == "self loop"
    assert reasons[("CFAssociation", "8")] == "not an object"
    assert [s.reason for s in result.report.skipped if s.index == 7] == ["duplicate identifier"]
    comps = by_id(result.framework)
    assert comps["2"]["code"] == "2" and comps["2"]["prerequisites"] == ["X.1"]


@pytest.mark.parametrize("value", [None, [], "CASE", 3, {"CFItems": "x", "CFAssociations": 4},
                                   {"CFDocument": [], "CFItems": [None, {"identifier": []}]}])
def test_non_packages_are_reported_not_raised(value):
    result = import_case(value)
    check_accounting(value, result)
    assert result.framework is None and result.report.skipped


def test_a_file_that_is_not_json_is_reported(tmp_path):
    path = tmp_path / "p.json"
    path.write_text("{not json")
    result = read_case(path)
    assert result.framework is None and result.report.skipped[0].detail.startswith("not JSON")


@given(untidy_packages())
def test_untidy_packages_never_crash_nor_drop_silently(pkg):
    check_accounting(pkg, import_case(pkg))


@given(json_values, json_values, json_values)
def test_any_json_is_imported_or_reported(doc, items, assocs):
    pkg = {"CFDocument": doc, "CFItems": items, "CFAssociations": assocs}
    check_accounting(pkg, import_case(pkg))


def _same(first: dict, second: dict) -> None:
    a, b = by_id(first), by_id(second)
    assert a.keys() == b.keys()
    for cid, comp in a.items():
        for key in ("prerequisites", "code", "domain", "name", "levels", "parent"):
            assert comp.get(key) == b[cid].get(key), (cid, key)


@given(tidy_packages())
def test_round_trip_keeps_competencies_prerequisites_and_codes(pkg):
    first = import_case(pkg)
    assert first.report.skipped == []
    if first.framework is None:  # every item was a Domain
        return
    exported = export_case(build_framework(first.framework), document=first.framework["source"])
    second = import_case(exported)
    assert second.report.skipped == []
    _same(first.framework, second.framework)


def test_default_framework_round_trip():
    graph = default_framework("educator")
    result = import_case(export_case(graph))
    assert result.report.skipped == []
    again = build_framework(result.framework)
    assert set(again.nodes) == set(graph.nodes) and set(again.edges) == set(graph.edges)
    for node, attrs in graph.nodes(data=True):
        assert again.nodes[node]["levels"] == attrs["levels"]
        assert again.nodes[node]["domain"] == attrs["domain"]


@needs_shared
@pytest.mark.parametrize("name", ["educator", "leader"])
def test_exported_default_frameworks_validate_against_the_schema(name):
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    exported = export_case(default_framework(name))
    assert validate_package(exported, schema) == []
    again = export_case(default_framework(name))
    assert [i["identifier"] for i in again["CFItems"]] == [i["identifier"] for i in exported["CFItems"]]
    assert validate_package({"CFDocument": {}}, schema)  # and the check does find errors


@needs_shared
@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_shared_samples_export_back_to_valid_packages(path):
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    first = read_case(path)
    exported = export_case(build_framework(first.framework), document=first.framework["source"])
    assert validate_package(exported, schema) == []
    assert exported["CFDocument"]["identifier"] == first.framework["source"]["identifier"]
    _same(first.framework, import_case(exported).framework)
