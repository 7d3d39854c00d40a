"""Open Badges ingestion behind ``POST /v1/evidence/badges``.

The badges are mapped by :func:`recommender.standards.openbadges.badges_to_evidence` against the
served framework (alignments through :class:`~recommender.standards.alignments.AlignmentIndex`:
competency IRIs and the ``PDREC_XAPI_IRI_MAP`` table, CASE item identifiers, Danielson/InTASC
codes through the crosswalk, competency ids and codes); the records go through the same
evidence ingestion as ``POST /v1/evidence`` (:func:`api.ingest.ingest_records`), and each badge
takes the worst outcome of its records, like an xAPI statement.
"""

from __future__ import annotations

import weakref
from collections import Counter
from typing import Any

import networkx as nx
import pandas as pd

from api.crosswalks import crosswalk_of
from api.ingest import batch_answer, ingest_records
from api.schemas.standards import BadgeBatchIn
from api.services import Services
from recommender.standards.alignments import AlignmentIndex
from recommender.standards.openbadges import badges_to_evidence
from recommender.tenant_content import TenantContent

__all__ = ["alignment_index", "ingest_badges"]


_INDEXES: weakref.WeakKeyDictionary[nx.DiGraph, AlignmentIndex] = weakref.WeakKeyDictionary()


def alignment_index(services: Services, graph: nx.DiGraph | None = None) -> AlignmentIndex:
    """The alignment index of ``graph`` (default: the served framework), built once per graph
    (with the service's ``PDREC_XAPI_IRI_MAP`` table)."""
    graph = services.graph if graph is None else graph
    index = _INDEXES.get(graph)
    if index is None:
        index = _INDEXES[graph] = AlignmentIndex(graph, crosswalk_of(services, graph),
                                                 services.iri_map)
    return index


def ingest_badges(services: Services, tenant_id: str, content: TenantContent,
                  body: BadgeBatchIn, now: pd.Timestamp, report: str = "all") -> dict[str, Any]:
    """Map, validate and store a batch of badges against the tenant's ``content``; the
    answer's payload (``BadgeBatchOut``)."""
    graph = content.graph
    mapping = badges_to_evidence(body.badges, index=alignment_index(services, graph),
                                 recipients=body.recipients, educator_id=body.educator_id,
                                 objects=body.objects, scale=graph.graph["scale"], now=now)
    records = mapping.records
    result = ingest_records(services, tenant_id, records, now, graph)
    per: dict[int, list[int]] = {}
    for r, pos in enumerate(mapping.origin):
        per.setdefault(pos, []).append(r)
    rejected = {int(row): (field, value, reason) for row, _, field, value, reason in
                mapping.rejections.itertuples(index=False, name=None)}
    outcomes = []
    for i, badge_id in enumerate(mapping.badge_ids):
        head = {"index": i, "badge_id": badge_id}
        if i in rejected:
            field, value, reason = rejected[i]
            outcomes.append({**head, "status": "rejected", "field": field,
                             "value": None if value is None or value != value else str(value),
                             "reason": reason})
            continue
        rows = per.get(i, [])
        extra = {"educator_id": mapping.educators[i],
                 "evidence_ids": [result.evidence_ids[r] for r in rows],
                 "competencies": mapping.competencies[i],
                 "unmapped_alignments": mapping.unmapped[i]}
        statuses = [result.status[r] for r in rows]
        worst = next((k for outcome in ("rejected", "conflict") for k, s in enumerate(statuses)
                      if s == outcome), None)
        if worst is None and statuses and all(s == "duplicate" for s in statuses):
            worst = 0
        if worst is not None:
            field, value, reason = result.problems[rows[worst]]
            outcomes.append({**head, "status": statuses[worst], **extra, "field": field,
                             "value": value, "reason": reason})
        else:
            outcomes.append({**head, "status": "accepted", **extra})
    counts = Counter(o["status"] for o in outcomes)
    if report == "problems":
        outcomes = [o for o in outcomes if o["status"] != "accepted"]
    return batch_answer(counts, result.educators_updated, outcomes,
                        services.serve(tenant_id, content).info())
