"""The store against SQLite and a real PostgreSQL server (skipped, with the reason, where none
can start): migrations, keys, tenancy, idempotent evidence, feedback, mastery, audit log."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from recommender.evidence import validate_evidence
from recommender.store import (
    Difference,
    EvidenceWrite,
    MasteryCell,
    StoredMastery,
    hash_key,
    open_store,
    schema,
)
from tests.pg import fresh_database

COMPS = ["INS.FORMATIVE", "COG.ASSESS_LIT"]


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'pdrec.db'}"
    else:
        url, reason = fresh_database()
        if url is None:
            pytest.skip(f"PostgreSQL unavailable: {reason}")
    s = open_store(url)
    yield s
    s.dispose()


def _valid(rows):
    return validate_evidence(rows, competencies=COMPS).valid


def _row(i, educator="T1", comp="INS.FORMATIVE", score=3, day=1):
    return {"evidence_id": f"e{i}", "educator_id": educator, "competency_id": comp,
            "source": "observation", "score": score, "observed_at": f"2024-03-{day:02d}T10:00:00Z"}


def test_migrations_create_every_table_and_are_idempotent(store):
    names = set(sa.inspect(store.engine).get_table_names())
    assert {t.name for t in schema.metadata.sorted_tables} <= names
    assert "alembic_version" in names
    again = open_store(store.engine.url.render_as_string(hide_password=False))
    assert again.ping()
    again.dispose()


def test_created_key_is_stored_only_as_its_hash(store):
    secret, record = store.create_key("acme", "coach", "tablet")
    assert secret.startswith(f"pdrec_{record.key_id}_")
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(schema.api_keys)).one()
    assert stored.key_hash == hash_key(secret) and secret not in tuple(map(str, stored))
    assert store.key_by_hash(hash_key(secret)).role == "coach"
    assert store.tenants() == ["acme"]


def test_revoked_key_is_inactive_and_revoke_is_tenant_scoped(store):
    _, record = store.create_key("acme", "platform")
    assert store.revoke_key(record.key_id, tenant_id="other") is None
    revoked = store.revoke_key(record.key_id, tenant_id="acme")
    assert revoked is not None and not revoked.active
    assert [k.key_id for k in store.list_keys("acme")] == [record.key_id]
    assert store.list_keys("other") == []


def test_create_key_rejects_unknown_role(store):
    with pytest.raises(ValueError, match="role must be one of"):
        store.create_key("acme", "root")


def test_an_educator_key_is_bound_to_an_existing_educator_and_only_it(store):
    store.ensure_tenant("acme")
    store.put_educator("acme", "T1", profile={}, goals=[])
    secret, record = store.create_key("acme", "educator", "T1's key", educator_id="T1")
    assert record.educator_id == "T1"
    assert store.key_by_hash(hash_key(secret)).educator_id == "T1"
    assert [k.educator_id for k in store.list_keys("acme")] == ["T1"]
    assert store.create_key("acme", "coach")[1].educator_id is None
    with pytest.raises(ValueError, match="educator: an educator key needs"):
        store.create_key("acme", "educator")
    with pytest.raises(ValueError, match="no educator 'T2' in tenant 'acme'"):
        store.create_key("acme", "educator", educator_id="T2")
    with pytest.raises(ValueError, match="no educator 'T1' in tenant 'other'"):
        store.create_key("other", "educator", educator_id="T1")
    with pytest.raises(ValueError, match="educator must be empty for a coach key"):
        store.create_key("acme", "coach", educator_id="T1")
    assert len(store.list_keys()) == 2


def test_ingest_is_idempotent_and_creates_educators_in_the_tenant(store):
    store.ensure_tenant("acme")
    valid = _valid([_row(1), _row(2, educator="T2")])
    write = store.ingest_evidence("acme", valid)
    assert write == EvidenceWrite({"e1", "e2"}, set(), {}, ["T1", "T2"])
    write = store.ingest_evidence("acme", valid)
    assert write == EvidenceWrite(set(), {"e1", "e2"}, {}, [])
    assert store.count_evidence("acme") == 2
    assert store.get_educator("acme", "T1").data_version == 1
    assert store.get_educator("other", "T1") is None


def test_an_id_sent_again_with_other_content_is_a_conflict_naming_each_difference(store):
    store.ensure_tenant("acme")
    store.ingest_evidence("acme", _valid([_row(1), _row(2)]))
    changed = _valid([_row(1, score=4, day=2), _row(2), _row(3, educator="NEW")])
    write = store.ingest_evidence("acme", changed)
    assert write.accepted == {"e3"} and write.duplicates == {"e2"}
    assert write.conflicts == {"e1": [
        Difference("score", 3.0, 4.0),
        Difference("observed_at", pd.Timestamp("2024-03-01T10:00:00Z"),
                   pd.Timestamp("2024-03-02T10:00:00Z"))]}
    assert store.evidence_frame("acme", ["T1"])["observed_at"].min().day == 1  # unchanged
    assert store.compare_evidence("acme", changed[changed["evidence_id"] != "e3"]) == {
        "e1": write.conflicts["e1"], "e2": []}


def test_no_educator_is_created_for_a_record_that_was_not_stored(store):
    store.ensure_tenant("acme")
    store.ingest_evidence("acme", _valid([_row(1)]))
    write = store.ingest_evidence("acme", _valid([_row(1, educator="GHOST")]))
    assert list(write.conflicts) == ["e1"] and write.educators == []
    assert store.get_educator("acme", "GHOST") is None
    assert store.get_educator("acme", "T1").data_version == 1


def test_same_evidence_id_in_two_tenants_is_two_records(store):
    for tenant in ("acme", "other"):
        store.ensure_tenant(tenant)
        store.ingest_evidence(tenant, _valid([_row(1)]))
    assert store.count_evidence("acme") == store.count_evidence("other") == 1


def test_failed_ingest_transaction_writes_nothing(store, monkeypatch):
    import recommender.store.evidence as evidence_module

    store.ensure_tenant("acme")
    real = evidence_module._evidence_rows

    def broken(*args):
        rows = real(*args)
        rows[-1]["score"] = None  # NOT NULL violation on the last row
        return rows

    monkeypatch.setattr(evidence_module, "_evidence_rows", broken)
    with pytest.raises(sa.exc.IntegrityError):
        store.ingest_evidence("acme", _valid([_row(1), _row(2)]))
    assert store.count_evidence("acme") == 0
    assert store.get_educator("acme", "T1") is None


def test_evidence_frame_round_trips_the_feature_columns(store):
    store.ensure_tenant("acme")
    valid = _valid([_row(1, score=4), _row(2, comp="COG.ASSESS_LIT", score=1, day=2)])
    store.ingest_evidence("acme", valid)
    frame = store.evidence_frame("acme", ["T1"]).sort_values("evidence_id", ignore_index=True)
    assert frame["evidence_id"].tolist() == ["e1", "e2"]
    assert frame["proficient"].tolist() == [True, False]
    assert frame["observed_at"].tolist() == [pd.Timestamp("2024-03-01T10:00:00Z"),
                                             pd.Timestamp("2024-03-02T10:00:00Z")]
    assert str(frame["observed_at"].dtype) == "datetime64[us, UTC]"


def test_feedback_bumps_data_version_and_comes_back_in_order(store):
    store.ensure_tenant("acme")
    store.put_educator("acme", "T1", profile={"role": "coach"}, goals=["INS.FORMATIVE"])
    t0 = datetime(2024, 3, 1, tzinfo=UTC)
    store.add_feedback("acme", [
        {"educator_id": "T1", "activity_id": "ACT-002", "event": "completed",
         "at": t0.replace(day=3)},
        {"educator_id": "T1", "activity_id": "ACT-001", "event": "started", "at": t0},
    ])
    rows = store.feedback_rows("acme", ["T1"])
    assert [r["activity_id"] for r in rows] == ["ACT-001", "ACT-002"]
    assert rows[0]["at"] == t0
    assert store.get_educator("acme", "T1").data_version == 1
    assert store.feedback_rows("other", ["T1"]) == []


def test_put_educator_creates_then_replaces(store):
    store.ensure_tenant("acme")
    rec, created = store.put_educator("acme", "T1", profile={"role": "x"}, goals=["a"])
    assert created and rec.goals == ["a"] and rec.data_version == 0
    rec, created = store.put_educator("acme", "T1", profile={}, goals=[])
    assert not created and rec.goals == [] and rec.data_version == 1


def test_mastery_upsert_keeps_the_newest_data_version(store):
    store.ensure_tenant("acme")
    store.put_educator("acme", "T1", profile={}, goals=[])
    now = datetime.now(UTC)
    new = StoredMastery("graph-rule", 5, now, None, {"INS.FORMATIVE": MasteryCell(0.8, 3, 0.6)})
    old = StoredMastery("graph-rule", 4, now, None, {"INS.FORMATIVE": MasteryCell(0.1, 1, 0.0)})
    store.put_mastery("acme", {"T1": new})
    store.put_mastery("acme", {"T1": old})
    got = store.get_mastery("acme", ["T1"])["T1"]
    assert got.data_version == 5 and got.table == {"INS.FORMATIVE": (0.8, 3, 0.6)}
    assert store.get_mastery("other", ["T1"]) == {}


def test_recommendation_log_is_one_insert_per_request(store):
    store.ensure_tenant("acme")
    now = datetime.now(UTC)
    store.log_recommendations([
        {"tenant_id": "acme", "request_id": "r1", "educator_id": "T1", "kind": "recommend",
         "rank": i, "activity_id": f"ACT-00{i}", "score": 1.0 / i, "model_name": "graph-rule",
         "model_version": None, "key_id": "k", "shown_at": now} for i in (1, 2)])
    log = store.recommendation_log("acme", "T1")
    assert log["rank"].tolist() == [1, 2] and set(log["model_name"]) == {"graph-rule"}
    assert store.recommendation_log("other").empty


def test_recommendation_log_keeps_propensities_after_migration_0003(store):
    columns = {c["name"] for c in sa.inspect(store.engine).get_columns("recommendation_lists")}
    assert columns == {c.name for c in schema.recommendation_lists.columns}
    store.ensure_tenant("acme")
    row = {"tenant_id": "acme", "request_id": "r1", "educator_id": "T1", "kind": "recommend",
           "rank": 1, "activity_id": "ACT-002", "score": 0.5, "model_name": "graph-rule",
           "model_version": None, "key_id": "k", "shown_at": datetime.now(UTC)}
    store.log_recommendations([row | {"propensity": 0.25, "policy": "softmax(t=0.1)",
                                      "ranker_rank": 2}])
    store.log_recommendations([row])  # a writer that does not know the columns: NULL
    log = store.recommendation_log("acme", "T1")
    assert log["propensity"].iloc[0] == 0.25 and log["ranker_rank"].iloc[0] == 2
    assert log["policy"].tolist()[0] == "softmax(t=0.1)" and pd.isna(log["propensity"].iloc[1])


def test_educator_version_is_a_point_read_that_moves_with_every_write(store):
    assert store.educator_version("acme", "T1") is None
    store.ensure_tenant("acme")
    rec, _ = store.put_educator("acme", "T1", profile={}, goals=[])
    v0 = store.educator_version("acme", "T1")
    assert v0[0] == rec.data_version == 0
    store.ingest_evidence("acme", _valid([_row(1)]))
    store.add_feedback("acme", [{"educator_id": "T1", "activity_id": "ACT-001",
                                 "event": "accepted", "at": datetime.now(UTC)}])
    store.put_educator("acme", "T1", profile={"role": "teacher"}, goals=[])
    v3 = store.educator_version("acme", "T1")
    assert v3[0] == 3 and v3[1] == v0[1]  # same educator (stamp), three writes later
    assert store.educator_version("other", "T1") is None  # tenant-scoped


def test_a_compiled_select_on_an_event_loop_reads_what_a_pooled_read_reads(store):
    """CompiledSelect.first_on_loop (the API's read, on the loop's own connection; libpq's
    pipeline on PostgreSQL): the same row as a pooled read, None without one, the same value
    for a parameter named twice, and on PostgreSQL a value the server refuses raises the driver's
    error for it, with the server's message (the connection is kept: the next read works)."""
    import asyncio

    from recommender.store.point_reads import CompiledSelect

    store.create_key("acme", "platform")
    keys = schema.api_keys
    named = CompiledSelect(store.engine, sa.select(keys.c.tenant_id, keys.c.role).where(
        (keys.c.tenant_id == sa.bindparam("t")) & (keys.c.role != sa.bindparam("t"))))
    bad = CompiledSelect(store.engine, sa.select(sa.cast(sa.bindparam("n"), sa.Integer)))
    pooled = named.first({"t": "acme"})

    async def on_loop():
        found = await named.first_on_loop({"t": "acme"})
        none = await named.first_on_loop({"t": "nobody"})
        if store.dialect == "postgresql":  # SQLite casts any text to an integer
            with pytest.raises(store.engine.dialect.loaded_dbapi.DataError,
                               match="invalid input syntax for type integer"):
                await bad.first_on_loop({"n": "not a number"})
        return found, none, await bad.first_on_loop({"n": "12"})

    assert pooled == ("acme", "platform")
    assert asyncio.run(on_loop()) == (pooled, None, (12,))


