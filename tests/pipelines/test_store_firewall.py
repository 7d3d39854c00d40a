"""The evidence firewall beyond the API (docs/firewall.md): training from a tenant's store and
the tenant's equity audit read only the evidence that may feed decisions, as the served answers
do."""

from __future__ import annotations

import pandas as pd

from pipelines.audit_run import tenant_inputs
from pipelines.store_data import read_store_data
from recommender.evidence import validate_evidence
from recommender.graph import default_framework
from recommender.store import open_store
from recommender.tenant_content import default_content


def _stored(url: str) -> None:
    graph = default_framework("educator")
    rows = [("e1", "T1", "observation"), ("e2", "T1", "self_assessment"),
            ("e3", "T2", "observation"), ("e4", "T2", "student_growth"),
            ("e5", "T2", "self_assessment")]
    raw = pd.DataFrame({"evidence_id": [r[0] for r in rows], "educator_id": [r[1] for r in rows],
                        "competency_id": "INS.FORMATIVE", "source": [r[2] for r in rows],
                        "score": 3, "observed_at": "2025-03-01T10:00:00Z"})
    store = open_store(url)
    try:
        store.ensure_tenant("acme")
        store.ingest_evidence("acme", validate_evidence(raw, competencies=list(graph)).valid)
        store.put_evidence_policy("acme", {"sources": {
            "self_assessment": {"feeds_decisions": False}}})
        store.set_consent("acme", "T2", ["student_growth"])
    finally:
        store.dispose()


def test_training_and_the_tenant_audit_read_only_the_evidence_that_feeds_decisions(tmp_path):
    url = f"sqlite:///{tmp_path / 'pdrec.db'}"
    _stored(url)
    data = read_store_data({"tenant": "acme", "url": url}, tmp_path)
    assert sorted(data.evidence["evidence_id"]) == ["e1", "e3"]
    store = open_store(url)
    try:
        inputs = tenant_inputs(store, "acme", default_content("educator", None))
        assert store.count_evidence("acme") == 5  # all of it stays stored
    finally:
        store.dispose()
    assert sorted(inputs.evidence["evidence_id"]) == ["e1", "e3"]
