"""A tenant's framework and catalog versions in the store (migration 0005), on SQLite and
PostgreSQL: none by default, numbered per tenant and kind, one active, never deleted, and every
write makes the tenant's stored mastery stale."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from recommender.store import open_store
from tests.migrations import upgraded_to

DOC = {"name": "tiny", "competencies": [{"id": "A", "name": "A", "domain": "d"}]}




def test_versions_round_trip_per_tenant_and_bump_the_educators(url):
    store = open_store(url)
    try:
        assert store.active_content("acme") == {} and store.content_version("acme", "framework") is None
        store.ensure_tenant("acme")
        store.put_educator("acme", "T1", profile={}, goals=[])
        before = store.educator_version("acme", "T1")[0]
        versions, stale = store.put_content("acme", {"framework": (DOC, "h1")}, by="key:k1")
        assert versions == {"framework": 1} and stale == 1
        assert store.educator_version("acme", "T1")[0] == before + 1
        two = {**DOC, "version": "2"}
        versions, _ = store.put_content("acme", {"framework": (two, "h2"),
                                                 "catalog": ({"activities": []}, "c1")})
        assert versions == {"framework": 2, "catalog": 1}
        assert store.active_content("acme") == {"framework": (2, "h2"), "catalog": (1, "c1")}
        assert store.active_content("other") == {}
        active = store.content_version("acme", "framework")
        assert active.document == two and active.active and active.version == 2
        assert store.content_version("acme", "framework", 1).document == DOC
        listed = store.content_versions("acme", "framework")
        assert [(v.version, v.active, v.document) for v in listed] == [(2, True, None),
                                                                       (1, False, None)]
        assert listed[1].uploaded_by == "key:k1" and listed[1].uploaded_at is not None
        assert store.activate_content("acme", "framework", 1) == 1
        assert store.active_content("acme")["framework"] == (1, "h1")
        store.activate_content("acme", "framework", None)  # back to the default, kept stored
        assert "framework" not in store.active_content("acme")
        assert len(store.content_versions("acme", "framework")) == 2
        with pytest.raises(KeyError, match="no framework version 9"):
            store.activate_content("acme", "framework", 9)
        with pytest.raises(ValueError, match="kind must be one of"):
            store.content_versions("acme", "model")
    finally:
        store.dispose()


def test_migration_0005_adds_the_table_to_a_store_at_0004(url):
    engine = upgraded_to(url, "0004")
    assert "tenant_content" not in sa.inspect(engine).get_table_names()
    engine.dispose()
    store = open_store(url)
    try:
        assert "tenant_content" in sa.inspect(store.engine).get_table_names()
        store.put_content("acme", {"catalog": ({"activities": []}, "c")})
        assert store.active_content("acme") == {"catalog": (1, "c")}
    finally:
        store.dispose()
