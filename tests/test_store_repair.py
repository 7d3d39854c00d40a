"""Stored rows that break the field contract: found, exported by the caller, moved aside.

Rows are written straight into the tables, as a version of pdrec before the contract could
have stored them: times on both stores; over-long ids and control characters on SQLite only
(PostgreSQL refused those then, with a 500).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from recommender.store import open_store, schema
from recommender.store.repair import find_violations, move_aside
from tests.pg import fresh_database

NOW = pd.Timestamp("2025-06-01T00:00:00Z")
GOOD_US = 1_709_287_200_000_000  # 2024-03-01
YEAR_1600_US = -11_676_096_000_000_000


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'pdrec.db'}"
    if request.param == "postgresql":
        url, reason = fresh_database()
        if url is None:
            pytest.skip(f"PostgreSQL unavailable: {reason}")
    s = open_store(url)
    s.ensure_tenant("acme")
    s.ensure_tenant("other")
    yield s
    s.dispose()


def _raw(store, table, **row):
    with store.engine.begin() as conn:
        conn.execute(table.insert().values(**row))


def _educator(store, educator_id, tenant="acme", **over):
    _raw(store, schema.educators, **{
        "tenant_id": tenant, "educator_id": educator_id, "profile": "{}", "goals": "[]",
        "data_version": 0, "created_at": datetime(2025, 1, 1, tzinfo=UTC),
        "updated_at": datetime(2025, 1, 1, tzinfo=UTC), **over})


def _evidence(store, evidence_id, educator_id="T1", observed_us=GOOD_US, tenant="acme", **over):
    _raw(store, schema.evidence, **{
        "tenant_id": tenant, "evidence_id": evidence_id, "educator_id": educator_id,
        "competency_id": "INS.ELL", "source": "observation", "score": 3.0, "scale_min": 1.0,
        "scale_max": 4.0, "score_norm": 2 / 3, "proficient": True, "observed_us": observed_us,
        "rater_id": None, "activity_id": None, "ingested_us": 0, **over})


def _feedback(store, at, educator_id="T1", **over):
    _raw(store, schema.feedback, **{
        "tenant_id": "acme", "educator_id": educator_id, "activity_id": "ACT-001",
        "event": "declined", "at": at, **over})


def _count(store, table, tenant="acme"):
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)
                            .where(table.c.tenant_id == tenant)).scalar_one()


def test_times_outside_the_window_are_found_and_moved_aside_on_both_stores(store):
    _educator(store, "T1")
    _evidence(store, "good")
    _evidence(store, "old", observed_us=YEAR_1600_US)
    _evidence(store, "ahead", observed_us=int(pd.Timestamp("2030-01-01", tz="UTC").value // 1000))
    _feedback(store, datetime(2024, 3, 1, tzinfo=UTC))
    _feedback(store, datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))
    _educator(store, "T1", tenant="other")
    _evidence(store, "old", observed_us=YEAR_1600_US, tenant="other")

    plan = find_violations(store, "acme", now=NOW)
    found = {(f.table, f.key, f.field) for f in plan.findings}
    assert {(t, k) for t, k, _ in found} == {("evidence", "old"), ("evidence", "ahead"),
                                             ("feedback", next(f.key for f in plan.findings
                                                               if f.table == "feedback"))}
    assert {f for _, _, f in found} == {"observed_at", "at"}
    old = next(f for f in plan.findings if f.key == "old")
    assert old.value.startswith("1600-01-01T00:00:00") and "accepted window" in old.reason
    assert old.row["observed_us"] == YEAR_1600_US  # the whole row, for the export
    version = store.get_educator("acme", "T1").data_version

    deleted = move_aside(store, plan)
    assert deleted == {"educators": 0, "evidence": 2, "feedback": 1, "mastery": 0,
                       "profiles": 0}
    assert _count(store, schema.evidence) == 1 and _count(store, schema.feedback) == 1
    assert store.get_educator("acme", "T1").data_version == version + 1  # mastery recomputes
    assert _count(store, schema.evidence, "other") == 1  # another tenant is not touched
    assert find_violations(store, "acme", now=NOW).findings == []
    assert len(find_violations(store, now=NOW).findings) == 1  # all tenants


def test_ids_and_text_the_door_refuses_are_found_and_an_unreachable_educator_goes_whole(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'pdrec.db'}")
    store.ensure_tenant("acme")
    _educator(store, "T1", profile='{"role": "coach\\u0000"}')
    _educator(store, "a/b")
    _educator(store, "x" * 300, goals='["INS.ELL"]')
    _evidence(store, "nul", rater_id="r\x00")
    _evidence(store, "e" * 300)
    _evidence(store, "slash", educator_id="a/b")
    _feedback(store, datetime(2024, 3, 1, tzinfo=UTC), note="bad\x00note")
    _feedback(store, datetime(2024, 3, 1, tzinfo=UTC), educator_id="a/b")
    _raw(store, schema.mastery, tenant_id="acme", educator_id="a/b", model_key="m",
         data_version=0, computed_at=datetime(2025, 1, 1, tzinfo=UTC), table_json="{}")
    _raw(store, schema.served_answers, tenant_id="acme", educator_id="a/b", query_key="q",
         data_version=0, educator_created_at=datetime(2025, 1, 1, tzinfo=UTC), computed_us=0,
         label="p", items_json=b"[]", shown_json=b"[]")

    plan = find_violations(store, now=NOW)
    by_field = {(f.table, f.field): f for f in plan.findings}
    assert set(by_field) == {
        ("educators", "profile.role"), ("educators", "educator_id"), ("evidence", "rater_id"),
        ("evidence", "evidence_id"), ("evidence", "educator_id"), ("feedback", "note"),
        ("feedback", "educator_id")}
    assert by_field["evidence", "evidence_id"].value == "e" * 197 + "..."
    assert plan.educators == {"acme": {"a/b", "x" * 300}}
    assert plan.counts()["educators", "educator_id"] == 2

    deleted = move_aside(store, plan)
    assert deleted == {"educators": 2, "evidence": 3, "feedback": 2, "mastery": 1,
                       "profiles": 1}
    kept = store.list_educators("acme")
    assert [(e.educator_id, e.profile) for e in kept] == [("T1", {})]
    with store.engine.connect() as conn:  # the removed educator's kept answer went with them
        assert conn.execute(sa.select(sa.func.count()).select_from(
            schema.served_answers)).scalar_one() == 0
    assert find_violations(store, now=NOW).findings == []
    store.dispose()
