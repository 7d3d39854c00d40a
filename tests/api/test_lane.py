"""The kept-answer lane (api.lane): a recommendations read whose answer is kept is answered
before routing, exactly as the route answers it; every other read goes on to the route."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from api.auth import Principal
from api.lane import ROUTE, KeptAnswerLane
from tests.api.conftest import record

PATH = "/v1/educators/T1/recommendations"


@pytest.fixture
def kept(api):
    """T1 with evidence and its k=3 and default answers computed (and kept) by the route."""
    api.put("/v1/educators/T1", json={"goals": ["INS.ELL"]})
    api.post("/v1/evidence", json={"records": [record(1, score=2), record(2, score=1,
                                                                    competency="INS.ELL")]})
    api.services.refresher.wait_idle(30)
    first = api.get(PATH, params={"k": 3}).json()
    api.get(PATH)
    return api, first


def _through_lane(api, path: str, query: bytes, role: str = "platform"):
    """Call the lane alone, with a stand-in for the rest of the stack: ``(passed_on, body)``."""
    passed = []

    async def rest(scope, receive, send):
        passed.append(scope["path"])

    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "GET", "path": path, "query_string": query,
             "headers": [], "app": api.client.app,
             "state": {"principal": Principal(key_id="k", tenant_id="acme", role=role)}}
    asyncio.run(KeptAnswerLane(rest)(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return bool(passed), (orjson.loads(body) if body else None), scope


def test_a_kept_answer_is_served_by_the_lane_as_the_route_serves_it(kept):
    api, first = kept
    passed, body, scope = _through_lane(api, PATH, b"k=3")
    assert not passed and body["items"] == first["items"] and body["model"] == first["model"]
    assert body["request_id"] != first["request_id"] and scope["route"].path == ROUTE
    api.services.audit.flush()
    log = api.services.store.recommendation_log("acme", "T1")
    shown = log[log["request_id"] == body["request_id"]]
    assert shown["activity_id"].tolist() == [i["activity_id"] for i in first["items"]]
    assert (shown["evidence_policy"].notna()).all()
    passed, default, _ = _through_lane(api, PATH, b"")
    assert not passed and len(default["items"]) == 5


@pytest.mark.parametrize("query", [b"k=3&explain=true", b"k=0", b"k=51", b"k=3&k=4",
                                   b"explain=false", b"k=03", b"k=3&formats=course", b"k=x"])
def test_any_other_query_goes_to_the_route(kept, query):
    api, _ = kept
    passed, body, _ = _through_lane(api, PATH, query)
    assert passed and body is None


def test_what_is_not_kept_goes_to_the_route(kept):
    api, _ = kept
    assert _through_lane(api, PATH, b"k=4")[0]  # never asked: not kept
    assert _through_lane(api, "/v1/educators/NOPE/recommendations", b"")[0]  # the route's 404
    assert _through_lane(api, "/v1/educators/ /recommendations", b"")[0]  # the route's 422
    api.post("/v1/feedback", json={"events": [
        {"educator_id": "T1", "activity_id": "ACT-001", "event": "declined"}]})
    assert _through_lane(api, PATH, b"k=3")[0]  # the data changed: computed afresh


def test_overridden_dependencies_switch_the_lane_off(kept):
    api, _ = kept
    from api.deps import request_now

    async def fixed():
        return None

    api.client.app.dependency_overrides[request_now] = fixed
    try:
        assert _through_lane(api, PATH, b"k=3")[0]
    finally:
        api.client.app.dependency_overrides.clear()


def test_through_the_app_the_second_read_is_the_lanes_and_equal(kept):
    api, first = kept
    second = api.get(PATH, params={"k": 3})
    assert second.status_code == 200 and second.headers["x-request-id"]
    assert second.json()["items"] == first["items"]
    metrics = api.client.get("/metrics").text  # the lane's answer counted under the route
    assert f'method="GET",route="{ROUTE}",status="200"}} 3.0' in metrics
    assert api.get(PATH, params={"k": 3}, who="other").status_code == 404  # another tenant
