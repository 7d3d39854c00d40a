"""EducatorStore.merge_profiles (the roster write path) on SQLite and PostgreSQL: created,
updated (goals and other keys kept, data_version bumped), unchanged (not bumped), stale, missing,
a None value removing its key, and tenants kept apart."""

from __future__ import annotations

import pytest

from recommender.store import open_store


@pytest.fixture
def store(url):
    s = open_store(url)
    s.ensure_tenant("acme")
    s.ensure_tenant("other")
    yield s
    s.dispose()


def test_merge_profiles_outcomes(store):
    first = store.merge_profiles("acme", {
        "T1": {"role": "classroom_teacher", "school": "s1", "stamp": "2025-01-01"},
        "T2": {"role": "aide", "stamp": "2025-01-01"}}, stamp="stamp")
    assert (first.created, first.updated) == (["T1", "T2"], [])
    store.put_educator("acme", "T1", profile={**store.get_educator("acme", "T1").profile,
                                              "subject": "math"}, goals=["G"])
    v1 = store.get_educator("acme", "T1").data_version
    v2 = store.get_educator("acme", "T2").data_version
    out = store.merge_profiles("acme", {
        "T1": {"role": "aide", "school": None, "stamp": "2025-02-01"},   # changes, drops school
        "T2": {"role": "aide", "stamp": "2025-01-01"},                   # same: unchanged
        "T3": {"role": "teacher", "stamp": "2024-01-01"}}, stamp="stamp", create=False)
    assert (out.updated, out.unchanged, out.missing, out.created) == (["T1"], ["T2"], ["T3"], [])
    t1 = store.get_educator("acme", "T1")
    assert t1.profile == {"role": "aide", "subject": "math", "stamp": "2025-02-01"}
    assert t1.goals == ["G"] and t1.data_version == v1 + 1
    assert store.get_educator("acme", "T2").data_version == v2
    stale = store.merge_profiles("acme", {"T1": {"role": "x", "stamp": "2025-01-15"}},
                                 stamp="stamp")
    assert stale.stale == ["T1"] and store.get_educator("acme", "T1").profile["role"] == "aide"
    assert store.get_educators("other", ["T1", "T2"]) == {}
    assert store.merge_profiles("acme", {}).created == []