def test_loop_reads_opened_at_start_up_serve_the_first_reads(store):
    """``Store.open_loop_reads`` opens the loop's read connections (one per point read); the
    reads that follow on that loop use them and connect to nothing."""
    import asyncio

    store.ensure_tenant("acme")
    store.put_educator("acme", "T1", profile={}, goals=[])
    connects = []
    sa.event.listen(store.engine, "connect", lambda *_: connects.append(1))
    store.engine.dispose()  # the pool's idle connections: every connection from here is new

    async def on_loop():
        await store.open_loop_reads()
        opened = len(connects)
        version = await store.educator_version_on_loop("acme", "T1")
        answer = await store.read_answer_on_loop("acme", "T1", "q")
        return opened, version, answer

    opened, version, answer = asyncio.run(on_loop())
    assert opened == 2 and len(connects) == 2
    assert version == store.educator_version("acme", "T1") and answer == (version, None)


def test_reads_in_flight_together_each_get_their_own_row(store):
    """Many reads awaited at once on the loop's one connection (PostgreSQL sends them all
    before the first answer arrives) each get their own row, in any mix of rows, no row and a
    refused value; a refused read fails alone."""
    import asyncio

    from recommender.store.point_reads import CompiledSelect

    echo = CompiledSelect(store.engine, sa.select(sa.cast(sa.bindparam("n"), sa.Integer),
                                                  sa.bindparam("s", type_=sa.String)))
    values = [str(i) if i % 7 else "oops" for i in range(60)]

    async def on_loop():
        return await asyncio.gather(*(echo.first_on_loop({"n": v, "s": f"row {i}"})
                                      for i, v in enumerate(values)), return_exceptions=True)

    got = asyncio.run(on_loop())
    for i, (v, row) in enumerate(zip(values, got, strict=True)):
        if v != "oops":
            assert row == (int(v), f"row {i}")
        elif store.dialect == "postgresql":
            assert isinstance(row, store.engine.dialect.loaded_dbapi.DataError), row
        else:  # SQLite casts any text to an integer
            assert row == (0, f"row {i}")


