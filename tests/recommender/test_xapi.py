"""xAPI statements -> evidence records: the documented mapping, and a reason for the rest."""

import pytest

from recommender.xapi import SOURCE_EXTENSION, statements_to_evidence

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
    (_st(verb={"id": "http://adlnet.gov/expapi/verbs/voided"}), "verb.id", "voiding"),
    (_st(verb={"id": "http://adlnet.gov/expapi/verbs/liked"}), "verb.id", "expected one of"),
    (_st(object={"objectType": "SubStatement"}), "object.objectType", "SubStatement"),
    (_st(object={"id": "https://x.org/elsewhere"}), "object.id", "does not map"),
    (_st(object={"id": "urn:pdrec:activity:ZZ"}), "object.id", "not in the catalog"),
    (_st(result={}), "result.score", "missing"),
    (_st(result={"score": {"raw": 3}}), "result.score", "neither"),
    (_st(result={"score": {"scaled": "high"}}), "result.score", "numbers"),
    (_st(context={"extensions": {SOURCE_EXTENSION: "rumour"}}), f"context.extensions.{SOURCE_EXTENSION}",
     "not one of"),
    ([1, 2], "statement", "expected a JSON object"),
])
def test_unmappable_statements_are_rejected_with_field_and_reason(statement, field, reason):
    m = statements_to_evidence([statement], competencies=COMPS)
    assert m.records == [] and len(m.rejections) == 1
    row = m.rejections.iloc[0]
    assert row["row"] == 0 and row["field"] == field and reason in row["reason"]
