"""Outcomes of evidence sent again: ``duplicate`` when it is the stored record, ``conflict`` when
the stored record under its ``evidence_id`` says something else (issue 14, item 3); on both
stores, through ``POST /v1/evidence`` and ``POST /v1/evidence/xapi``."""

from __future__ import annotations

from tests.api.conftest import record


def _out(body):
    return {o["index"]: o for o in body["outcomes"]}


def test_an_id_sent_again_with_other_content_is_a_conflict_naming_the_differences(api_any):
    api_any.post("/v1/evidence", json={"records": [record(1, score=3), record(2)]})
    r = api_any.post("/v1/evidence", json={"records": [
        record(1, score=4, day=2), record(2), record(3)]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["duplicate"], body["conflict"], body["rejected"]) == (1, 1, 1, 0)
    out = _out(body)
    assert (out[0]["status"], out[0]["field"], out[0]["value"]) == ("conflict", "score", "4")
    assert out[0]["reason"] == (
        "evidence_id 'e1' is already stored with other content (score 3 stored, 4 sent; "
        "observed_at 2025-03-01T10:00:00Z stored, 2025-03-02T10:00:00Z sent); an evidence_id "
        "names one record for good: send changed evidence under a new evidence_id")
    assert out[1]["status"] == "duplicate" and "same content" in out[1]["reason"]
    assert out[2]["status"] == "accepted"
    stored = api_any.get("/v1/educators/T1/evidence").json()
    assert {e["evidence_id"]: e["score"] for e in stored["items"]}["e1"] == 3  # unchanged


def test_a_conflict_in_an_optional_field_names_it_and_the_value_sent(api):
    api.post("/v1/evidence", json={"records": [record(1)]})
    body = api.post("/v1/evidence", json={"records": [record(1, rater_id="R-7")]}).json()
    out = _out(body)[0]
    assert (out["status"], out["field"], out["value"]) == ("conflict", "rater_id", "R-7")
    assert "rater_id none stored, 'R-7' sent" in out["reason"]


def test_a_repeated_id_in_one_batch_is_compared_with_what_the_batch_stored(api_any):
    batch = [record(1, score=2), record(1, score=2), record(1, score=4), record(1, score=4)]
    body = api_any.post("/v1/evidence", json={"records": batch}).json()
    assert [o["status"] for o in body["outcomes"]] == ["accepted", "duplicate", "conflict",
                                                        "conflict"]
    out = _out(body)
    assert "repeats row 0" in out[1]["reason"]
    assert out[2]["field"] == "score" and "score 2 stored, 4 sent" in out[2]["reason"]
    assert (body["accepted"], body["duplicate"], body["conflict"]) == (1, 1, 2)
    assert api_any.services.store.count_evidence("acme") == 1


def test_report_problems_lists_conflicts_too(api):
    api.post("/v1/evidence", json={"records": [record(1)]})
    body = api.post("/v1/evidence?report=problems",
                    json={"records": [record(1, score=1), record(2)]}).json()
    assert [(o["index"], o["status"]) for o in body["outcomes"]] == [(0, "conflict")]
    assert (body["accepted"], body["conflict"]) == (1, 1)


def _statement(score: float) -> dict:
    return {"id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
            "actor": {"account": {"homePage": "https://pd.example.org", "name": "T-1"}},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/scored"},
            "object": {"id": "https://pd.example.org/xapi/competencies/INS.FORMATIVE"},
            "result": {"score": {"scaled": score}}, "timestamp": "2025-03-01T10:00:00Z"}


def test_an_xapi_statement_sent_again_changed_is_a_conflict(api_any):
    first = api_any.post("/v1/evidence/xapi", json={"statements": [_statement(0.5)]}).json()
    assert first["accepted"] == 1, first
    same = api_any.post("/v1/evidence/xapi", json={"statements": [_statement(0.5)]}).json()
    assert same["duplicate"] == 1 and same["outcomes"][0]["status"] == "duplicate"
    changed = api_any.post("/v1/evidence/xapi", json={"statements": [_statement(0.9)]}).json()
    out = changed["outcomes"][0]
    assert (changed["conflict"], out["status"], out["field"]) == (1, "conflict", "score")
    assert out["evidence_ids"] == ["6690e6c9-3ef0-4ed3-8b37-7f3964730bee"]
