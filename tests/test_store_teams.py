"""Teams in the store (migration 0006), on SQLite and PostgreSQL: put, replace, read, per tenant,
and the migration from a store at 0005."""

from __future__ import annotations

import sqlalchemy as sa

from recommender.store import open_store
from tests.migrations import upgraded_to


def test_teams_are_put_replaced_and_read_per_tenant(url):
    store = open_store(url)
    try:
        rec, created = store.put_team("acme", "plc-7", name="Grade 7 math", members=["T2", "T1"])
        assert created and rec.members == ["T2", "T1"] and rec.name == "Grade 7 math"
        again, created = store.put_team("acme", "plc-7", name="G7", members=["T3"])
        assert not created and again.members == ["T3"] and again.created_at == rec.created_at
        assert store.get_team("acme", "plc-7").members == ["T3"]
        assert store.get_team("other", "plc-7") is None
        assert store.get_team("acme", "nope") is None
    finally:
        store.dispose()


def test_migration_0006_adds_teams_to_a_store_at_0005(url):
    engine = upgraded_to(url, "0005")
    assert "teams" not in sa.inspect(engine).get_table_names()
    engine.dispose()
    store = open_store(url)  # migrates to head
    try:
        assert "teams" in sa.inspect(store.engine).get_table_names()
        store.put_team("acme", "t", name="", members=["a"])
        assert store.get_team("acme", "t").members == ["a"]
    finally:
        store.dispose()


def test_teams_are_listed_per_tenant_in_id_order_by_page(url):
    store = open_store(url)
    try:
        for team in ("b", "a", "c"):
            store.put_team("acme", team, name=team.upper(), members=["T1"])
        store.put_team("other", "z", name="", members=["T9"])
        page, total = store.list_teams("acme", limit=2)
        assert total == 3 and [t.team_id for t in page] == ["a", "b"]
        page, total = store.list_teams("acme", limit=2, offset=2)
        assert [t.team_id for t in page] == ["c"] and page[0].name == "C"
        assert store.list_teams("nobody") == ([], 0)
    finally:
        store.dispose()
