"""``kill -9`` of the server while clients are writing evidence (issue 14): nothing acknowledged
is lost, nothing is stored or accepted twice.

A real ``pdrec serve`` process takes batches from a few client threads; it is killed with
SIGKILL in the middle of the run and started again, twice. Each client behaves as a platform
should: a batch whose request failed in transit is sent again, unchanged, once the server is
back. Every record answered ``accepted`` or ``duplicate`` is acknowledged: it must be in the
store afterwards, exactly as sent, and no id may be answered ``accepted`` twice (a batch that
was committed just before the kill is a ``duplicate`` when sent again). No answer may be a
server error. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

from recommender.store import open_store, schema
from tests.api.server import ServerProcess, store_url

CLIENTS = 4
BATCH = 100
KILLS = 2
RUN_BEFORE_KILL = 1.5  # seconds of writing before each kill, and after the last restart
COMPS = ["INS.FORMATIVE", "COG.ASSESS_LIT", "INS.ELL"]


def batch(client: int, n: int) -> list[dict]:
    return [{"evidence_id": f"k{client}-{n}-{i}", "educator_id": f"T{client}-{i % 7}",
             "competency_id": COMPS[i % len(COMPS)], "source": "observation",
             "score": 1 + (n + i) % 4, "observed_at": f"2025-04-{1 + i % 28:02d}T08:00:00Z"}
            for i in range(BATCH)]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_kill_9_during_concurrent_ingest_loses_and_duplicates_nothing(kind, tmp_path):
    server = ServerProcess(tmp_path, store_url(kind, tmp_path))
    key = server.create_key("acme")
    server.start()
    stop = threading.Event()
    acked: dict[str, dict] = {}
    accepted: Counter = Counter()
    server_errors: list[str] = []
    in_transit = Counter()  # requests cut by a kill, per client
    lock = threading.Lock()

    def client(c: int) -> None:
        headers = {"Authorization": f"Bearer {key}"}
        n = 0
        with httpx.Client(base_url=server.base, headers=headers, timeout=30) as http:
            while not stop.is_set():
                records = batch(c, n)
                while not stop.is_set():  # the same batch until the server answers it
                    try:
                        r = http.post("/v1/evidence", json={"records": records})
                    except httpx.TransportError:
                        with lock:
                            in_transit[c] += 1
                        time.sleep(0.1)
                        continue
                    with lock:
                        if r.status_code != 200:
                            server_errors.append(f"{r.status_code} {r.text[:200]}")
                            break
                        for o in r.json()["outcomes"]:
                            if o["status"] in ("accepted", "duplicate"):
                                acked[o["evidence_id"]] = records[o["index"]]
                            accepted[o["evidence_id"]] += o["status"] == "accepted"
                    break
                n += 1

    threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
    for t in threads:
        t.start()
    try:
        for _ in range(KILLS):
            time.sleep(RUN_BEFORE_KILL)
            server.kill()
            server.start()
        time.sleep(RUN_BEFORE_KILL)
    finally:
        stop.set()
        for t in threads:
            t.join()
        server.stop()

    assert server_errors == []
    assert sum(in_transit.values()) >= 1, "no request was cut: the kills missed the writes"
    store = open_store(server.url, run_migrations=False, pool_size=1)
    ev = schema.evidence
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(ev.c.evidence_id, ev.c.educator_id, ev.c.score,
                                      ev.c.observed_us).where(ev.c.tenant_id == "acme")).all()
    store.dispose()
    stored = {r[0]: (r[1], r[2], r[3]) for r in rows}
    assert len(stored) == len(rows)  # no id twice
    assert len(acked) > CLIENTS * BATCH * 3  # the run did write, before and after the kills
    lost = [e for e in acked if e not in stored]
    assert lost == [], f"{len(lost)} acknowledged records lost, e.g. {lost[:5]}"
    changed = [e for e, rec in acked.items() if stored[e] != (
        rec["educator_id"], float(rec["score"]),
        pd.Timestamp(rec["observed_at"]).value // 1000)]
    assert changed == []
    twice = [e for e, n in accepted.items() if n > 1]
    assert twice == [], f"{len(twice)} ids accepted twice, e.g. {twice[:5]}"
    print(f"\n{kind}: {KILLS} kills, {sum(in_transit.values())} requests cut, {len(acked)} "
          f"records acknowledged, {len(stored)} stored, 0 lost, 0 accepted twice")
