"""A tenant's evidence clock in the store (migration 0004), on SQLite and PostgreSQL: unset by
default, set and cleared per tenant, and setting it makes every educator's stored mastery stale."""

from __future__ import annotations

import sqlalchemy as sa

from recommender.store import open_store
from tests.migrations import upgraded_to


def test_the_clock_is_per_tenant_and_setting_it_bumps_the_educators(url):
    store = open_store(url)
    try:
        store.ensure_tenant("acme")
        assert store.evidence_clock("acme") is None and store.evidence_clock("nobody") is None
        for e in ("T2", "T1"):
            store.put_educator("acme", e, profile={}, goals=[])
        before = {e: store.educator_version("acme", e)[0] for e in ("T1", "T2")}
        assert store.set_evidence_clock("acme", ("hours", 12.5)) == 2
        assert store.evidence_clock("acme") == ("hours", 12.5)
        assert store.evidence_clock("other") is None
        assert {e: store.educator_version("acme", e)[0] for e in ("T1", "T2")} == {
            e: v + 1 for e, v in before.items()}
        assert store.set_evidence_clock("acme", None) == 2
        assert store.evidence_clock("acme") is None
        assert store.set_evidence_clock("new", ("minutes", 30)) == 0  # creates the tenant
        assert "new" in store.tenants() and store.evidence_clock("new") == ("minutes", 30.0)
    finally:
        store.dispose()


def test_migration_0004_adds_the_clock_to_a_store_at_0003(url):
    engine = upgraded_to(url, "0003")
    assert "clock_unit" not in {c["name"] for c in sa.inspect(engine).get_columns("tenants")}
    engine.dispose()
    store = open_store(url)  # migrates to head
    try:
        columns = {c["name"] for c in sa.inspect(store.engine).get_columns("tenants")}
        assert {"clock_unit", "clock_half_life"} <= columns
        store.set_evidence_clock("acme", ("days", 7))
        assert store.evidence_clock("acme") == ("days", 7.0)
    finally:
        store.dispose()
