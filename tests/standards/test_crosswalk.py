"""The educator crosswalk (Danielson components, InTASC standards): validation, coverage and
the expansion of coded evidence records."""

from __future__ import annotations

import copy

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.errors import InvalidInputError
from recommender.graph import default_framework
from recommender.standards.crosswalk import (
    build_crosswalk,
    default_crosswalk,
    expand_coded_records,
    load_crosswalk,
    normalize_code,
)

GRAPH = default_framework("educator")
CW = default_crosswalk(GRAPH)
DANIELSON = [f"{d}{c}" for d, n in ((1, 6), (2, 5), (3, 5), (4, 6)) for c in "abcdef"[:n]]


def _data() -> dict:
    from importlib import resources
    ref = resources.files("recommender.data").joinpath("crosswalk_educator.yaml")
    return yaml.safe_load(ref.read_text(encoding="utf-8"))


def test_the_shipped_crosswalk_validates_and_uses_the_published_codes():
    assert CW is not None and CW.framework == "educator"
    assert list(CW.schemes["danielson"].codes) == DANIELSON  # 22 components, 2013 codes
    assert list(CW.schemes["intasc"].codes) == [str(i) for i in range(1, 11)]
    assert CW.schemes["danielson"].codes["3b"] == "Using Questioning and Discussion Techniques"
    assert CW.schemes["intasc"].codes["10"] == "Leadership and Collaboration"
    assert set(CW.table["competency_id"]) <= set(GRAPH)


def test_every_competency_is_mapped_or_explicitly_unmapped_never_both():
    mapped = set(CW.table["competency_id"])
    assert mapped | set(CW.unmapped) == set(GRAPH)
    assert not mapped & set(CW.unmapped)
    assert CW.unmapped == {"INT.SELF_MANAGEMENT": CW.unmapped["INT.SELF_MANAGEMENT"]}
    assert "social-emotional" in CW.unmapped["INT.SELF_MANAGEMENT"]


def test_a_leader_framework_has_no_shipped_crosswalk():
    assert default_crosswalk(default_framework("leader")) is None


@pytest.mark.parametrize("edit, field, value", [
    (lambda d: d["mappings"]["INS.FORMATIVE"].update(danielson=["9z"]),
     "mappings.INS.FORMATIVE.danielson", "9z"),
    (lambda d: d["mappings"].update({"NOPE.X": {"intasc": ["1"]}}), "mappings", "NOPE.X"),
    (lambda d: d["mappings"]["INS.FORMATIVE"].update(marzano=["1"]), "mappings.INS.FORMATIVE",
     "marzano"),
    (lambda d: d["mappings"].pop("INS.FORMATIVE"), "mappings", "INS.FORMATIVE"),
    (lambda d: d["unmapped"].update({"INS.ELL": "why"}), "unmapped", "INS.ELL"),
    (lambda d: d["unmapped"].update({"GHOST": "why"}), "unmapped", "GHOST"),
    (lambda d: d.update(framework="leader"), "framework", "leader"),
    (lambda d: d["schemes"]["intasc"]["codes"].update({"07": "dup"}),
     "schemes.intasc.codes.07", "dup"),
])
def test_a_bad_crosswalk_is_refused_naming_the_field_and_value(edit, field, value):
    data = copy.deepcopy(_data())
    edit(data)
    with pytest.raises(InvalidInputError) as exc:
        build_crosswalk(data, GRAPH)
    assert (exc.value.field, exc.value.value) == (field, value)


def test_load_crosswalk_reads_a_file(tmp_path):
    path = tmp_path / "cw.yaml"
    path.write_text(yaml.safe_dump(_data()), encoding="utf-8")
    assert load_crosswalk(path, GRAPH).table.equals(CW.table)


@pytest.mark.parametrize("raw, norm", [("3B", "3b"), ("#07", "7"), ("Standard 10", "10"),
                                       (7, "7"), (True, ""), (None, ""), ("0", "0")])
def test_codes_are_normalized(raw, norm):
    assert normalize_code(raw) == norm


