"""The field contract (recommender/fields.py) at every door of the API, on SQLite and PostgreSQL.

Issue 14 items 1, 4 (identifiers), 7 and 8: strange ids, texts and times are refused per record
with the field, the value and a reason, the same on both stores and never as a 500; rows stored
before the contract existed never break a read; search matches values, not JSON key names;
xAPI completions are recorded.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from recommender.store import schema
from tests.api.conftest import record

XAPI_SAMPLES = (Path(__file__).resolve().parents[3]
                / "shared/data/standards/xapi/statements_spec_examples.json")
WINDOW_START = "is outside the accepted window [1970-01-01T00:00:00Z, "


def _outcomes(response) -> dict[int, dict]:
    assert response.status_code == 200, response.text
    return {o["index"]: o for o in response.json()["outcomes"]}


def _reads(api, educator: str = "T1") -> dict[str, int]:
    """Status of every read that serves the educator (and the tenant's list)."""
    paths = [f"/v1/educators/{educator}", f"/v1/educators/{educator}/mastery",
             f"/v1/educators/{educator}/recommendations",
             f"/v1/educators/{educator}/pathway?goal=INS.ELL",
             f"/v1/educators/{educator}/evidence", f"/v1/educators/{educator}/feedback",
             "/v1/educators"]
    out = {p: api.get(p).status_code for p in paths}
    out["batch"] = api.post("/v1/recommendations:batch",
                            json={"educator_ids": [educator]}).status_code
    return out


# --- item 1: times ----------------------------------------------------------------------------

@pytest.mark.parametrize("value,reason", [
    ("1600-01-01T00:00:00Z", "observed_at '1600-01-01T00:00:00Z' " + WINDOW_START),
    ("0001-01-01T00:00:00+14:00", "observed_at '0001-01-01T00:00:00+14:00' " + WINDOW_START),
    ("9999-12-31T23:59:59-14:00", "observed_at '9999-12-31T23:59:59-14:00' " + WINDOW_START),
    ("now", "observed_at 'now' is not an ISO 8601 timestamp"),
    ("today", "observed_at 'today' is not an ISO 8601 timestamp"),
])
def test_evidence_times_outside_the_contract_are_rejected_and_reads_stay_whole(api_any, value,
                                                                             reason):
    out = _outcomes(api_any.post("/v1/evidence", json={"records": [
        record(1, observed_at=value), record(2)]}))
    assert (out[0]["status"], out[0]["field"], out[0]["value"]) == ("rejected", "observed_at",
                                                                      value)
    assert out[0]["reason"].startswith(reason), out[0]["reason"]
    assert out[1]["status"] == "accepted"
    assert set(_reads(api_any).values()) == {200}


# --- item 2 / 7: ids, text and strict types ----------------------------------------------------

def test_bad_ids_and_types_are_rejected_per_record_and_the_batch_stands(api_any):
    batch = [record(1, educator="x" * 129), record(2, evidence_id="e" * 300),
             record(3, rater_id="r\x00"), record(4, educator={"id": 1}),
             record(5, educator=["T1"]), record(6, educator="a/b"), record(7, educator=True),
             record(8)]
    batch[1] = {**batch[1], "evidence_id": "e" * 300}
    out = _outcomes(api_any.post("/v1/evidence", json={"records": batch}))
    assert [out[i]["status"] for i in range(8)] == ["rejected"] * 7 + ["accepted"]
    assert [out[i]["field"] for i in range(7)] == [
        "educator_id", "evidence_id", "rater_id", "educator_id", "educator_id", "educator_id",
        "educator_id"]
    assert out[0]["reason"].startswith("educator_id is 129 characters long; an id is 1-128")
    assert out[1]["value"] == "e" * 197 + "..." and "300 characters long" in out[1]["reason"]
    assert out[2]["reason"].startswith("rater_id contains U+0000 (a control character)")
    assert out[3]["reason"] == "educator_id must be a string; got an object"
    assert out[3]["evidence_id"] == "e4"
    assert out[4]["reason"] == "educator_id must be a string; got an array"
    assert out[5]["reason"].startswith("educator_id contains '/' at position 2")
    assert out[6]["reason"] == "educator_id must be a string; got a boolean"
    assert api_any.services.store.count_evidence("acme") == 1
    numeric = _outcomes(api_any.post("/v1/evidence", json={"records": [
        {**record(9), "evidence_id": {"id": 9}}, {**record(10), "evidence_id": 10}]}))
    assert [(o["evidence_id"], o["field"]) for o in numeric.values()] == [
        (None, "evidence_id"), (None, "evidence_id")]
    listed = api_any.get("/v1/educators").json()
    assert [i["educator_id"] for i in listed["items"]] == ["T1"]


@pytest.mark.parametrize("profile,field", [
    ({"years_experience": True}, "profile.years_experience"),
    ({"years_experience": "4"}, "profile.years_experience"),
    ({"role": "coach\x00"}, "profile.role"),
    ({"grade_band": "m" * 65}, "profile.grade_band"),
])
def test_profiles_are_strictly_typed_on_both_stores(api_any, profile, field):
    r = api_any.put("/v1/educators/T1", json={"profile": profile})
    assert r.status_code == 422, r.text
    assert field in [d["field"] for d in r.json()["error"]["details"]]
    assert api_any.get("/v1/educators/T1").status_code == 404


def test_a_whole_json_number_is_an_integer_but_booleans_and_strings_are_not(api):
    """JSON has one number type: the schema's ``integer`` admits 4.0, and so does the door;
    ``true``, ``"4"`` and ``4.5`` are refused, naming the field."""
    r = api.put("/v1/educators/T1", json={"profile": {"years_experience": 4.0}})
    assert r.status_code == 201 and r.json()["profile"] == {"years_experience": 4}
    r = api.post("/v1/feedback", json={"events": [
        {"educator_id": "T1", "activity_id": "ACT-001", "event": "rated", "rating": 5.0}]})
    assert r.status_code == 201, r.text
    assert api.get("/v1/educators/T1/feedback").json()["events"][0]["rating"] == 5
    r = api.post("/v1/recommendations:batch", json={"educator_ids": ["T1"], "k": 2.0})
    assert r.status_code == 200 and len(r.json()["results"][0]["items"]) == 2
    for method, path, body, field in [
            ("put", "/v1/educators/T1", {"profile": {"years_experience": 4.5}},
             "profile.years_experience"),
            ("post", "/v1/feedback", {"events": [{"educator_id": "T1", "activity_id": "ACT-001",
                                                  "event": "rated", "rating": True}]},
             "events[0].rating"),
            ("post", "/v1/recommendations:batch", {"educator_ids": ["T1"], "k": "2"}, "k"),
            ("post", "/v1/recommendations:batch", {"educator_ids": ["T1"], "k": True}, "k"),
            ("post", "/v1/recommendations:batch", {"educator_ids": ["T1"], "max_hours": True},
             "max_hours")]:
        r = getattr(api, method)(path, json=body)
        assert r.status_code == 422, (body, r.text)
        assert [d["field"] for d in r.json()["error"]["details"]] == [field], r.text


@pytest.mark.parametrize("value,ok", [(".", False), ("..", False), ("...", True), (".a", True),
                                      ("a.", True), ("a b", True), ("a/b", False)])
def test_the_published_id_pattern_says_what_the_door_does_about_dot_segments(api, value, ok):
    """``.`` and ``..`` cannot be path segments: the OpenAPI pattern refuses them as the door
    does, so a schema-valid id is never refused."""
    spec = api.client.get("/openapi.json").json()
    pattern = spec["components"]["schemas"]["FeedbackEventIn"]["properties"]["activity_id"][
        "pattern"]
    assert bool(re.search(pattern, value)) is ok
    api.put("/v1/educators/T1", json={})
    r = api.post("/v1/feedback", json={"events": [
        {"educator_id": "T1", "activity_id": value, "event": "accepted"}]})
    assert r.status_code == (404 if ok else 422), r.text  # no such activity, or not an id


def test_goals_are_held_to_the_id_contract(api_any):
    r = api_any.put("/v1/educators/T1", json={"goals": ["INS.ELL\x00"]})
    assert r.status_code == 422
    assert "goals contains U+0000" in r.json()["error"]["details"][0]["reason"]


@pytest.mark.parametrize("method,path,body", [
    ("get", "/v1/educators/T%00", None),
    ("get", "/v1/educators/T%00/mastery", None),
    ("get", "/v1/educators?search=a%00b", None),
    ("get", "/v1/educators/T1/evidence?competency_id=INS%00", None),
    ("post", "/v1/recommendations:batch", {"educator_ids": ["T\x00"]}),
    ("delete", "/v1/admin/keys/k%00", None),
    ("post", "/v1/admin/keys", {"role": "platform", "label": "a\x00b"}),
])
def test_control_characters_in_paths_queries_and_labels_are_422(api_any, method, path, body):
    api_any.put("/v1/educators/T1", json={})
    kw = {"json": body} if body is not None else {}
    r = getattr(api_any.client, method)(path, headers=api_any.h("admin"), **kw)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"]


# --- item 3: rows stored before the contract ---------------------------------------------------

def _store_raw(api, table: sa.Table, **row) -> None:
    """Write a row as an older version of pdrec could have, bypassing every door."""
    with api.services.store.engine.begin() as conn:
        conn.execute(table.insert().values(tenant_id="acme", **row))


def _raw_evidence(api, evidence_id: str, observed_us: int, **over) -> None:
    _store_raw(api, schema.evidence, **{
        "evidence_id": evidence_id, "educator_id": "T1", "competency_id": "INS.ELL",
        "source": "observation", "score": 1.0, "scale_min": 1.0, "scale_max": 4.0,
        "score_norm": 0.0, "proficient": False, "observed_us": observed_us, "rater_id": None,
        "activity_id": None, "ingested_us": 0, **over})


def test_stored_rows_outside_the_contract_never_break_a_read(api_any, caplog):
    from datetime import UTC, datetime

    api_any.post("/v1/evidence", json={"records": [record(1, competency="INS.ELL", score=4)]})
    _raw_evidence(api_any, "old", -11_676_096_000_000_000)  # 1600-01-01
    _raw_evidence(api_any, "year0", -62_135_596_800_000_000 - 50_400_000_000)
    _store_raw(api_any, schema.feedback, educator_id="T1", activity_id="ACT-030",
               event="declined", at=datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))
    api_any.services.store.put_educator("acme", "T1", profile={}, goals=[])  # stale mastery
    with caplog.at_level(logging.WARNING):
        assert set(_reads(api_any).values()) == {200}
    mastery = api_any.get("/v1/educators/T1/mastery").json()
    assert {c["competency_id"]: c["n_evidence"] for c in mastery["competencies"]}["INS.ELL"] == 1
    evidence = api_any.get("/v1/educators/T1/evidence").json()
    assert [e["evidence_id"] for e in evidence["items"]] == ["e1"]
    listed = api_any.get("/v1/educators").json()["items"][0]
    assert listed["n_evidence"] == 1 and listed["last_evidence_at"].startswith("2025-03-01")
    assert "ACT-030" not in api_any.get("/v1/educators/T1/feedback").json()["state"]["declined"]
    assert "dated outside the accepted window" in caplog.text


