"""xAPI statements -> evidence records and completions: the documented mapping, and a reason
naming the real defect for the rest (on the spec's own examples and on untidy variants)."""

import json
from pathlib import Path

import pandas as pd
import pytest

from recommender.xapi import SOURCE_EXTENSION, VOIDED, statements_to_evidence

SAMPLES = (Path(__file__).resolve().parents[3] / "shared" / "data" / "standards" / "xapi"
           / "statements_spec_examples.json")
NOW = pd.Timestamp("2025-01-01T00:00:00Z")

COMPS = ["INS.FORMATIVE", "INS.ELL", "COG.ASSESS_LIT"]


def _st(**kw):
    base = {"id": "s1", "actor": {"mbox": "mailto:t1@example.org"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/scored"},
            "object": {"id": "https://x.org/competencies/INS.FORMATIVE"},
            "result": {"score": {"raw": 65, "min": 0, "max": 100}},
            "timestamp": "2024-03-01T10:00:00Z"}
    return {**base, **kw}


def test_raw_score_with_bounds_keeps_its_scale_and_mbox_names_the_educator():
    rec = statements_to_evidence([_st()], competencies=COMPS).records[0]
    assert rec == {"evidence_id": "s1", "educator_id": "t1@example.org",
                   "competency_id": "INS.FORMATIVE", "source": "activity_assessment",
                   "score": 65.0, "scale_min": 0.0, "scale_max": 100.0,
                   "observed_at": "2024-03-01T10:00:00Z", "rater_id": None, "activity_id": None}


def test_activity_object_gives_one_record_per_target_and_account_wins_over_mbox():
    st = _st(object={"id": "urn:pdrec:activity:A1"}, result={"score": {"scaled": 0.5}},
             actor={"mbox": "mailto:x@y", "account": {"homePage": "h", "name": "T-9"}})
    m = statements_to_evidence([st], competencies=COMPS,
                               activity_targets={"A1": ["INS.ELL", "COG.ASSESS_LIT"]})
    assert [r["evidence_id"] for r in m.records] == ["s1#INS.ELL", "s1#COG.ASSESS_LIT"]
    assert {r["educator_id"] for r in m.records} == {"T-9"} and m.origin == [0, 0]
    assert m.records[0]["activity_id"] == "A1" and m.records[0]["scale_max"] == 1.0


def test_iri_map_and_source_extension():
    st = _st(object={"id": "https://case.example/CFItems/123"},
             context={"extensions": {SOURCE_EXTENSION: "observation"},
                      "instructor": {"mbox": "mailto:coach@x"}})
    rec = statements_to_evidence([st], competencies=COMPS,
                                 iri_map={"https://case.example/CFItems/123": "INS.ELL"}).records[0]
    assert (rec["competency_id"], rec["source"], rec["rater_id"]) == ("INS.ELL", "observation",
                                                                      "coach@x")


@pytest.mark.parametrize("statement,field,reason", [
    (_st(id=None), "id", "idempotency"),
    (_st(actor={"objectType": "Group", "name": "G"}), "actor", "Group"),
    (_st(actor={"name": "nobody"}), "actor", "identify"),
    (_st(verb={"id": VOIDED}), "object.objectType", "must be a StatementRef"),
    (_st(verb={"id": "http://adlnet.gov/expapi/verbs/liked"}), "verb.id", "expected one of"),
    (_st(object={"objectType": "SubStatement"}), "object.objectType", "SubStatement"),
    (_st(object={"id": "https://x.org/elsewhere"}), "object.id", "does not map"),
    (_st(object={"id": "urn:pdrec:activity:ZZ"}), "object.id", "not in the catalog"),
    (_st(result={}), "result.score", "missing"),
    (_st(result={"score": {"raw": 3}}), "result.score", "neither"),
    (_st(result={"score": {"scaled": "high"}}), "result.score.scaled", "JSON number"),
    (_st(context={"extensions": {SOURCE_EXTENSION: "rumour"}}), f"context.extensions.{SOURCE_EXTENSION}",
     "not one of"),
    ([1, 2], "statement", "expected a JSON object"),
])
def test_unmappable_statements_are_rejected_with_field_and_reason(statement, field, reason):
    m = statements_to_evidence([statement], competencies=COMPS)
    assert m.records == [] and len(m.rejections) == 1
    row = m.rejections.iloc[0]
    assert row["row"] == 0 and row["field"] == field and reason in row["reason"]


def _reject_reason(statement, **kw):
    m = statements_to_evidence([statement], competencies=COMPS, now=NOW, **kw)
    assert m.records == [] and m.completions == [] and len(m.rejections) == 1, m
    return m.rejections.iloc[0].to_dict()


@pytest.mark.parametrize("drop,over,field,reason", [
    ("actor", {}, "actor", "statement has no actor"),
    ("verb", {}, "verb", "statement has no verb"),
    ("object", {}, "object", "statement has no object"),
    (None, {"object": {"objectType": "StatementRef"}}, "object.id",
     "object is a StatementRef without an id"),
    (None, {"verb": {"display": {"en-US": "did"}}}, "verb.id", "verb.id is missing"),
    (None, {"actor": "t1@example.org"}, "actor", "actor must be an object (an Agent); got string"),
])
def test_spec_invalid_statements_name_their_real_defect_not_the_missing_id(drop, over, field,
                                                                          reason):
    statement = {k: v for k, v in _st(**over).items() if k not in (drop, "id")}
    rej = _reject_reason(statement)
    assert rej["field"] == field and rej["reason"].startswith(reason), rej


def test_a_mappable_statement_without_an_id_is_asked_for_one():
    statement = {k: v for k, v in _st().items() if k != "id"}
    rej = _reject_reason(statement)
    assert rej["field"] == "id" and "idempotency key" in rej["reason"]


def test_completed_on_a_catalog_activity_without_score_is_a_completion():
    st = _st(verb={"id": "http://adlnet.gov/expapi/verbs/completed"},
             object={"id": "https://pd.example.org/activities/A1"}, result={"completion": True})
    m = statements_to_evidence([st], competencies=COMPS, activity_targets={"A1": ["INS.ELL"]},
                               now=NOW)
    assert m.records == [] and m.rejections.empty
    assert m.completions == [{"statement_id": "s1", "educator_id": "t1@example.org",
                              "activity_id": "A1", "at": "2024-03-01T10:00:00Z"}]
    assert m.completion_origin == [0]


@pytest.mark.parametrize("verb,result,completes", [
    ("progressed", {"extensions": {"https://w3id.org/xapi/cmi5/result/extensions/progress": 100}},
     True),
    ("progressed", {"extensions": {"https://w3id.org/xapi/video/extensions/progress": 1.0}},
     True),
    ("progressed", {"completion": True}, True),
    ("attempted", {"completion": True}, True),
    ("progressed", {"extensions": {"https://w3id.org/xapi/cmi5/result/extensions/progress": 40}},
     False),
    ("progressed", {"extensions": {"https://w3id.org/xapi/video/extensions/progress": True}},
     False),
    ("attempted", {}, False),
])
def test_progress_and_completion_flags_decide_what_a_scoreless_statement_is(verb, result,
                                                                           completes):
    st = _st(verb={"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
             object={"id": "urn:pdrec:activity:A1"}, result=result)
    m = statements_to_evidence([st], competencies=COMPS, activity_targets={"A1": ["INS.ELL"]},
                               now=NOW)
    assert (len(m.completions) == 1) is completes
    if not completes:
        rej = m.rejections.iloc[0]
        assert rej["field"] == "result.score"
        assert "nor does it report a completed activity" in rej["reason"]


def test_a_scored_completion_is_evidence_and_a_completion():
    st = _st(verb={"id": "http://adlnet.gov/expapi/verbs/completed"},
             object={"id": "urn:pdrec:activity:A1"}, result={"score": {"scaled": 0.9}})
    m = statements_to_evidence([st], competencies=COMPS,
                               activity_targets={"A1": ["INS.ELL", "COG.ASSESS_LIT"]}, now=NOW)
    assert [r["evidence_id"] for r in m.records] == ["s1#INS.ELL", "s1#COG.ASSESS_LIT"]
    assert [c["activity_id"] for c in m.completions] == ["A1"]


def test_a_completion_on_a_competency_without_score_says_completions_need_an_activity():
    st = _st(verb={"id": "http://adlnet.gov/expapi/verbs/completed"}, result={})
    rej = _reject_reason(st)
    assert rej["field"] == "result.score"
    assert "a completion is recorded only for a catalog activity" in rej["reason"]


def test_a_voiding_statement_is_rejected_naming_the_statement_it_targets():
    st = _st(verb={"id": VOIDED}, object={"objectType": "StatementRef", "id": "s0"}, result={})
    rej = _reject_reason(st)
    assert rej["field"] == "verb.id" and rej["value"] == VOIDED
    assert rej["reason"].startswith("voiding statement 's0' not applied: evidence is "
                                    "append-only here")


@pytest.mark.parametrize("score,field,shown", [
    ({"scaled": True}, "result.score.scaled", "boolean True"),
    ({"scaled": "0.5"}, "result.score.scaled", "string 0.5"),
    ({"raw": "3", "min": 1, "max": 4}, "result.score.raw", "string 3"),
    ({"raw": 3, "min": None, "max": 4}, "result.score.min", "NoneType None"),
])
def test_score_values_must_be_json_numbers(score, field, shown):
    rej = _reject_reason(_st(result={"score": score}))
    assert rej["field"] == field
    assert rej["reason"] == f"{field} must be a finite JSON number; got {shown}"


def test_an_id_too_long_is_rejected_with_its_value_cut_for_display():
    rej = _reject_reason(_st(id="x" * 100_000))
    assert rej["field"] == "id" and rej["value"] == "x" * 197 + "..."
    assert rej["reason"].startswith("statement id is 100000 characters long; an evidence_id is "
                                    "1-200 characters")


@pytest.mark.parametrize("actor,field", [
    ({"openid": "http://toby.openid.example.org/"}, "actor.openid"),
    ({"account": {"homePage": "https://x.org", "name": "T\x00"}}, "actor.account.name"),
    ({"mbox": "mailto:" + "a" * 200 + "@x.org"}, "actor.mbox"),
])
def test_actors_that_cannot_be_an_addressable_educator_id_are_rejected(actor, field):
    rej = _reject_reason(_st(actor=actor))
    assert rej["field"] == field
    assert "cannot be an educator id that /v1/educators/{educator_id} can address" in rej["reason"]


@pytest.mark.parametrize("timestamp,reason", [
    ("1600-01-01T00:00:00Z", "timestamp '1600-01-01T00:00:00Z' is outside the accepted window "
                             "[1970-01-01T00:00:00Z, 2025-01-02T00:00:00Z]"),
    ("now", "timestamp 'now' is not an ISO 8601 timestamp"),
    (1709287200, "timestamp must be an ISO 8601 string; got number"),
])
def test_timestamps_are_checked_against_the_contract(timestamp, reason):
    rej = _reject_reason(_st(timestamp=timestamp))
    assert rej["field"] == "timestamp" and rej["reason"].startswith(reason)


def test_a_missing_timestamp_is_the_time_received():
    st = {k: v for k, v in _st().items() if k != "timestamp"}
    m = statements_to_evidence([st], competencies=COMPS, now=NOW)
    assert m.records[0]["observed_at"] == "2025-01-01T00:00:00.000000Z"


def test_good_statements_beside_bad_ones_are_kept_and_rejections_keep_input_order():
    batch = [_st(id="a"), _st(id="b", timestamp="today"), "junk", _st(id="c")]
    m = statements_to_evidence(batch, competencies=COMPS, now=NOW)
    assert [r["evidence_id"] for r in m.records] == ["a", "c"] and m.origin == [0, 3]
    assert m.rejections["row"].tolist() == [1, 2]


SPEC_EXPECTED = [  # (field, start of the reason) for each of the spec's ten examples
    ("verb.id", "voiding statement 'e05aa883-acaf-40ad-bf54-02c8ce485fb0' not applied"),
    ("verb.id", "verb 'created' does not report an assessment or a completion"),
    ("verb.id", "verb 'commented' does not report an assessment or a completion"),
    ("verb.id", "verb 'planned' does not report an assessment or a completion"),
    ("object.id", "object.id does not map to a competency or an activity"),
    ("actor", "actor is a Group"),
    ("verb.id", "verb 'experienced' does not report an assessment or a completion"),
    ("verb.id", "verb 'experienced' does not report an assessment or a completion"),
    ("object.id", "activity '001' is not in the catalog"),
    ("object.id", "object.id does not map to a competency or an activity"),
]


def test_the_spec_examples_are_each_rejected_for_their_own_defect():
    if not SAMPLES.exists():
        pytest.skip(f"xAPI samples not found at {SAMPLES}")
    statements = json.loads(SAMPLES.read_text())
    m = statements_to_evidence(statements, competencies=COMPS, now=NOW)
    got = list(zip(m.rejections["field"], m.rejections["reason"], strict=True))
    assert len(got) == len(SPEC_EXPECTED) == len(statements)
    for (field, reason), (want_field, want_reason) in zip(got, SPEC_EXPECTED, strict=True):
        assert field == want_field and reason.startswith(want_reason), (field, reason)


def test_the_spec_completion_example_is_a_completion_when_its_activity_is_in_the_catalog():
    if not SAMPLES.exists():
        pytest.skip(f"xAPI samples not found at {SAMPLES}")
    statement = json.loads(SAMPLES.read_text())[8]  # "completed", result.completion, no score
    m = statements_to_evidence([statement], competencies=COMPS,
                               activity_targets={"001": ["INS.ELL"]}, now=NOW)
    assert m.records == [] and m.rejections.empty
    assert m.completions[0]["activity_id"] == "001"
    assert m.completions[0]["educator_id"] == "joe@example.com"
