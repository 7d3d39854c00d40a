"""The recommendation log written behind the request: complete after a flush and at shutdown,
synchronous when asked, kept and retried when a write fails, and never allowed to grow unbounded."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest
import sqlalchemy as sa

from api.audit import AuditLog
from recommender.store import open_store
from tests.pg import fresh_database


def _rows(n, start=0):
    now = datetime.now(UTC)
    return [{"tenant_id": "acme", "request_id": f"r{i}", "educator_id": "T1", "kind": "recommend",
             "rank": 1, "activity_id": f"ACT-{i:03d}", "score": 0.5, "model_name": "graph-rule",
             "model_version": None, "key_id": "k", "shown_at": now}
            for i in range(start, start + n)]


class FlakyStore:
    """Records what it is asked to write; fails the first ``failures`` times."""

    def __init__(self, failures=0):
        self.failures = failures
        self.written: list[dict] = []

    def log_recommendations(self, rows):
        if self.failures:
            self.failures -= 1
            raise RuntimeError("database unavailable")
        self.written.extend(rows)

    # the store is its own batch writer here (AuditLog writes batches through one)
    write = log_recommendations
    closed = False

    def recommendation_log_writer(self):
        return self

    def close(self):
        self.closed = True


def test_every_answer_is_in_the_log_after_a_graceful_shutdown(make_api, tmp_path):
    with make_api(audit_flush_seconds=60) as api:  # no timed flush during the test
        api.put("/v1/educators/T1", json={})
        ids = [api.get("/v1/educators/T1/recommendations", params={"k": 2}).json()["request_id"]
               for _ in range(3)]
        assert api.services.audit.pending == 6
        store = api.services.store
        assert store.recommendation_log("acme", "T1").empty  # not written yet
        url = store.engine.url.render_as_string(hide_password=False)
    # the lifespan ended: AuditLog.close() flushed before the store was closed
    reopened = open_store(url, run_migrations=False)
    try:
        log = reopened.recommendation_log("acme", "T1")
    finally:
        reopened.dispose()
    assert sorted(set(log["request_id"])) == sorted(ids) and len(log) == 6


def test_the_background_thread_flushes_on_its_interval(make_api):
    with make_api(audit_flush_seconds=0.05) as api:
        api.put("/v1/educators/T1", json={})
        rid = api.get("/v1/educators/T1/recommendations").json()["request_id"]
        deadline = time.monotonic() + 5
        while api.services.audit.pending and time.monotonic() < deadline:
            time.sleep(0.02)
        log = api.services.store.recommendation_log("acme", "T1")
        assert rid in set(log["request_id"])


def test_flush_seconds_zero_writes_in_the_request(make_api):
    with make_api(audit_flush_seconds=0) as api:
        api.put("/v1/educators/T1", json={})
        rid = api.get("/v1/educators/T1/pathway", params={"goal": "INS.ELL"}).json()["request_id"]
        assert api.services.audit.pending == 0
        assert set(api.services.store.recommendation_log("acme", "T1")["request_id"]) == {rid}


def test_a_failed_write_keeps_the_rows_in_order_for_the_next_flush():
    store = FlakyStore(failures=1)
    log = AuditLog(store, flush_seconds=3600)
    try:
        log.record(_rows(2))
        with pytest.raises(RuntimeError):
            log.flush()
        log.record(_rows(1, start=2))
        assert log.pending == 3 and store.written == []
        assert log.flush() == 3
        assert [r["request_id"] for r in store.written] == ["r0", "r1", "r2"]
    finally:
        log.close()
    assert store.closed  # the batches' writer is closed with the log


def test_too_many_pending_rows_are_written_by_the_request_itself():
    store = FlakyStore()
    log = AuditLog(store, flush_seconds=3600, max_pending=3)
    try:
        log.record(_rows(2))
        assert log.pending == 2 and store.written == []
        log.record(_rows(2, start=2))  # 4 >= 3: written now, in the caller
        assert log.pending == 0 and len(store.written) == 4
    finally:
        log.close()


def test_when_the_database_stays_down_requests_fail_rather_than_go_unlogged():
    store = FlakyStore(failures=10)
    log = AuditLog(store, flush_seconds=3600, max_pending=2)
    try:
        log.record(_rows(1))
        with pytest.raises(RuntimeError):
            log.record(_rows(1, start=1))
        assert log.pending == 2  # nothing dropped
    finally:
        store.failures = 0
        log.close()
    assert [r["request_id"] for r in store.written] == ["r0", "r1"]


def _log_store(kind: str, tmp_path):
    if kind == "sqlite":
        return open_store(f"sqlite:///{tmp_path / 'log.db'}")
    url, reason = fresh_database()
    if url is None:
        pytest.skip(f"PostgreSQL unavailable: {reason}")
    return open_store(url)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_rows_missing_columns_are_logged_with_nulls_and_values_as_given(kind, tmp_path):
    """The log insert (CompiledInsert: executemany on SQLite, COPY on PostgreSQL) takes each
    row's values in one call; a row without some columns gets NULLs there, and rows of both
    kinds keep their values."""
    store = _log_store(kind, tmp_path)
    try:
        short = _rows(2)
        # a time at another offset is kept as the same instant (COPY sends times as text)
        east = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=5.5)))
        full = [{**r, "request_id": "full", "propensity": 0.25, "policy": "epsilon",
                 "ranker_rank": 2, "evidence_policy": "v1", "shown_at": east}
                for r in _rows(1, start=5)]
        store.log_recommendations(short + full)
        log = store.recommendation_log("acme", "T1").set_index("request_id")
    finally:
        store.dispose()
    assert log.loc[["r0", "r1"], ["propensity", "policy", "ranker_rank",
                                  "evidence_policy"]].isna().all(axis=None)  # NULLs
    assert (log.loc["full", "propensity"], log.loc["full", "policy"],
            log.loc["full", "ranker_rank"], log.loc["full", "evidence_policy"]) == (
        0.25, "epsilon", 2, "v1")
    assert log["score"].tolist() == [0.5] * 3 and log["activity_id"].tolist() == [
        "ACT-000", "ACT-001", "ACT-005"]
    shown = log["shown_at"].map(_utc)
    assert shown["r0"] == pd.Timestamp(short[0]["shown_at"])
    if kind == "postgresql":  # SQLite keeps a time's wall clock (the API logs UTC times)
        assert shown["full"] == pd.Timestamp("2026-03-01 04:00:15.123456", tz="UTC")


def _utc(ts) -> pd.Timestamp:
    """A logged time in UTC: SQLite gives it back naive (UTC), PostgreSQL aware."""
    ts = pd.Timestamp(ts)
    return ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_batch_with_a_bad_row_is_refused_whole_with_the_database_error(kind, tmp_path):
    """A row the table refuses (no tenant: NOT NULL) fails its flush with SQLAlchemy's error,
    naming the statement, and none of that batch's rows is written (the AuditLog keeps them
    pending and retries: tested above)."""
    store = _log_store(kind, tmp_path)
    try:
        with pytest.raises(sa.exc.DBAPIError, match="recommendation_lists"):
            store.log_recommendations(_rows(2) + [{**_rows(1, start=2)[0], "tenant_id": None}])
        assert store.recommendation_log("acme").empty
    finally:
        store.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_log_writer_writes_batches_on_one_connection_and_recovers_from_a_lost_one(
        kind, tmp_path):
    """The batches' writer (the API's log thread): every row of the batches it wrote is in the
    log once; on PostgreSQL its batches share one connection in autocommit mode, a batch the
    table refuses writes nothing and the next one goes on a new connection, and when the server
    ends the connection the next batch fails (the log keeps its rows) and the one after writes."""
    store = _log_store(kind, tmp_path)
    writer = store.recommendation_log_writer()
    try:
        writer.write(_rows(2))
        writer.write(_rows(1, start=2))
        with pytest.raises(sa.exc.DBAPIError, match="recommendation_lists"):
            writer.write(_rows(1, start=3) + [{**_rows(1, start=4)[0], "tenant_id": None}])
        if kind == "postgresql":
            assert writer._conn is None  # closed after the refused batch
            writer.write(_rows(1, start=5))
            first = writer._conn
            writer.write(_rows(1, start=6))
            assert writer._conn is first and first.dbapi_connection.autocommit
            with store.engine.connect() as conn:
                conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"),
                             {"pid": first.dbapi_connection.info.backend_pid})
            with pytest.raises(sa.exc.DBAPIError):
                writer.write(_rows(1, start=7))
            assert writer._conn is None  # dropped: the next batch opens a new one
        writer.write(_rows(1, start=7))
        logged = store.recommendation_log("acme")["request_id"].tolist()
    finally:
        writer.close()
        store.dispose()
    assert logged == ["r0", "r1", "r2"] + (["r5", "r6"] if kind == "postgresql" else []) + ["r7"]