def test_stored_ids_the_door_now_refuses_do_not_break_the_tenant_list(api):
    """SQLite stored what PostgreSQL refused (an over-long id, a NUL): the list still reads."""
    api.post("/v1/evidence", json={"records": [record(1)]})
    _store_raw(api, schema.educators, educator_id="x" * 300, profile="{}", goals="[]",
               data_version=0, created_at=sa.func.current_timestamp(),
               updated_at=sa.func.current_timestamp())
    _raw_evidence(api, "nul", 1_709_287_200_000_000, rater_id="r\x00")
    listed = api.get("/v1/educators")
    assert listed.status_code == 200 and listed.json()["total"] == 2
    assert set(_reads(api).values()) == {200}


# --- item 4 / 7: search ----------------------------------------------------------------------

def test_search_matches_profile_values_and_goal_ids_not_key_names(api_any):
    api_any.put("/v1/educators/T1", json={"profile": {"grade_band": "middle",
                                                      "years_experience": 14},
                                          "goals": ["INS.ELL"]})
    api_any.put("/v1/educators/T2", json={"profile": {"role": "coach"}})

    def found(text):
        body = api_any.get("/v1/educators", params={"search": text}).json()
        return body["total"], [i["educator_id"] for i in body["items"]]

    assert found("grade_band") == (0, [])
    assert found("years_experience") == (0, [])
    assert found('"') == (0, [])
    assert found("MIDDLE") == (1, ["T1"])
    assert found("14") == (1, ["T1"])
    assert found("ins.ell") == (1, ["T1"])
    assert found("coach") == (1, ["T2"])
    assert found("T") == (2, ["T1", "T2"])