def test_a_postgresql_read_on_the_loop_lets_the_loop_run_meanwhile(store):
    """While the server works on a read, the loop runs other tasks: a ticker ticks during a
    read that takes the server 0.3 s (a blocking read would hold the loop for all of it)."""
    import asyncio

    from recommender.store.point_reads import CompiledSelect

    if store.dialect != "postgresql":
        pytest.skip("SQLite reads a local file: there is no server to wait for")
    slow = CompiledSelect(store.engine, sa.select(
        sa.func.pg_sleep(sa.bindparam("s", type_=sa.Float)).cast(sa.String)))
    ticks = []

    async def ticker():
        while True:
            ticks.append(asyncio.get_running_loop().time())
            await asyncio.sleep(0.01)

    async def on_loop():
        await slow.first_on_loop({"s": 0})  # the connection is open before the clock starts
        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        before = len(ticks)
        row = await slow.first_on_loop({"s": 0.3})
        task.cancel()
        return row, len(ticks) - before

    row, during = asyncio.run(on_loop())
    assert row == ("",)
    assert during >= 5, during  # about 30 ticks of 10 ms; none at all if the read blocked


def test_a_select_the_server_cannot_prepare_raises_and_keeps_no_connection(store):
    """PostgreSQL prepares the statement when the loop's connection opens: a statement it
    refuses (here, a table that does not exist) raises the driver's error, and no half-made
    connection is kept for the next read."""
    import asyncio

    from recommender.store.point_reads import CompiledSelect

    if store.dialect != "postgresql":
        pytest.skip("SQLite prepares nothing ahead of the read")
    missing = sa.table("no_such_table", sa.column("x"))
    read = CompiledSelect(store.engine, sa.select(missing.c.x).where(
        missing.c.x == sa.bindparam("x")))

    async def on_loop():
        with pytest.raises(store.engine.dialect.loaded_dbapi.ProgrammingError,
                           match="no_such_table"):
            await read.first_on_loop({"x": 1})
        return read._loop_held.read

    assert asyncio.run(on_loop()) is None


def test_a_read_whose_request_went_away_leaves_the_next_reads_right(store):
    """A read cancelled while the server works on it (the client hung up) is dropped when its
    answer comes; the reads sent after it get their own rows on the same connection."""
    import asyncio

    from recommender.store.point_reads import CompiledSelect

    if store.dialect != "postgresql":
        pytest.skip("SQLite reads are never in flight: there is nothing to cancel")
    read = CompiledSelect(store.engine, sa.select(
        sa.func.pg_sleep(sa.bindparam("s", type_=sa.Float)).cast(sa.String),
        sa.bindparam("n", type_=sa.Integer)))

    async def on_loop():
        slow = asyncio.create_task(read.first_on_loop({"s": 0.2, "n": 0}))
        await asyncio.sleep(0.05)
        slow.cancel()
        after = await asyncio.gather(*(read.first_on_loop({"s": 0, "n": n}) for n in (1, 2)))
        kept = read._loop_held.read
        return slow.cancelled(), after, kept.lost, len(kept.waiting)

    assert asyncio.run(on_loop()) == (True, [("", 1), ("", 2)], None, 0)
