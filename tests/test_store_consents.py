"""The evidence firewall's state in the store, on SQLite and PostgreSQL: the tenant's policy
(versioned, bumps every educator) and consent events (the latest per source is current, a change
bumps the one educator, a repeat writes nothing), scoped by tenant."""

from __future__ import annotations

import pytest

from recommender.firewall import DEFAULT_POLICY, EvidencePolicyError
from recommender.store import open_store


@pytest.fixture
def store(url):
    s = open_store(url)
    for tenant in ("acme", "other"):
        s.ensure_tenant(tenant)
    yield s
    s.dispose()


def _versions(store, tenant, ids):
    return {e: store.educator_version(tenant, e)[0] for e in ids}


def test_a_policy_is_versioned_and_bumps_every_educator_of_the_tenant(store):
    for tenant, e in (("acme", "T1"), ("acme", "T2"), ("other", "T1")):
        store.put_educator(tenant, e, profile={}, goals=[])
    assert store.evidence_policy("acme") == DEFAULT_POLICY
    before, other = _versions(store, "acme", ["T1", "T2"]), _versions(store, "other", ["T1"])
    doc = {"sources": {"self_assessment": {"feeds_decisions": False, "readers": ["admin"]}}}
    assert store.put_evidence_policy("acme", doc, by="k1") == (1, 2)
    policy = store.evidence_policy("acme")
    assert policy.version == 1 and policy.blocked == {"self_assessment"}
    assert policy.readable("coach") == policy.readable("admin") - {"self_assessment"}
    assert _versions(store, "acme", ["T1", "T2"]) == {e: v + 1 for e, v in before.items()}
    assert _versions(store, "other", ["T1"]) == other  # another tenant is untouched
    assert store.evidence_policy("other") == DEFAULT_POLICY
    assert store.put_evidence_policy("acme", {"sources": {}})[0] == 2
    assert store.evidence_policy("acme").blocked == frozenset()
    assert store.evidence_policy_document("acme").uploaded_by == ""


def test_a_stored_policy_that_no_longer_validates_is_an_error_not_the_default(store):
    store.put_evidence_policy("acme", {"sources": {"gossip": {}}})
    with pytest.raises(EvidencePolicyError, match="gossip"):
        store.evidence_policy("acme")


def test_consent_events_set_the_full_list_and_bump_only_on_a_change(store):
    for e in ("T1", "T2"):
        store.put_educator("acme", e, profile={}, goals=[])
    store.put_educator("other", "T1", profile={}, goals=[])
    v0 = _versions(store, "acme", ["T1", "T2"])
    assert store.set_consent("acme", "T1", ["self_assessment", "student_growth"],
                             by="k1") == ["self_assessment", "student_growth"]
    assert _versions(store, "acme", ["T1", "T2"]) == {"T1": v0["T1"] + 1, "T2": v0["T2"]}
    assert store.set_consent("acme", "T1", ["student_growth", "self_assessment"]) == []
    assert _versions(store, "acme", ["T1"])["T1"] == v0["T1"] + 1  # nothing changed
    assert store.set_consent("acme", "T1", ["student_growth"], by="k2") == ["self_assessment"]
    assert store.withdrawals("acme", ["T1", "T2"]) == {"T1": frozenset({"student_growth"})}
    settings = store.consent_settings("acme", ["T1"])["T1"]
    assert [(s.source, s.withdrawn, s.by) for s in settings] == [
        ("self_assessment", False, "k2"), ("student_growth", True, "k1")]
    assert all(s.changed_at.tzinfo is not None for s in settings)
    assert store.withdrawals("other", ["T1"]) == {}  # scoped by tenant
    fw = store.firewall("acme", ["T1", "T2"])
    assert fw.label("T2") == "p0" and fw.label("T1").startswith("p0+c")
