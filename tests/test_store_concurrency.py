"""The store's write paths under concurrent writers (issue 14, item 3).

On PostgreSQL, races are staged deterministically: another connection holds a row or a lock in
an open transaction while the store writes in a thread, and the test waits until the store's
statement is blocked on it (``pg_stat_activity``) before letting go. Eight writers with their
own engines then check the whole contract at once, on both stores.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from recommender.evidence import validate_evidence
from recommender.store import open_store, schema
from tests.pg import fresh_database

COMPS = ["INS.FORMATIVE", "COG.ASSESS_LIT"]


@pytest.fixture
def pg_url():
    url, reason = fresh_database()
    if url is None:
        pytest.skip(f"PostgreSQL unavailable: {reason}")
    return url


@pytest.fixture
def pg(pg_url):
    store = open_store(pg_url)
    store.ensure_tenant("acme")
    yield store
    store.dispose()


def _valid(rows):
    return validate_evidence(rows, competencies=COMPS).valid


def _row(i, educator="T1", score=3, day=1):
    return {"evidence_id": f"e{i}", "educator_id": educator, "competency_id": "INS.FORMATIVE",
            "source": "observation", "score": score, "observed_at": f"2024-03-{day:02d}T10:00:00Z"}


def _blocked(store, n: int = 1, timeout: float = 20.0) -> bool:
    """True once ``n`` sessions of the store's database wait for a lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with store.engine.connect() as conn:
            if conn.execute(sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()")).scalar_one() >= n:
                return True
        time.sleep(0.02)
    return False


def _in_thread(fn, *args, **kw) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def run():
        try:
            out["result"] = fn(*args, **kw)
        except Exception as exc:  # noqa: BLE001 - handed to the test's assertions
            out["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def _stage_evidence(conn, evidence_id: str, score: float) -> None:
    """Insert a stored record for educator T1 on ``conn`` (its transaction left open)."""
    conn.execute(schema.evidence.insert().values(
        tenant_id="acme", evidence_id=evidence_id, educator_id="T1",
        competency_id="INS.FORMATIVE", source="observation", score=score, scale_min=1.0,
        scale_max=4.0, score_norm=(score - 1) / 3, proficient=score >= 3,
        observed_us=1709287200000000, ingested_us=0))  # 2024-03-01T10:00:00Z


@pytest.mark.parametrize("score,expected", [(3, "duplicates"), (4, "conflicts")])
def test_a_writer_that_loses_the_race_for_an_id_hears_duplicate_or_conflict(pg, score, expected):
    pg.put_educator("acme", "T1", profile={}, goals=[])
    other = pg.engine.connect()
    tx = other.begin()
    _stage_evidence(other, "e1", 3.0)  # stored by another writer, not yet committed
    thread, out = _in_thread(pg.ingest_evidence, "acme", _valid([_row(1, score=score)]))
    assert _blocked(pg), "the insert did not wait for the other writer"
    tx.commit()
    other.close()
    thread.join()
    write = out["result"]
    assert write.accepted == set() and write.educators == []
    assert set(getattr(write, expected)) == {"e1"}
    assert pg.get_educator("acme", "T1").data_version == 0  # nothing of this batch stored


def test_put_educator_racing_a_writer_creating_the_same_educator_replaces_it(pg):
    other = pg.engine.connect()
    tx = other.begin()
    other.execute(schema.educators.insert().values(
        tenant_id="acme", educator_id="T9", profile="{}", goals="[]", data_version=0,
        created_at=sa.func.now(), updated_at=sa.func.now()))
    thread, out = _in_thread(pg.put_educator, "acme", "T9", profile={"role": "coach"}, goals=[])
    assert _blocked(pg)
    tx.commit()
    other.close()
    thread.join()
    assert "error" not in out, out.get("error")
    record, created = out["result"]
    assert not created and record.profile == {"role": "coach"} and record.data_version == 1


def _write_three(store, path):
    if path == "evidence":
        return store.ingest_evidence("acme", _valid([_row(i, f"T{i}") for i in (1, 2, 3)]))
    return store.add_feedback("acme", [
        {"educator_id": f"T{i}", "activity_id": "ACT-001", "event": "accepted",
         "at": datetime.now(UTC)} for i in (3, 1, 2)])


@pytest.mark.parametrize("path", ["evidence", "feedback"])
def test_writers_lock_educators_in_id_order(pg, path):
    for e in ("T3", "T2", "T1"):  # created in reverse: a heap scan meets them in that order
        pg.put_educator("acme", e, profile={}, goals=[])
    with pg.engine.begin() as conn:
        conn.execute(sa.text("ANALYZE educators"))  # a three-row table: the planner scans it
    holder = pg.engine.connect()
    held = holder.begin()
    holder.execute(sa.text("SELECT 1 FROM educators WHERE educator_id = 'T2' FOR NO KEY UPDATE"))
    thread, out = _in_thread(_write_three, pg, path)
    assert _blocked(pg)
    locked = {}
    with pg.engine.connect() as probe:
        for e in ("T1", "T3"):
            try:
                with probe.begin():
                    probe.execute(sa.text("SELECT 1 FROM educators WHERE educator_id = :e "
                                          "FOR NO KEY UPDATE NOWAIT"), {"e": e})
                locked[e] = False
            except sa.exc.OperationalError:
                locked[e] = True
    held.rollback()
    holder.close()
    thread.join()
    assert locked == {"T1": True, "T3": False}, "locks not taken in educator id order"
    assert "error" not in out, out.get("error")
    assert [pg.get_educator("acme", f"T{i}").data_version for i in (1, 2, 3)] == [1, 1, 1]


def test_a_batch_chosen_as_deadlock_victim_is_retried_not_lost(pg, pg_url):
    with pg.engine.connect() as conn:  # detect quickly in the store's sessions only
        name = conn.execute(sa.text("SELECT current_database()")).scalar_one()
        conn.execute(sa.text(f'ALTER DATABASE "{name}" SET deadlock_timeout = \'50ms\''))
        conn.commit()
    store = open_store(pg_url, run_migrations=False)
    for e in ("T1", "T2"):
        store.put_educator("acme", e, profile={}, goals=[])
    other = store.engine.connect()
    tx = other.begin()
    other.execute(sa.text("SET LOCAL deadlock_timeout = '10s'"))
    other.execute(sa.text("SELECT 1 FROM educators WHERE educator_id = 'T2' FOR NO KEY UPDATE"))
    thread, out = _in_thread(store.ingest_evidence, "acme",
                             _valid([_row(1, "T1"), _row(2, "T2")]))
    assert _blocked(store)  # the store holds T1 and waits for T2
    # T1 next: a cycle. The store's session (50 ms) is the one PostgreSQL aborts, so this lock
    # is granted (had the store kept T1, this session would fail as the victim after 10 s)
    started = time.monotonic()
    other.execute(sa.text("SELECT 1 FROM educators WHERE educator_id = 'T1' FOR NO KEY UPDATE"))
    assert time.monotonic() - started < 5
    tx.rollback()
    other.close()
    thread.join()
    assert "error" not in out, out.get("error")
    assert out["result"].accepted == {"e1", "e2"}
    assert store.count_evidence("acme") == 2
    assert [store.get_educator("acme", e).data_version for e in ("T1", "T2")] == [1, 1]
    store.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_eight_writers_of_the_same_ids_each_id_accepted_once_and_every_answer_true(
        kind, tmp_path):
    url = f"sqlite:///{tmp_path / 'pdrec.db'}" if kind == "sqlite" else fresh_database()[0]
    if url is None:
        pytest.skip(f"PostgreSQL unavailable: {fresh_database()[1]}")
    setup = open_store(url)
    setup.ensure_tenant("acme")
    setup.dispose()
    n_ids, writers = 300, 8

    def sent(i, w):  # every 4th id: another score per writer pair, and every 8th a new educator
        score = 1 + (w // 2) % 4 if i % 4 == 0 else 1 + i % 4
        educator = f"W{w // 2}" if i % 8 == 0 else f"T{i % 10}"
        return _row(i, educator=educator, score=score, day=1 + i % 28)

    answers, bumps, errors = [], Counter(), []
    start = threading.Barrier(writers)

    def writer(w):
        store = open_store(url, run_migrations=False, pool_size=1)
        order = list(range(n_ids))
        random.Random(w).shuffle(order)
        start.wait()
        for b in range(0, n_ids, 20):
            rows = [sent(i, w) for i in order[b:b + 20]]
            try:
                write = store.ingest_evidence("acme", _valid(rows))
            except Exception as exc:  # noqa: BLE001 - counted: the goal is none
                errors.append(repr(exc)[:300])
                continue
            answers.extend((w, r["evidence_id"], r["score"], r["educator_id"],
                            "accepted" if r["evidence_id"] in write.accepted else
                            "duplicate" if r["evidence_id"] in write.duplicates else
                            "conflict" if r["evidence_id"] in write.conflicts else "?")
                           for r in rows)
            bumps.update(write.educators)
        store.dispose()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = open_store(url, run_migrations=False)
    ev, ed = schema.evidence, schema.educators
    with store.engine.connect() as conn:
        stored = {r[0]: (r[1], r[2]) for r in conn.execute(
            sa.select(ev.c.evidence_id, ev.c.score, ev.c.educator_id))}
        versions = dict(conn.execute(sa.select(ed.c.educator_id, ed.c.data_version)).all())
    store.dispose()
    assert len(stored) == n_ids and len(answers) == n_ids * writers
    accepted = Counter(a[1] for a in answers if a[4] == "accepted")
    assert sorted(accepted.values()) == [1] * n_ids
    wrong = [a for a in answers
             if (a[4] == "conflict") == (stored[a[1]] == (float(a[2]), a[3]))]
    assert wrong == []
    assert versions == dict(bumps)  # one bump per stored batch; no educator without evidence
