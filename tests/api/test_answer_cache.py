"""Kept answers (api.answers): a repeated read is served from the store (or, for queries naming
``available``, the per-process cache), every worker reads what another computed, the default
query's answer is computed when the educator's data changes, and any write (through the API or
straight into the store, as another worker or the CLI would) changes the next answer."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import orjson
import pandas as pd
import pytest
import sqlalchemy as sa

from api.answers import DEFAULT_QUERY, AnswerQuery
from tests.api.conftest import record, running_api
from tests.pg import fresh_database

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


def _uncached(api, k=5, explain=False) -> dict:
    """The answer computed afresh from the store, kept nowhere."""
    services = api.services
    content = services.content.for_tenant("acme")
    state = services.serve("acme", content)
    rec = services.store.get_educator("acme", "T1")
    answer = services.answers.compute("acme", rec, AnswerQuery.of(k, None, explain, None,
                                                                  "platform"),
                                      state, pd.Timestamp.now(tz="UTC"))
    return {"items": orjson.loads(answer.items_json)}


def _seed(api):
    """Educator T1 with a goal and two evidence records."""
    api.put("/v1/educators/T1", json={"goals": ["INS.ELL"]})
    api.post("/v1/evidence", json={"records": [record(1, score=2), record(2, score=1,
                                                                    competency="INS.ELL")]})
    return api


@pytest.fixture
def seeded(api):
    return _seed(api)


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
    after = api.get(PATH).json()  # computed after the write (ahead of the read, or by it)
    assert after["items"] == _uncached(api)["items"]
    if write in ("feedback", "store_feedback"):
        assert top not in _ids(after)


def test_the_cache_can_be_switched_off(make_api):
    with make_api(answer_cache_size=0, stored_answers=False) as api:
        api.put("/v1/educators/T1", json={})
        first, second = (api.get(PATH).json() for _ in range(2))
        assert first["items"] == second["items"]
        assert _cache(api) == {"hit": 0.0, "miss": 0.0}


def test_unknown_educator_is_still_404(api):
    r = api.get("/v1/educators/NOPE/recommendations")
    assert r.status_code == 404 and r.json()["error"]["details"][0]["field"] == "educator_id"
    assert api.get("/v1/educators/T1/recommendations", who="other").status_code == 404


def _state(api):
    services = api.services
    return services.serve("acme", services.content.for_tenant("acme"))


def test_the_key_names_the_model_by_what_it_is_not_by_when_a_worker_loaded_it(seeded):
    api = seeded
    state = _state(api)
    key = DEFAULT_QUERY.key(state)
    assert DEFAULT_QUERY.key(replace(state, loaded_at=datetime(2020, 1, 1, tzinfo=UTC))) == key
    assert DEFAULT_QUERY.key(replace(state, name="lightgbm", version="7")) != key
    assert AnswerQuery(k=3).key(state) != key
    assert AnswerQuery.of(5, None, True, None, "coach").key(state) != AnswerQuery.of(
        5, None, True, None, "admin").key(state)  # explanations cite what the role may read


def test_another_worker_reads_the_answer_one_computed(seeded, tmp_path):
    api = seeded
    first = api.get(PATH, params={"k": 3}).json()
    url = api.services.settings.store_url()
    with running_api(tmp_path / "worker2", url) as other:  # a second process on the same store
        before = _cache(other)
        again = other.get(PATH, params={"k": 3}).json()
        assert _cache(other)["hit"] == before["hit"] + 1
        assert again["items"] == first["items"] and again["request_id"] != first["request_id"]


def test_the_default_answer_is_computed_when_the_data_changes(make_api):
    with make_api(mastery_refresh="on_write") as api:
        api.put("/v1/educators/T1", json={"goals": ["INS.ELL"]})
        r = api.post("/v1/evidence", json={"records": [record(1, score=2)]})
        assert r.json()["accepted"] == 1
        store, state = api.services.store, _state(api)
        version, kept = store.read_answer("acme", "T1", DEFAULT_QUERY.key(state))
        assert kept is not None and version[0] == store.get_educator("acme", "T1").data_version
        before = _cache(api)
        body = api.get(PATH).json()  # no parameters: the default query
        assert _cache(api)["hit"] == before["hit"] + 1
        assert body["items"] == orjson.loads(kept.items_json) == _uncached(api)["items"]
        api.services.audit.flush()
        log = store.recommendation_log("acme", "T1")
        assert log[log["request_id"] == body["request_id"]]["activity_id"].tolist() == _ids(body)


def test_an_educators_older_answers_are_deleted_when_a_new_one_is_kept(seeded):
    import sqlalchemy as sa

    api = seeded
    api.get(PATH, params={"k": 3})
    api.get(PATH, params={"k": 4})
    api.post("/v1/evidence", json={"records": [record(30, score=4, day=3)]})
    api.get(PATH, params={"k": 3})
    api.services.refresher.wait_idle(30)
    version = api.services.store.get_educator("acme", "T1").data_version
    with api.services.store.engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT data_version FROM served_answers "
                                    "WHERE educator_id = 'T1'")).scalars().all()
    assert kept and set(kept) == {version}


def test_an_answer_older_than_the_ttl_is_computed_again(make_api):
    with make_api(answer_cache_ttl=0.05) as api:
        api.put("/v1/educators/T1", json={})
        api.get(PATH, params={"k": 2})
        import time

        time.sleep(0.1)
        before = _cache(api)
        api.get(PATH, params={"k": 2})
        assert _cache(api)["miss"] == before["miss"] + 1


def test_queries_naming_available_stay_in_the_process(seeded):
    api = seeded
    acts = [i["activity_id"] for i in api.get(PATH, params={"k": 6}).json()["items"]][:3]
    first = api.get(PATH, params={"available": acts}).json()
    before = _cache(api)
    second = api.get(PATH, params={"available": list(reversed(acts))}).json()
    assert _cache(api)["hit"] == before["hit"] + 1 and second["items"] == first["items"]
    key = AnswerQuery.of(5, None, False, frozenset(acts), "platform").key(_state(api))
    assert api.services.store.read_answer("acme", "T1", key)[1] is None


def test_kept_answers_on_both_stores(api_any):
    api = api_any
    api.put("/v1/educators/T1", json={"goals": ["INS.ELL"]})
    api.post("/v1/evidence", json={"records": [record(1, score=2)]})
    first = api.get(PATH, params={"k": 3}).json()
    before = _cache(api)
    again = api.get(PATH, params={"k": 3}).json()
    assert _cache(api)["hit"] == before["hit"] + 1 and again["items"] == first["items"]
    api.post("/v1/feedback", json={"events": [
        {"educator_id": "T1", "activity_id": _ids(first)[0], "event": "declined"}]})
    after = api.get(PATH, params={"k": 3}).json()
    assert _ids(first)[0] not in _ids(after)
    api.services.audit.flush()
    log = api.services.store.recommendation_log("acme", "T1")
    assert set(log["request_id"]) >= {first["request_id"], again["request_id"],
                                      after["request_id"]}


def _loop_reads(api):
    """Reads of T1's default answer: ``(pooled, reads)``, where ``reads(n)`` runs ``n`` on an
    event loop; the answer is kept and nothing is computed behind earlier writes."""
    _seed(api).get(PATH)  # keeps the default answer
    services = api.services
    assert services.refresher.wait_idle(30)  # no answer computed behind earlier writes is due
    state = services.serve("acme", services.content.for_tenant("acme"))
    q = AnswerQuery.of(5, None, False, None, "platform")
    pooled = services.store.read_answer("acme", "T1", services.answers.key(q, state))
    assert pooled[1] is not None

    async def reads(n):
        return [await services.answers.lookup("acme", "T1", q, state) for _ in range(n)]

    return pooled, reads


def test_a_read_on_an_event_loop_keeps_one_connection_and_reads_what_the_pool_reads(api_any):
    """The event loop's thread reads kept answers on a connection of its own (no pool checkout,
    ping or reset per read), on both stores: the same rows as a pooled read, one connection
    however many reads, and a write seen by the next read (PostgreSQL's is in autocommit)."""
    import asyncio

    api = api_any
    pooled, reads = _loop_reads(api)
    select = api.services.store._answer_sql

    async def on_loop():
        first = await reads(3)
        held = select._loop_held.read.conn
        api.post("/v1/evidence", json={"records": [record(3, score=3)]})  # another thread writes
        after = await reads(1)
        assert select._loop_held.read.conn is held  # one connection for every read of this thread
        return first, after

    first, after = asyncio.run(on_loop())
    assert all(r == pooled for r in first), (pooled, first)
    (version, answer), = after
    assert version[0] > pooled[0][0]  # the write is seen at once: the newer data_version, and
    # no answer, or the one computed behind the write for that version (a race it may win)
    assert answer is None or answer.computed_us > pooled[1].computed_us


def test_a_kept_read_connection_the_server_drops_is_replaced(make_api):
    """PostgreSQL: when the server ends the loop's kept connection, the next read opens a new
    one and answers as before (what the pool's ping does for pooled connections); reads in
    flight together when it ends are all read again on one new connection."""
    import asyncio

    url, reason = fresh_database()
    if url is None:
        pytest.skip(f"PostgreSQL unavailable: {reason}")
    with make_api(url=url) as api:
        pooled, reads = _loop_reads(api)
        store = api.services.store
        select = store._answer_sql

        async def on_loop():
            await reads(1)
            dropped = select._loop_held.read.conn
            pid = dropped.dbapi_connection.info.backend_pid
            with store.engine.connect() as conn:
                conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            again = await reads(2)
            replaced = select._loop_held.read
            assert replaced.conn is not dropped
            # dropped again with reads in flight together: each is read again on one new
            # connection
            pid = replaced.conn.dbapi_connection.info.backend_pid
            with store.engine.connect() as conn:
                conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            together = await asyncio.gather(*(reads(1) for _ in range(6)))
            assert select._loop_held.read is not replaced and select._loop_held.read.lost is None
            return again + [r for rs in together for r in rs]

        assert asyncio.run(on_loop()) == [pooled] * 8


def test_a_worker_opens_its_loop_reads_at_start_up(tmp_path, monkeypatch):
    """Start-up opens the event loop's point-read connections (``Store.open_loop_reads``) once,
    before any request, on the loop that then serves the requests."""
    import asyncio

    from recommender.store import Store

    opened = []
    real = Store.open_loop_reads

    async def spy(self):
        opened.append(asyncio.get_running_loop())
        await real(self)

    monkeypatch.setattr(Store, "open_loop_reads", spy)
    with running_api(tmp_path) as api:
        assert len(opened) == 1
        served = []

        @api.client.app.get("/test-loop")
        async def which_loop():
            served.append(asyncio.get_running_loop())
            return {}

        assert api.client.get("/test-loop").status_code == 200
        assert served == opened
