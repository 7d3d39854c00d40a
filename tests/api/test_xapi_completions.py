"""POST /v1/evidence/xapi through the real app: ``passed``/``completed`` on catalog activities
named by an LMS's own IRI become ``completed`` feedback (the model's dose) alongside evidence;
unknown activities are rejected with the reason; the spec's examples are each answered."""

import json
from pathlib import Path

import pytest

SAMPLES = (Path(__file__).resolve().parents[3] / "shared" / "data" / "standards" / "xapi"
           / "statements_spec_examples.json")
VERBS = "http://adlnet.gov/expapi/verbs/"


def _st(sid, obj, verb, result=None):
    return {"id": sid, "actor": {"account": {"homePage": "https://lms.example.org",
                                             "name": "T-42"}},
            "verb": {"id": VERBS + verb}, "object": {"id": obj, "objectType": "Activity"},
            "result": result or {}, "timestamp": "2025-03-01T10:00:00Z"}


def test_passed_and_completed_on_catalog_activities_are_completions(api):
    statements = [
        _st("x1", "https://lms.example.org/course/ACT-030", "passed",
            {"score": {"scaled": 0.9}, "success": True}),
        _st("x2", "ACT-031", "completed"),
        _st("x3", "https://lms.example.org/course/ACT-NOPE", "completed"),
        _st("x4", "https://lms.example.org/course/ACT-031", "failed", {"score": {"scaled": 0.1}}),
    ]
    r = api.post("/v1/evidence/xapi", json=statements, params={"report": "all"})
    assert r.status_code == 200, r.text
    out = {o["index"]: o for o in r.json()["outcomes"]}
    assert out[0]["status"] == "accepted" and out[0]["completed_activity"] == "ACT-030"
    assert out[0]["evidence_ids"]  # scored: evidence as well
    assert out[1]["status"] == "accepted" and out[1]["completed_activity"] == "ACT-031"
    assert out[1]["evidence_ids"] == []
    assert out[2]["status"] == "rejected" and out[2]["field"] == "object.id"
    assert "does not map" in out[2]["reason"]
    assert out[3]["status"] == "accepted" and "completed_activity" not in out[3]
    feedback = api.get("/v1/educators/T-42/feedback").json()
    assert sorted(feedback["state"]["completed"]) == ["ACT-030", "ACT-031"]
    assert {e["event"] for e in feedback["events"]} == {"completed"}
    assert api.get("/v1/educators/T-42").json()["n_evidence"] >= 2
    again = api.post("/v1/evidence/xapi", json=statements[:2]).json()
    assert [o["status"] for o in again["outcomes"]] == ["duplicate", "duplicate"]
    assert len(api.get("/v1/educators/T-42/feedback").json()["events"]) == 2


def test_spec_examples_are_each_answered_with_a_reason(api):
    if not SAMPLES.exists():
        pytest.skip(f"xAPI samples not found at {SAMPLES}")
    statements = json.loads(SAMPLES.read_text())
    body = api.post("/v1/evidence/xapi", json=statements, params={"report": "all"}).json()
    assert len(body["outcomes"]) == len(statements)
    assert all(o["status"] == "rejected" and o["reason"] for o in body["outcomes"])
