"""POST /v1/feedback: events change the next answer; overrides need a coach; all or nothing."""

from __future__ import annotations

import pytest


def _events(*events):
    return {"events": [{"educator_id": "T1", "activity_id": a, "event": e, **kw}
                       for a, e, kw in events]}


@pytest.fixture
def top(api):
    api.put("/v1/educators/T1", json={"goals": ["INS.ELL"]})

    def first(k=3):
        return [i["activity_id"] for i in
                api.get("/v1/educators/T1/recommendations", params={"k": k}).json()["items"]]
    return first


def test_declined_and_completed_activities_are_not_proposed_again(api, top):
    a, b, _ = top()
    r = api.post("/v1/feedback", json=_events((a, "declined", {}), (b, "completed", {})))
    assert r.status_code == 201 and r.json() == {"stored": 2, "educators_updated": 1}
    assert a not in top() and b not in top()


def test_coach_pin_comes_first_and_replace_hides_the_old_step(api, top):
    a = top()[0]
    r = api.post("/v1/feedback", who="coach", json=_events(
        ("ACT-100", "replaced", {"replaces": a, "by": "coach-7"})))
    assert r.status_code == 201
    items = api.get("/v1/educators/T1/recommendations").json()["items"]
    assert items[0]["activity_id"] == "ACT-100" and items[0]["pinned"] is True
    assert a not in [i["activity_id"] for i in items]
    api.post("/v1/feedback", who="coach", json=_events(("ACT-100", "unpinned", {})))
    assert top(5)[0] != "ACT-100" or not api.get(
        "/v1/educators/T1/recommendations").json()["items"][0]["pinned"]


@pytest.mark.parametrize("event,field", [
    ({"activity_id": "ACT-001", "event": "rated"}, "events[0].rating"),
    ({"activity_id": "ACT-001", "event": "rated", "rating": 9}, "events[0].rating"),
    ({"activity_id": "ACT-001", "event": "liked"}, "events[0].event"),
    ({"activity_id": "ACT-001", "event": "accepted", "at": "soon"}, "events[0].at"),
])
def test_bad_events_are_422_and_nothing_is_stored(api, event, field):
    api.put("/v1/educators/T1", json={})
    good = {"educator_id": "T1", "activity_id": "ACT-002", "event": "accepted"}
    r = api.post("/v1/feedback", json={"events": [{"educator_id": "T1", **event}, good]})
    assert r.status_code == 422, r.text
    assert field in [d["field"] for d in r.json()["error"]["details"]]
    assert api.services.store.feedback_rows("acme", ["T1"]) == []


def test_replaced_needs_what_it_replaces(api):
    api.put("/v1/educators/T1", json={})
    r = api.post("/v1/feedback", who="coach", json=_events(("ACT-001", "replaced", {})))
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == \
        "events[0].replaces"


def test_feedback_for_an_unknown_educator_is_404(api):
    r = api.post("/v1/feedback", json=_events(("ACT-001", "accepted", {})))
    assert r.status_code == 404 and r.json()["error"]["details"] == [
        {"field": "events[0].educator_id", "value": "T1",
         "reason": "no such educator in this tenant"}]


def test_unknown_activities_and_educators_are_one_404_naming_each_and_nothing_is_stored(api):
    api.put("/v1/educators/T1", json={})
    events = [{"educator_id": "T1", "activity_id": "ACT-001", "event": "accepted"},
              {"educator_id": "T1", "activity_id": "NOPE", "event": "accepted"},
              {"educator_id": "T1", "activity_id": "ACT-002", "event": "replaced",
               "replaces": "GONE"},
              {"educator_id": "T404", "activity_id": "ACT-003", "event": "declined"}]
    r = api.post("/v1/feedback", who="coach", json={"events": events})
    assert r.status_code == 404, r.text
    err = r.json()["error"]
    assert err["code"] == "not_found"
    assert err["message"] == ("activity id(s) ['NOPE', 'GONE'] not in the catalog "
                              "(GET /v1/activities lists them); no educator(s) ['T404'] in this "
                              "tenant; nothing was stored")
    listed = "no activity of the catalog has this id; GET /v1/activities lists them"
    assert err["details"] == [
        {"field": "events[1].activity_id", "value": "NOPE", "reason": listed},
        {"field": "events[2].replaces", "value": "GONE", "reason": listed},
        {"field": "events[3].educator_id", "value": "T404",
         "reason": "no such educator in this tenant"}]
    assert api.services.store.feedback_rows("acme", ["T1"]) == []


