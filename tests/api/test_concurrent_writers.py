"""Eight clients posting the same evidence ids at once to the real server (issue 14, item 3).

Each writer posts the same 300 ids in its own order, in batches of 25, all starting together.
Every fifth id carries content that differs between pairs of writers (another score; every
tenth also another, new educator), so the same id arrives with the same content from some
writers and with other content from others. What the store ends up holding decides what every
answer must have said: exactly one ``accepted`` per id, ``duplicate`` only for content equal to
the stored record, ``conflict`` exactly where it differs, and no server error. Educators are
bumped once per batch that stored their evidence, and none is created for a record that was not
stored. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

from recommender.store import open_store, schema
from tests.api.server import ServerProcess, store_url

WRITERS = 8
IDS = 300
BATCH = 25
COMPS = ["INS.FORMATIVE", "COG.ASSESS_LIT", "INS.ELL", "REL.COLLABORATION"]
FIELDS = ("educator_id", "competency_id", "source", "score", "observed_us")


def sent_record(i: int, writer: int) -> dict:
    """What ``writer`` sends under id ``c<i>``: equal for all writers unless ``i % 5 == 0``."""
    rec = {"evidence_id": f"c{i:04d}", "educator_id": f"T{i % 12:02d}",
           "competency_id": COMPS[i % len(COMPS)], "source": "observation",
           "score": 1 + i % 4, "observed_at": f"2025-03-{1 + i % 28:02d}T10:00:00Z"}
    if i % 5 == 0:  # writers 2k and 2k+1 agree; the pairs differ from each other
        rec["score"] = 1 + (writer // 2) % 4
    if i % 10 == 0:
        rec["educator_id"] = f"W{writer // 2}"
    return rec


def content(rec: dict) -> tuple:
    """The comparable content of a sent record, in :data:`FIELDS` order."""
    observed_us = pd.Timestamp(rec["observed_at"]).value // 1000
    return (rec["educator_id"], rec["competency_id"], rec["source"], float(rec["score"]),
            observed_us)


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request, tmp_path):
    srv = ServerProcess(tmp_path, store_url(request.param, tmp_path))
    srv.key = srv.create_key("acme")
    srv.start()
    yield srv
    srv.stop()


def test_concurrent_writers_of_the_same_ids_each_hear_the_truth(server):
    start = threading.Barrier(WRITERS)
    answers: list[tuple[int, dict, dict]] = []  # (writer, sent record, outcome)
    bumps: Counter = Counter()  # educator -> batches that stored evidence of theirs
    failures: list[str] = []
    lock = threading.Lock()

    def writer(w: int) -> None:
        order = list(range(IDS))
        random.Random(w).shuffle(order)
        headers = {"Authorization": f"Bearer {server.key}"}
        with httpx.Client(base_url=server.base, headers=headers, timeout=60) as client:
            start.wait()
            for b in range(0, IDS, BATCH):
                batch = [sent_record(i, w) for i in order[b:b + BATCH]]
                try:
                    r = client.post("/v1/evidence", json={"records": batch})
                except httpx.HTTPError as exc:
                    with lock:
                        failures.append(f"writer {w}: {exc!r}")
                    continue
                with lock:
                    if r.status_code != 200:
                        failures.append(f"writer {w}: {r.status_code} {r.text[:300]}")
                        continue
                    outcomes = r.json()["outcomes"]
                    for o in outcomes:
                        answers.append((w, batch[o["index"]], o))
                    for e in {batch[o["index"]]["educator_id"] for o in outcomes
                              if o["status"] == "accepted"}:
                        bumps[e] += 1

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == [], f"{len(failures)} failed batches, e.g. {failures[:3]}\n" \
                           f"{server.log_tail()}"

    store = open_store(server.url, run_migrations=False, pool_size=1)
    ev, ed = schema.evidence, schema.educators
    with store.engine.connect() as conn:
        stored = {r[0]: tuple(r[1:]) for r in conn.execute(sa.select(
            ev.c.evidence_id, *[ev.c[f] for f in FIELDS]).where(ev.c.tenant_id == "acme"))}
        versions = dict(conn.execute(sa.select(ed.c.educator_id, ed.c.data_version).where(
            ed.c.tenant_id == "acme")).all())
    store.dispose()

    assert len(stored) == IDS
    accepted = Counter(o["evidence_id"] for _, _, o in answers if o["status"] == "accepted")
    assert sorted(accepted.values()) == [1] * IDS, (
        f"{sum(n > 1 for n in accepted.values())} ids accepted more than once, "
        f"{IDS - len(accepted)} never")
    untrue = defaultdict(list)
    for w, rec, o in answers:
        same = content(rec) == stored[rec["evidence_id"]]
        expected = {"accepted", "duplicate"} if same else {"conflict"}
        if o["status"] not in expected:
            untrue[o["status"]].append((w, rec["evidence_id"]))
    assert not untrue, {k: (len(v), v[:5]) for k, v in untrue.items()}
    assert len(answers) == WRITERS * IDS
    conflicts = [o for _, rec, o in answers if o["status"] == "conflict"]
    assert conflicts and all(o["field"] in ("score", "educator_id") for o in conflicts)
    # educators: one bump per batch that stored their evidence; none without stored evidence
    assert set(versions) == {row[0] for row in stored.values()}
    assert versions == dict(bumps)
    status = Counter(o["status"] for _, _, o in answers)
    print(f"\n{server.url.split(':')[0]}: {WRITERS} writers x {IDS} ids: {status['accepted']} "
          f"accepted (each id once), {status['duplicate']} duplicate, {status['conflict']} "
          f"conflict, all true of the store; {len(failures)} failed batches")
