"""Evidence ingestion behind ``POST /v1/evidence`` and ``POST /v1/evidence/xapi``.

Per request: the batch is checked with :func:`recommender.evidence.validate_evidence`
(vectorized), the valid rows are written by :meth:`recommender.store.Store.ingest_evidence`
(one id lookup, one ``executemany``, one transaction), and then the stored mastery of the
affected educators is brought up to date as ``PDREC_MASTERY_REFRESH`` says: queued for the
background refresher (``background``, the default), recomputed in the request (``on_write``) or
only marked stale (``on_read``). If that refresh fails, the evidence is kept and the
educators' mastery is recomputed on their next read (their ``data_version`` moved on).

Educators are created on first evidence, within the caller's tenant, with an empty profile:
platforms push evidence first and profiles when they have them (``PUT /v1/educators/{id}``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from api.services import Services
from recommender.evidence import proficient_threshold, validate_evidence

__all__ = ["IngestResult", "ingest_records"]


@dataclass
class IngestResult:
    """Per input record: ``status`` (accepted, duplicate, rejected) and, for rejections, field,
    value and reason; plus the evidence ids and the educators whose data changed."""

    status: list[str]
    evidence_ids: list[str | None]
    problems: dict[int, tuple[str, str, str]]
    educators_updated: int


def _evidence_id(record) -> str | None:
    if isinstance(record, dict):
        v = record.get("evidence_id")
        if v is not None:
            text = str(v).strip()
            return text or None
    return None


def ingest_records(services: Services, tenant_id: str, records: list) -> IngestResult:
    """Validate, store and (by default) refresh mastery; never raises for a bad record."""
    graph = services.graph
    checked = validate_evidence(records, competencies=list(graph),
                                proficient_at=proficient_threshold(graph.graph["scale"]))
    n = len(records)
    ids = [_evidence_id(r) for r in records]
    status = ["accepted"] * n
    problems: dict[int, tuple[str, str, str]] = {}
    rej = checked.rejections
    for row, field, value, reason in zip(rej["row"].tolist(), rej["field"].tolist(),
                                         rej["value"].tolist(), rej["reason"].tolist(),
                                         strict=True):
        repeat = field == "evidence_id" and "repeats row" in reason
        status[row] = "duplicate" if repeat else "rejected"
        problems[row] = (field, value, reason)
    duplicates, affected = services.store.ingest_evidence(tenant_id, checked.valid)
    if duplicates:
        for i, eid in enumerate(ids):
            if status[i] == "accepted" and eid in duplicates:
                status[i] = "duplicate"
                problems[i] = ("evidence_id", eid, f"evidence_id {eid!r} was already ingested")
    services.mastery_changed(tenant_id, list(affected))
    counts = pd.Series(status).value_counts() if n else pd.Series(dtype=int)
    for outcome in ("accepted", "duplicate", "rejected"):
        if counts.get(outcome, 0):
            services.metrics.evidence.labels(outcome).inc(int(counts[outcome]))
    return IngestResult(status=status, evidence_ids=ids, problems=problems,
                        educators_updated=len(affected))