def test_a_coded_record_lands_on_every_mapped_competency_with_stable_ids():
    rec = {"evidence_id": "obs-1", "educator_id": "T1", "framework_code": "Danielson:2A",
           "source": "observation", "score": 3, "observed_at": "2025-03-01T10:00:00Z"}
    out = expand_coded_records([rec], CW)
    comps = CW.competencies_for("danielson", "2a")
    assert comps == ["INT.EQUITY_ORIENTATION", "REL.STUDENT_RELATIONSHIPS",
                     "INS.CULTURALLY_RESPONSIVE"]
    assert [r["competency_id"] for r in out.records] == comps
    assert [r["evidence_id"] for r in out.records] == [f"obs-1#{c}" for c in comps]
    assert out.codes == ["danielson:2a"] * 3 and out.origin == [0, 0, 0]
    assert all(r["score"] == 3 and r["educator_id"] == "T1" for r in out.records)
    assert rec["framework_code"] == "Danielson:2A" and "competency_id" not in rec  # not mutated
    again = expand_coded_records([rec], CW)
    assert again.records == out.records


def test_a_code_in_competency_id_is_expanded_too_and_plain_records_pass():
    plain = {"evidence_id": "p", "competency_id": "INS.FORMATIVE"}
    out = expand_coded_records([plain, {"evidence_id": "q", "competency_id": "intasc:#6"}], CW)
    assert out.records[0] is plain and out.origin[0] == 0
    assert {r["competency_id"] for r in out.records[1:]} == set(CW.competencies_for("intasc",
                                                                                     "6"))


@pytest.mark.parametrize("code, words", [
    ("danielson:9z", ["'danielson:9z'", "not a code of Danielson", "1a"]),
    ("danielson:2e", ["'danielson:2e'", "Organizing Physical Space", "maps to no competency"]),
    ("marzano:1", ["'marzano:1'", "scheme 'marzano'", "danielson, intasc"]),
    ("3b", ["'3b'", "not a framework code", "<scheme>:<code>"]),
    (12, ["12", "not a framework code"]),
])
def test_an_unmappable_code_is_rejected_with_a_reason_naming_it(code, words):
    good = {"evidence_id": "g", "framework_code": "intasc:3"}
    out = expand_coded_records([{"evidence_id": "b", "framework_code": code}, good], CW)
    rej = out.rejections
    assert rej["row"].tolist() == [0] and rej["field"].tolist() == ["framework_code"]
    assert all(w in rej["reason"].iloc[0] for w in words), rej["reason"].iloc[0]
    assert out.origin and set(out.origin) == {1}  # the good record still expands


def test_both_fields_is_a_rejection_and_no_crosswalk_rejects_every_code():
    both = {"evidence_id": "x", "competency_id": "INS.ELL", "framework_code": "danielson:3a"}
    assert "not both" in expand_coded_records([both], CW).rejections["reason"].iloc[0]
    out = expand_coded_records([{"evidence_id": "x", "framework_code": "danielson:3a"}], None)
    assert "has no crosswalk" in out.rejections["reason"].iloc[0] and not out.records


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(
    st.none(), st.integers(), st.text(max_size=5),
    st.fixed_dictionaries({}, optional={
        "evidence_id": st.one_of(st.text(max_size=6), st.integers(), st.none()),
        "competency_id": st.one_of(st.sampled_from(["INS.ELL", "danielson:3b", "intasc:99",
                                                    "x:y", ":", "danielson:"]),
                                   st.text(max_size=8), st.none(), st.integers()),
        "framework_code": st.one_of(st.sampled_from(["danielson:3b", "FFT:4F", "intasc:#10",
                                                     "danielson:2e", "intasc", "::", ""]),
                                    st.text(max_size=8), st.none(), st.floats(),
                                    st.lists(st.integers(), max_size=2))})),
    max_size=12))
def test_expansion_never_crashes_and_accounts_for_every_record(records):
    out = expand_coded_records(records, CW)
    rejected = set(out.rejections["row"])
    assert rejected.isdisjoint(out.origin)
    assert rejected | set(out.origin) == set(range(len(records)))
    assert out.origin == sorted(out.origin)
    for rec, i in zip(out.records, out.origin, strict=True):
        if rec is not records[i]:
            assert rec["competency_id"] in GRAPH