# --- item 8: xAPI ----------------------------------------------------------------------------

def _statement(sid, obj="https://pd.example.org/xapi/competencies/INS.FORMATIVE", **over):
    st = {"id": sid, "actor": {"mbox": "mailto:t1@example.org"},
          "verb": {"id": "http://adlnet.gov/expapi/verbs/scored"},
          "object": {"id": obj, "objectType": "Activity"},
          "result": {"score": {"raw": 3, "min": 1, "max": 4}},
          "timestamp": "2025-03-01T10:00:00Z"}
    return {**st, **over}


def test_xapi_values_are_held_to_the_contract_per_statement(api_any):
    statements = [
        _statement("x" * 100_000),
        _statement("s2", actor={"openid": "http://toby.openid.example.org/"}),
        _statement("s3", timestamp="1600-01-01T00:00:00Z"),
        _statement("s4", result={"score": {"scaled": True}}),
        _statement("s5", result={"score": {"scaled": "0.5"}}),
        _statement("s6"),
    ]
    out = _outcomes(api_any.post("/v1/evidence/xapi", json={"statements": statements}))
    assert [out[i]["status"] for i in range(6)] == ["rejected"] * 5 + ["accepted"]
    assert [out[i]["field"] for i in range(5)] == [
        "id", "actor.openid", "timestamp", "result.score.scaled", "result.score.scaled"]
    assert out[0]["value"] == "x" * 197 + "..."
    assert "/v1/educators/{educator_id} can address" in out[1]["reason"]
    assert out[2]["reason"].startswith("timestamp '1600-01-01T00:00:00Z' " + WINDOW_START)
    assert api_any.services.store.count_evidence("acme") == 1