def test_the_schema_states_what_each_event_kind_needs(api):
    """``rated`` needs a rating, ``replaced`` what it replaces, ``noted`` a note that is not
    blank: conditions on ``event`` in the published schema, so schema-valid events are never
    refused for them (and the door says the same)."""
    spec = api.client.get("/openapi.json").json()
    needs = {c["if"]["properties"]["event"]["const"]: c["then"]["required"]
             for c in spec["components"]["schemas"]["FeedbackEventIn"]["allOf"]}
    assert needs == {"rated": ["rating"], "replaced": ["replaces"], "noted": ["note"]}
    api.put("/v1/educators/T1", json={})
    r = api.post("/v1/feedback", json=_events(("ACT-001", "noted", {"note": "  "})))
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "events[0].note"


def test_invalid_values_are_a_422_before_unknown_ids_are_looked_up(api):
    api.put("/v1/educators/T1", json={})
    r = api.post("/v1/feedback", json={"events": [
        {"educator_id": "T1", "activity_id": "NOPE", "event": "rated"}]})
    assert r.status_code == 422
    assert [d["field"] for d in r.json()["error"]["details"]] == ["events[0].rating"]


def test_empty_or_missing_events_are_422(api):
    assert api.post("/v1/feedback", json={"events": []}).status_code == 422
    assert api.post("/v1/feedback", json={}).status_code == 422


# --- the field contract (#14): every store answers the same, never a 500 ----------------------

@pytest.mark.parametrize("over,field,reason", [
    ({"at": "9999-12-31T23:59:59-14:00"}, "events[0].at",
     "events[0].at '9999-12-31T23:59:59-14:00' is outside the accepted window [1970-01-01T00:00:00Z"),
    ({"at": "1600-01-01T00:00:00Z"}, "events[0].at", "is outside the accepted window"),
    ({"at": "now"}, "events[0].at", "events[0].at 'now' is not an ISO 8601 timestamp"),
    ({"at": "today"}, "events[0].at", "is not an ISO 8601 timestamp"),
    ({"at": 1709287200}, "events[0].at", "Input should be a valid string"),
    ({"educator_id": {"id": "T1"}}, "events[0].educator_id", "Input should be a valid string"),
    ({"educator_id": "T" * 129}, "events[0].educator_id", "educator_id is 129 characters long"),
    ({"educator_id": "T\x00"}, "events[0].educator_id", "educator_id contains U+0000"),
    ({"by": "coach\x00"}, "events[0].by", "by contains U+0000 (a control character)"),
    ({"note": "see\x00this", "event": "noted"}, "events[0].note", "note contains U+0000"),
    ({"event": "rated", "rating": True}, "events[0].rating", "Input should be a valid integer"),
])
def test_bad_values_are_422_naming_field_and_reason_on_both_stores(api_any, over, field, reason):
    api_any.put("/v1/educators/T1", json={})
    event = {"educator_id": "T1", "activity_id": "ACT-001", "event": "accepted", **over}
    r = api_any.post("/v1/feedback", json={"events": [event]})
    assert r.status_code == 422, r.text
    details = {d["field"]: d["reason"] for d in r.json()["error"]["details"]}
    assert field in details and reason in details[field], details
    assert api_any.services.store.feedback_rows("acme", ["T1"]) == []


def test_times_with_offsets_are_stored_in_utc_and_naive_ones_are_utc(api_any):
    api_any.put("/v1/educators/T1", json={})
    r = api_any.post("/v1/feedback", json=_events(
        ("ACT-001", "accepted", {"at": "2025-03-01T12:00:00+02:00"}),
        ("ACT-002", "accepted", {"at": "2025-03-01T10:00:00"})))
    assert r.status_code == 201, r.text
    stored = api_any.services.store.feedback_rows("acme", ["T1"])
    assert {e["at"].isoformat() for e in stored} == {"2025-03-01T10:00:00+00:00"}
