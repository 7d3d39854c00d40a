"""xAPI ``completed``/``passed`` on catalog activities -> completions (issue #15 item 6): the
object forms that name an activity, the reasons for the rest, and an accounting property: every
statement is mapped (evidence, completion or both) or rejected, exactly once."""

import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.xapi import statements_to_evidence

SAMPLES = (Path(__file__).resolve().parents[3] / "shared" / "data" / "standards" / "xapi"
           / "statements_spec_examples.json")
NOW = pd.Timestamp("2025-01-01T00:00:00Z")
COMPS = ["INS.FORMATIVE", "INS.ELL"]
CATALOG = {"ACT-030": ["INS.ELL"], "ACT-031": ["INS.FORMATIVE", "INS.ELL"]}
VERBS = "http://adlnet.gov/expapi/verbs/"


def _st(obj, verb="passed", result=None, sid="s1"):
    return {"id": sid, "actor": {"account": {"homePage": "https://lms.example.org",
                                             "name": "T-1"}},
            "verb": {"id": VERBS + verb}, "object": {"id": obj},
            "result": {} if result is None else result, "timestamp": "2024-05-01T09:00:00Z"}


def _map(statements):
    return statements_to_evidence(statements, competencies=COMPS, activity_targets=CATALOG,
                                  now=NOW)


@pytest.mark.parametrize("obj", [
    "ACT-030",                                      # the catalog id itself
    "https://lms.example.org/course/ACT-030",        # an IRI ending in it
    "https://lms.example.org/course/ACT-030/",       # a trailing slash
    "https://lms.example.org/catalog#ACT-030",       # its fragment
    "https://pd.example.org/activities/ACT-030",     # the documented /activities/<id>
    "urn:pdrec:activity:ACT-030",
])
@pytest.mark.parametrize("verb", ["passed", "completed"])
def test_passed_or_completed_on_a_catalog_activity_is_a_completion(obj, verb):
    m = _map([_st(obj, verb)])
    assert m.rejections.empty and m.records == []
    assert m.completions == [{"statement_id": "s1", "educator_id": "T-1",
                              "activity_id": "ACT-030", "at": "2024-05-01T09:00:00Z"}]


def test_a_scored_pass_is_evidence_on_each_target_and_a_completion():
    m = _map([_st("https://lms.example.org/course/ACT-031",
                  result={"score": {"scaled": 0.8}, "success": True})])
    assert [r["competency_id"] for r in m.records] == ["INS.FORMATIVE", "INS.ELL"]
    assert {r["activity_id"] for r in m.records} == {"ACT-031"}
    assert [c["activity_id"] for c in m.completions] == ["ACT-031"]


@pytest.mark.parametrize("obj,reason", [
    ("https://lms.example.org/course/ACT-999", "does not map to a competency or an activity"),
    ("https://pd.example.org/activities/ACT-999", "'ACT-999' is not in the catalog"),
    ("ACT-999", "a catalog activity id or an IRI whose last path segment is one"),
])
def test_statements_about_unknown_activities_are_rejected_with_a_reason(obj, reason):
    m = _map([_st(obj, "completed")])
    (rej,) = m.rejections.itertuples()
    assert rej.field == "object.id" and rej.value == obj and reason in rej.reason
    assert m.completions == [] and m.records == []


def test_a_competency_iri_is_never_read_as_an_activity():
    # /competencies/<id> is tried first, even when the catalog had an activity of that name
    m = statements_to_evidence([_st("https://x.org/competencies/INS.ELL", "completed")],
                               competencies=COMPS, activity_targets={"INS.ELL": ["INS.ELL"]},
                               now=NOW)
    assert m.completions == [] and m.rejections.iloc[0]["field"] == "result.score"


def test_failed_is_evidence_only_never_a_completion():
    m = _map([_st("ACT-030", "failed", result={"score": {"scaled": 0.2}})])
    assert len(m.records) == 1 and m.completions == []


@pytest.mark.skipif(not SAMPLES.exists(), reason="shared xAPI samples not present")
def test_spec_examples_are_each_mapped_or_rejected_with_a_reason():
    statements = json.loads(SAMPLES.read_text())
    m = _map(statements)
    done = set(m.origin) | set(m.completion_origin)
    assert done.isdisjoint(m.rejections["row"]) and len(done) + len(m.rejections) == len(
        statements)
    assert (m.rejections["reason"].str.len() > 0).all()


_OBJECTS = st.sampled_from(["ACT-030", "ACT-031", "ACT-999", "https://l.org/c/ACT-030",
                            "https://l.org/c/x#ACT-031", "https://x.org/competencies/INS.ELL",
                            "https://x.org/competencies/NOPE", "urn:pdrec:activity:ACT-999", ""])
_RESULTS = st.sampled_from([None, {"completion": True}, {"score": {"scaled": 0.5}},
                            {"score": {"raw": 2, "min": 0, "max": 4}}, {"score": {"scaled": "x"}},
                            {"completion": False}])
_VERBS = st.sampled_from(["passed", "completed", "failed", "scored", "voided", "liked"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_OBJECTS, _VERBS, _RESULTS, st.booleans()), max_size=15))
def test_every_generated_statement_is_mapped_or_rejected_exactly_once(specs):
    statements = [_st(obj, verb, result, sid=f"s{i}" if with_id else None)
                  for i, (obj, verb, result, with_id) in enumerate(specs)]
    m = _map(statements)
    rejected = list(m.rejections["row"])
    done = set(m.origin) | set(m.completion_origin)
    assert len(rejected) == len(set(rejected)) and done.isdisjoint(rejected)
    assert done | set(rejected) == set(range(len(statements)))
    assert len(m.completion_origin) == len(set(m.completion_origin))
    for pos, c in zip(m.completion_origin, m.completions, strict=True):
        assert specs[pos][1] in ("passed", "completed") or specs[pos][2] == {"completion": True}
        assert c["activity_id"] in CATALOG
