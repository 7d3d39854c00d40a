"""One request, one time: the API reads the clock once per request (``api.deps.request_now``)
and every time-dependent part of the answer is computed as of it. Pinned here by fixing that
time (a dependency override) and checking each part against it."""

from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from api.deps import request_now
from recommender.store import schema
from tests.api.test_repeatable import _catalog_file

FIXED = pd.Timestamp("2025-06-01T12:00:00Z")


def _fix(api, at=FIXED):
    async def fixed():
        return at
    api.client.app.dependency_overrides[request_now] = fixed


def test_cool_downs_are_measured_to_the_request_time(make_api, tmp_path):
    path, cycle, once = _catalog_file(tmp_path)  # cycle: repeatable, 14-day cool-down
    with make_api(catalog=path) as api:
        _fix(api)
        api.put("/v1/educators/T1", json={})
        r = api.post("/v1/feedback", json={"events": [
            {"educator_id": "T1", "activity_id": cycle, "event": "completed",
             "at": "2025-05-25T12:00:00Z"}]})
        assert r.status_code == 201, r.text

        def shown():
            body = api.get("/v1/educators/T1/recommendations",
                           params={"available": [cycle, once]}).json()
            return [i["activity_id"] for i in body["items"]]

        assert shown() == [once]  # 7 days after the completion, as of the request's time
        _fix(api, FIXED + pd.Timedelta(days=8))
        api.services.answers.clear()  # cached answers live PDREC_ANSWER_CACHE_TTL seconds
        assert sorted(shown()) == sorted([cycle, once])  # 15 days: open again


def test_the_log_the_mastery_and_the_evidence_window_use_the_request_time(make_api):
    # on_write: the evidence post refreshes mastery in the request, as of its time (the default
    # background refresher runs on its own clock, and would race the read below)
    with make_api(mastery_refresh="on_write") as api:
        _log_mastery_and_window(api)


def _log_mastery_and_window(api):
    _fix(api)
    records = [{"evidence_id": "ok", "educator_id": "T1", "competency_id": "INS.FORMATIVE",
                "source": "observation", "score": 3, "observed_at": "2025-05-30T10:00:00Z"},
               {"evidence_id": "future", "educator_id": "T1", "competency_id": "INS.FORMATIVE",
                "source": "observation", "score": 3, "observed_at": "2025-06-03T10:00:00Z"}]
    out = api.post("/v1/evidence", json={"records": records}).json()
    status = {o["evidence_id"]: o["status"] for o in out["outcomes"]} if out["outcomes"] else {}
    assert out["accepted"] == 1 and status.get("future") == "rejected"  # beyond now + 1 day
    with api.services.store.engine.connect() as conn:
        stamps = conn.execute(sa.select(schema.evidence.c.ingested_us)).scalars().all()
    assert stamps == [FIXED.value // 1000]
    mastery = api.get("/v1/educators/T1/mastery").json()
    assert pd.Timestamp(mastery["computed_at"]) == FIXED
    api.get("/v1/educators/T1/recommendations", params={"k": 2})
    api.services.audit.flush()
    log = api.services.store.recommendation_log("acme", "T1")
    assert len(log) and (pd.to_datetime(log["shown_at"], utc=True) == FIXED).all()


def test_without_an_override_the_request_time_is_the_clock(api):
    api.put("/v1/educators/T1", json={})
    before = datetime.now(UTC)
    computed = pd.Timestamp(api.get("/v1/educators/T1/mastery").json()["computed_at"])
    assert pd.Timestamp(before) <= computed <= pd.Timestamp(datetime.now(UTC))
