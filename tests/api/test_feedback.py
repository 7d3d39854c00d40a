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
    ({"activity_id": "NOPE", "event": "accepted"}, "events[0].activity_id"),
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
    assert r.status_code == 404 and r.json()["error"]["details"][0]["value"] == "T1"


def test_empty_or_missing_events_are_422(api):
    assert api.post("/v1/feedback", json={"events": []}).status_code == 422
    assert api.post("/v1/feedback", json={}).status_code == 422
