"""The per-process answer cache: a repeated read is served from it, and any write (through the API
or straight into the store, as another worker or the CLI would) changes the next answer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.api.conftest import record

PATH = "/v1/educators/T1/recommendations"


def _cache(api) -> dict[str, float]:
    counts = {"hit": 0.0, "miss": 0.0}
    for m in api.services.metrics.answer_cache.collect():
        for s in m.samples:
            if s.name.endswith("_total"):
                counts[s.labels["result"]] = s.value
    return counts


def _ids(body) -> list[str]:
    return [i["activity_id"] for i in body["items"]]


def _uncached(api, **params) -> dict:
    """The answer computed afresh (cache emptied first)."""
    api.services.answers.clear()
    return api.get(PATH, params=params).json()


@pytest.fixture
def seeded(api):
    api.put("/v1/educators/T1", json={"goals": ["INS.ELL"]})
    api.post("/v1/evidence", json={"records": [record(1, score=2), record(2, score=1,
                                                                    competency="INS.ELL")]})
    return api


def test_a_repeated_read_is_a_hit_with_its_own_request_id_and_log_rows(seeded):
    api = seeded
    first = api.get(PATH, params={"k": 3, "explain": True}).json()
    before = _cache(api)
    second = api.get(PATH, params={"k": 3, "explain": True}).json()
    assert _cache(api)["hit"] == before["hit"] + 1
    assert second["items"] == first["items"] and second["request_id"] != first["request_id"]
    api.services.audit.flush()
    log = api.services.store.recommendation_log("acme", "T1")
    shown = log[log["kind"] == "recommend"]
    assert set(shown["request_id"]) == {first["request_id"], second["request_id"]}
    for rid in (first["request_id"], second["request_id"]):  # every answer shown is logged
        assert shown[shown["request_id"] == rid]["activity_id"].tolist() == _ids(first)


def test_the_query_is_part_of_the_key(seeded):
    api = seeded
    three = api.get(PATH, params={"k": 3}).json()
    assert len(three["items"]) == 3 and three["items"][0]["explanation"] is None
    assert len(api.get(PATH, params={"k": 2}).json()["items"]) == 2
    explained = api.get(PATH, params={"k": 3, "explain": True}).json()
    assert explained["items"][0]["explanation"] is not None
    videos = api.get(PATH, params={"formats": ["video_reflection"]}).json()
    assert {i["format"] for i in videos["items"]} == {"video_reflection"}
    # the same formats in another order or repeated are the same query
    a = api.get(PATH, params={"formats": ["video_reflection", "course", "video_reflection"]}).json()
    before = _cache(api)
    b = api.get(PATH, params={"formats": ["course", "video_reflection"]}).json()
    assert _cache(api)["hit"] == before["hit"] + 1 and a["items"] == b["items"]


@pytest.mark.parametrize("write", ["evidence", "feedback", "profile", "store_feedback",
                                   "store_evidence"])
def test_a_write_changes_the_next_answer(seeded, write):
    api = seeded
    top = _ids(api.get(PATH).json())[0]
    api.get(PATH)  # cached now
    if write == "evidence":  # mastery of the lead competency jumps
        lead = api.get(PATH, params={"explain": True}).json()["items"][0]
        comp = lead["explanation"]["targets"][0]["competency_id"]
        r = api.post("/v1/evidence", json={"records": [record(10 + d, competency=comp, score=4,
                                                              day=d) for d in range(2, 9)]})
        assert r.json()["accepted"] == 7
    elif write == "feedback":
        api.post("/v1/feedback", json={"events": [
            {"educator_id": "T1", "activity_id": top, "event": "declined"}]})
    elif write == "profile":
        api.put("/v1/educators/T1", json={"goals": ["REL.PLC"]})
    elif write == "store_feedback":  # another worker or the CLI: no cache of ours is told
        api.services.store.add_feedback("acme", [{"educator_id": "T1", "activity_id": top,
                                                  "event": "completed", "at": datetime.now(UTC)}])
    else:
        from recommender.evidence import validate_evidence

        graph = api.services.graph
        rows = [record(20 + d, score=4, day=d) for d in range(2, 9)]
        valid = validate_evidence(rows, competencies=list(graph)).valid
        api.services.store.ingest_evidence("acme", valid)
    before = _cache(api)
    after = api.get(PATH).json()
    assert _cache(api)["miss"] == before["miss"] + 1  # never the cached answer
    assert after["items"] == _uncached(api)["items"]
    if write in ("feedback", "store_feedback"):
        assert top not in _ids(after)


def test_a_model_reload_changes_the_key(seeded):
    api = seeded
    api.get(PATH)
    before = _cache(api)
    api.services.models.serve_fallback("test: reloaded")  # a new state, loaded now
    api.get(PATH)
    assert _cache(api)["miss"] == before["miss"] + 1


def test_the_cache_can_be_switched_off(make_api):
    with make_api(answer_cache_size=0) as api:
        api.put("/v1/educators/T1", json={})
        first, second = (api.get(PATH).json() for _ in range(2))
        assert first["items"] == second["items"]
        assert _cache(api) == {"hit": 0.0, "miss": 0.0}


def test_unknown_educator_is_still_404(api):
    r = api.get("/v1/educators/NOPE/recommendations")
    assert r.status_code == 404 and r.json()["error"]["details"][0]["field"] == "educator_id"
    assert api.get("/v1/educators/T1/recommendations", who="other").status_code == 404