def test_xapi_completions_are_recorded_once_as_completed_feedback(api_any):
    done = _statement("c1", obj="urn:pdrec:activity:ACT-030",
                      verb={"id": "http://adlnet.gov/expapi/verbs/completed"},
                      actor={"account": {"homePage": "https://pd.example.org", "name": "T-9"}},
                      result={"completion": True})
    half = {**done, "id": "c2", "verb": {"id": "http://adlnet.gov/expapi/verbs/progressed"},
            "result": {"extensions": {
                "https://w3id.org/xapi/cmi5/result/extensions/progress": 50}}}
    out = _outcomes(api_any.post("/v1/evidence/xapi", json=[done, half]))
    assert out[0]["status"] == "accepted" and out[0]["completed_activity"] == "ACT-030"
    assert out[0]["evidence_ids"] == []
    assert out[1]["status"] == "rejected" and out[1]["field"] == "result.score"
    state = api_any.get("/v1/educators/T-9/feedback").json()
    assert state["state"]["completed"] == ["ACT-030"]
    assert state["events"][0]["by"] == "xapi" and state["events"][0]["at"].startswith(
        "2025-03-01T10:00:00")
    again = _outcomes(api_any.post("/v1/evidence/xapi", json=[done]))
    assert again[0]["status"] == "duplicate" and "already recorded" in again[0]["reason"]
    assert len(api_any.get("/v1/educators/T-9/feedback").json()["events"]) == 1
    items = api_any.get("/v1/educators/T-9/recommendations", params={"k": 50}).json()["items"]
    assert "ACT-030" not in [i["activity_id"] for i in items]


def test_xapi_spec_examples_each_name_their_own_defect(api):
    if not XAPI_SAMPLES.exists():
        pytest.skip(f"xAPI samples not found at {XAPI_SAMPLES}")
    statements = json.loads(XAPI_SAMPLES.read_text())
    out = _outcomes(api.post("/v1/evidence/xapi", json=statements))
    reasons = [out[i]["reason"] for i in range(len(statements))]
    assert not any(r.startswith("statement id is missing") for r in reasons), reasons
    assert out[0]["reason"].startswith("voiding statement 'e05aa883-acaf-40ad-bf54-"
                                       "02c8ce485fb0' not applied: evidence is append-only")
