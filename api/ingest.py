"""Evidence ingestion behind ``POST /v1/evidence`` and ``POST /v1/evidence/xapi``.

Per request: the batch is checked with :func:`recommender.evidence.validate_evidence`
(vectorized), the valid rows are written by :meth:`recommender.store.Store.ingest_evidence`
(one transaction), and then the stored mastery of the affected educators is brought up to date
as ``PDREC_MASTERY_REFRESH`` says: queued for the background refresher (``background``, the
default), recomputed in the request (``on_write``) or only marked stale (``on_read``). If that
refresh fails, the evidence is kept and the educators' mastery is recomputed on their next read
(their ``data_version`` moved on).

Each record's outcome is true of what the store holds once the request is answered, however
many clients write the same ids at once: ``accepted`` (this request stored it; exactly one
request hears this for an id), ``duplicate`` (the stored record under its ``evidence_id`` is
this very record), ``conflict`` (the stored record under its ``evidence_id`` says something
else: the outcome names the first differing field, the value sent and, in the reason, every
difference) or ``rejected``. A record repeating an earlier ``evidence_id`` of its own batch is
compared with the stored record the same way.

Educators are created on first evidence, within the caller's tenant, with an empty profile:
platforms push evidence first and profiles when they have them (``PUT /v1/educators/{id}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx
import pandas as pd

from api.services import Services
from recommender.evidence import proficient_threshold, validate_evidence
from recommender.store import Difference

__all__ = ["OUTCOMES", "IngestResult", "ingest_records"]

OUTCOMES = ("accepted", "duplicate", "conflict", "rejected")
"""The outcome of one evidence record, in the order the answers count them."""


@dataclass
class IngestResult:
    """Per input record: ``status`` (one of :data:`OUTCOMES`) and, for all but accepted ones,
    ``(field, value, reason)`` in ``problems``; plus the evidence ids and how many educators'
    data changed."""

    status: list[str]
    evidence_ids: list[str | None]
    problems: dict[int, tuple[str, str | None, str]]
    educators_updated: int


def _evidence_id(record) -> str | None:
    """The id an outcome names: the record's ``evidence_id`` if it is a string (a number, an
    object or an array is no id, and is never turned into one: the field contract)."""
    if isinstance(record, dict) and isinstance(v := record.get("evidence_id"), str):
        return v.strip() or None
    return None


def _shown(value: Any) -> str:
    """A stored or sent value as the answers write it."""
    if value is None:
        return "none"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z")
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def _conflict_problem(evidence_id: str, diffs: list[Difference]
                      ) -> tuple[str, str | None, str]:
    """``(field, value, reason)`` of a record in conflict with the stored one: the first
    differing field, its value as sent (as text), and every difference."""
    first = diffs[0]
    value = first.sent if first.sent is None or isinstance(first.sent, str) else _shown(first.sent)
    listed = "; ".join(f"{d.field} {_shown(d.stored)} stored, {_shown(d.sent)} sent"
                       for d in diffs)
    return (first.field, value,
            f"evidence_id {evidence_id!r} is already stored with other content ({listed}); an "
            "evidence_id names one record for good: send changed evidence under a new "
            "evidence_id")


def batch_answer(counts: Mapping[str, int], educators_updated: int, outcomes: list[dict],
                 model: dict) -> dict[str, Any]:
    """The body every batch ingestion answers with: a count per outcome
    (:data:`OUTCOMES`), the educators whose data changed, the outcomes and the model field."""
    return {**{outcome: counts.get(outcome, 0) for outcome in OUTCOMES},
            "educators_updated": educators_updated, "outcomes": outcomes, "model": model}


def ingest_records(services: Services, tenant_id: str, records: list,
                   now: pd.Timestamp | None = None, graph: nx.DiGraph | None = None
                   ) -> IngestResult:
    """Validate against ``graph`` (the tenant's framework, :data:`api.content.ContentDep`;
    None: the default) and the time window at ``now`` (the request's time), store and (by
    default) refresh mastery; never raises for a bad record."""
    graph = services.graph if graph is None else graph
    now = pd.Timestamp.now(tz="UTC") if now is None else now

    def validate(batch: list):
        return validate_evidence(batch, competencies=list(graph),
                                 proficient_at=proficient_threshold(graph.graph["scale"]),
                                 now=now)

    checked = validate(records)
    n = len(records)
    ids = [_evidence_id(r) for r in records]
    status = ["accepted"] * n
    problems: dict[int, tuple[str, str | None, str]] = {}
    repeats = _classify_rejections(checked.rejections, status, problems)
    write = services.store.ingest_evidence(tenant_id, checked.valid, now=now)
    for i, eid in enumerate(ids):
        if status[i] != "accepted" or i in repeats:
            continue
        if eid in write.duplicates:
            status[i] = "duplicate"
            problems[i] = ("evidence_id", eid, f"evidence_id {eid!r} was already ingested "
                                               "with this same content")
        elif eid in write.conflicts:
            status[i] = "conflict"
            problems[i] = _conflict_problem(eid, write.conflicts[eid])
    _settle_repeats(services, tenant_id, records, ids, repeats, validate, status, problems)
    services.mastery_changed(tenant_id, list(write.educators), now)
    counts = pd.Series(status).value_counts() if n else pd.Series(dtype=int)
    for outcome in OUTCOMES:
        if counts.get(outcome, 0):
            services.metrics.evidence.labels(outcome).inc(int(counts[outcome]))
    return IngestResult(status=status, evidence_ids=ids, problems=problems,
                        educators_updated=len(write.educators))


def _classify_rejections(rejections: pd.DataFrame, status: list[str],
                         problems: dict[int, tuple[str, str | None, str]]) -> dict[int, str]:
    """Mark the rejected rows; return the rows that only repeat an earlier id of the batch
    (``{row: reason}``): those are settled against the store once the batch is written."""
    repeats: dict[int, str] = {}
    for row, field, value, reason in zip(rejections["row"].tolist(),
                                         rejections["field"].tolist(),
                                         rejections["value"].tolist(),
                                         rejections["reason"].tolist(), strict=True):
        if field == "evidence_id" and "repeats row" in reason:
            repeats[row] = reason
        else:
            status[row] = "rejected"
            problems[row] = (field, value, reason)
    return repeats


def _settle_repeats(services: Services, tenant_id: str, records: list, ids: list[str | None],
                    repeats: dict[int, str], validate, status: list[str],
                    problems: dict[int, tuple[str, str | None, str]]) -> None:
    """A record repeating an id of its batch is a duplicate when it equals the stored record
    under that id (which the batch may just have stored) and a conflict when it does not.

    Validated again on their own, one occurrence per id at a time (an id sent three times
    repeats itself again in the second pass), then compared with the store.
    """
    pending = sorted(repeats)
    while pending:
        again = validate([records[i] for i in pending])
        outcome = ["accepted"] * len(pending)
        rejected: dict[int, tuple[str, str | None, str]] = {}
        left = _classify_rejections(again.rejections, outcome, rejected)
        diffs = services.store.compare_evidence(tenant_id, again.valid)
        for j, i in enumerate(pending):
            if j in left:
                continue
            if outcome[j] == "rejected":  # a check that depends on the moment (the future)
                status[i], problems[i] = "rejected", rejected[j]
            elif diffs[ids[i]]:
                field, value, reason = _conflict_problem(ids[i], diffs[ids[i]])
                status[i], problems[i] = "conflict", (field, value, f"{repeats[i]}; {reason}")
            else:
                status[i], problems[i] = "duplicate", ("evidence_id", ids[i], repeats[i])
        pending = [pending[j] for j in sorted(left)]
