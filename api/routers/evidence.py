"""``POST /v1/evidence``, ``/v1/evidence/xapi`` and ``/v1/evidence/badges``: batches of evidence,
one outcome each."""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from api.auth import EvidenceWriter, Principal
from api.badges import ingest_badges
from api.crosswalks import crosswalk_of
from api.deps import ContentDep, Now, ServicesDep, json_body
from api.errors import BadRequest, PayloadTooLarge
from api.ingest import IngestResult, batch_answer, ingest_records
from api.routers._common import errors, json_response
from api.schemas import EvidenceBatchOut, XapiBatchOut
from api.schemas.standards import BadgeBatchIn, BadgeBatchOut
from api.services import Services
from recommender.standards.crosswalk import expand_coded_records
from recommender.store.completions import (
    XAPI_BY,
    completion_note,
    ensure_educators,
    recorded_completions,
)
from recommender.tenant_content import TenantContent
from recommender.xapi import XapiMapping, statements_to_evidence

router = APIRouter(prefix="/v1/evidence", tags=["evidence"])

Report = Literal["all", "problems"]
_REPORT = Query("all", description="`all`: one outcome per record; `problems`: only the "
                                   "duplicate, conflict and rejected ones (smaller answers for "
                                   "bulk loads)")


_SHAPE = ("The body is not JSON, is in neither form, or an item of its list is not a JSON "
          "object (nothing stored); the body names the field, the value and what was expected")


def _body(batch: str, item: dict, title: str) -> dict:
    """The documented request body of a bulk endpoint: the ``batch`` object, or a bare JSON
    array of ``item`` objects (the routes parse the body themselves, with orjson)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "anyOf": [{"$ref": f"#/components/schemas/{batch}"},
                  {"type": "array", "items": item, "title": f"{title} (bare array)"}]}}}}}


_MAX_DETAILS = 100
"""At most this many non-object items are listed in a 422 (the message gives the count)."""


def _kind(value: Any) -> str:
    """What a JSON value is, in the client's terms."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _shown(value: Any) -> Any:
    """A value as an error detail shows it: scalars as sent (long strings cut), arrays and
    objects by their size (never echoed whole)."""
    if isinstance(value, list):
        return f"an array of {len(value)} item(s)"
    if isinstance(value, dict):
        return f"an object of {len(value)} key(s)"
    if isinstance(value, str) and len(value) > 80:
        return value[:77] + "..."
    return value


def _items(body: Any, key: str, limit: int, what: str) -> list[dict]:
    """The objects a bulk body carries: ``{key: [...]}`` or a bare JSON array of them.

    The body's shape is checked whole, as the OpenAPI schema documents it: a body in neither
    form is a 422, and so is a list holding anything but JSON objects (each such item named by
    its position, with its value and what was expected; nothing is stored); more than ``limit``
    items is a 413. The content of each object is checked per item by the caller.
    """
    bare = isinstance(body, list)
    items = body if bare else body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        if not isinstance(body, dict):
            got, value = _kind(body), _shown(body)
        elif key not in body:
            got, value = f"an object without {key!r}", None
        else:
            got, value = f"an object whose {key!r} is {_kind(items)}", _shown(items)
        raise BadRequest(f"body must be an object with a list {key!r} or a bare JSON array "
                         f"of {what}s; got {got}",
                         details=[{"field": key, "value": value,
                                   "reason": f"expected a JSON array of {what}s (JSON objects)"}])
    if len(items) > limit:
        raise PayloadTooLarge(
            f"{len(items)} {key} in one request; the limit is {limit} (PDREC_MAX_BATCH): "
            "split the batch",
            details=[{"field": key, "value": len(items), "reason": f"at most {limit} items"}])
    bad = [i for i, item in enumerate(items) if not isinstance(item, dict)]
    if bad:
        prefix = "" if bare else key
        listed = bad[:_MAX_DETAILS]
        more = f" (the first {len(listed)} are listed)" if len(bad) > len(listed) else ""
        raise BadRequest(
            f"{len(bad)} item(s) of {'the body' if bare else repr(key)} are not JSON objects"
            f"{more}: each item must be an {what} (a JSON object); nothing was stored",
            details=[{"field": f"{prefix}[{i}]", "value": _shown(items[i]),
                      "reason": f"{prefix}[{i}] is {_kind(items[i])}; expected an {what} "
                                "(a JSON object)"}
                     for i in listed])
    return items


@router.post(
    "", response_model=EvidenceBatchOut, summary="Ingest a batch of evidence records",
    description="`{\"records\": [...]}` or a bare JSON array of records; up to 5,000 "
                "records (`PDREC_MAX_BATCH`; more: 413). Every item must be a JSON object: a "
                "list holding anything else (null, a number, a string, an array) is refused "
                "whole with 422 naming each such item (`records[i]`, or `[i]` in a bare "
                "array), and nothing is stored. Each record is "
                "`accepted` (this request stored it: for one `evidence_id`, exactly one request "
                "ever hears this, however many send it at once), a `duplicate` (the record "
                "stored under its `evidence_id` is this same record, stored earlier or by "
                "another request, or repeated within the batch), a `conflict` (the record "
                "stored under its `evidence_id` says something else: nothing is changed, and "
                "`field`, `value` and `reason` name the differences) or `rejected` with the "
                "field, the value and the reason; a bad record never takes the good ones down. "
                "Idempotent on `evidence_id`. Educators are created on first evidence. A "
                "record coded by an external framework (`framework_code`, or a "
                "`competency_id`, such as `danielson:3b` or `intasc:7`) lands on every "
                "competency the crosswalk maps that code to (`GET /v1/crosswalks`): one "
                "record each, `evidence_id` `<evidence_id>#<competency_id>`, each with its own "
                "outcome under the same `index` and its `framework_code`; a code that is "
                "malformed, unknown or maps to nothing is rejected with a reason naming it.",
    responses=errors(401, 403, 413, 422, notes={422: _SHAPE}),
    openapi_extra=_body("EvidenceBatchIn", {"$ref": "#/components/schemas/EvidenceRecordIn"},
                        "Evidence records"),
)
def post_evidence(
    who: EvidenceWriter,
    services: ServicesDep,
    content: ContentDep,
    now: Now,
    body: Any = Depends(json_body),
    report: Report = _REPORT,
) -> Response:
    records = _items(body, "records", services.settings.max_batch, "evidence record")
    coded = expand_coded_records(records, crosswalk_of(services, content.graph))
    result = ingest_records(services, who.tenant_id, coded.records, now, content.graph)
    outcomes = []
    codes = coded.codes
    for r, (status, eid) in enumerate(zip(result.status, result.evidence_ids, strict=True)):
        code = {"framework_code": codes[r]} if codes[r] is not None else {}
        if status == "accepted":
            if report == "all":
                outcomes.append({"index": coded.origin[r], "evidence_id": eid,
                                 "status": status, **code})
            continue
        field, value, reason = result.problems[r]
        outcomes.append({"index": coded.origin[r], "evidence_id": eid, "status": status,
                         **code, "field": field, "value": value, "reason": reason})
    for row, eid, field, value, reason in coded.rejections.itertuples(index=False, name=None):
        outcomes.append({"index": int(row), "evidence_id": eid, "status": "rejected",
                         "field": field, "value": value, "reason": reason})
    if len(coded.rejections):
        outcomes.sort(key=lambda o: o["index"])
    counts = Counter(result.status) + Counter(rejected=len(coded.rejections))
    return json_response(batch_answer(counts, result.educators_updated, outcomes,
                                      services.serve(who.tenant_id, content).info()))


@router.post(
    "/xapi", response_model=XapiBatchOut, summary="Ingest xAPI statements as evidence",
    description="xAPI 1.0.3 statements, as `{\"statements\": [...]}` or a bare JSON array "
                "of statements (as xAPI clients post them); up to 5,000 (`PDREC_MAX_BATCH`; "
                "more: 413). Every item must be a JSON object: a list holding anything else is "
                "refused whole with 422 naming each such item (`statements[i]`, or `[i]` in a "
                "bare array), and nothing is stored. Statements are mapped to "
                "evidence as documented in `recommender.xapi`: actor -> educator, verb -> "
                "source, object.id (an IRI ending in /competencies/<id> or /activities/<id>, a "
                "`urn:pdrec:competency:<id>`, an IRI of the `PDREC_XAPI_IRI_MAP` table, or a "
                "catalog activity id, alone or as an IRI's last path segment or fragment) -> "
                "competency, result.score -> score, timestamp -> observed_at, id -> evidence_id. "
                "A `completed` or `passed` statement, or one with `result.completion: true` or full "
                "progress, on a catalog activity records that activity as completed (a feedback "
                "`completed` event, once per statement id; `completed_activity` names it); "
                "without a score that is all it records. Voiding statements are rejected: "
                "evidence is append-only. Statements that do not map are rejected with the "
                "field, the value and the real defect. A statement is `rejected` if any of its "
                "records is, a `conflict` if any is stored with other content under its "
                "`evidence_id`, a `duplicate` if all it records is already stored as sent, "
                "else `accepted`.",
    responses=errors(401, 403, 413, 422, notes={422: _SHAPE}),
    openapi_extra=_body("XapiBatchIn", {"type": "object", "additionalProperties": True,
                                        "description": "An xAPI 1.0.3 statement"},
                        "xAPI statements"),
)
def post_xapi(
    who: EvidenceWriter,
    services: ServicesDep,
    content: ContentDep,
    now: Now,
    body: Any = Depends(json_body),
    report: Report = _REPORT,
) -> Response:
    statements = _items(body, "statements", services.settings.max_batch,
                        "xAPI statement")
    mapping = statements_to_evidence(statements, competencies=list(content.graph),
                                     activity_targets=content.activity_targets,
                                     iri_map=services.iri_map, now=now)
    result = ingest_records(services, who.tenant_id, mapping.records, now, content.graph)
    per: dict[int, list[int]] = {}
    for r, pos in enumerate(mapping.origin):
        per.setdefault(pos, []).append(r)
    completed = _record_completions(services, who, mapping, result, per, now, content)
    rejected = {row: (sid, f, v, why) for row, sid, f, v, why in
                mapping.rejections.itertuples(index=False, name=None)}
    outcomes = []
    for i, st in enumerate(statements):
        sid = st.get("id") if isinstance(st, dict) and isinstance(st.get("id"), str) else None
        if i in rejected:
            _, field, value, reason = rejected[i]
            outcomes.append({"index": i, "statement_id": sid, "status": "rejected",
                             "field": field, "value": value, "reason": reason})
            continue
        rows = per.get(i, [])
        eids = [result.evidence_ids[r] for r in rows if result.evidence_ids[r] is not None]
        extra = {"evidence_ids": eids}
        statuses = [result.status[r] for r in rows]
        problems = [result.problems.get(r) for r in rows]
        if i in completed:
            status, activity, problem = completed[i]
            extra["completed_activity"] = activity
            statuses.append(status)
            problems.append(problem)
        worst = next((k for outcome in ("rejected", "conflict") for k, s in enumerate(statuses)
                      if s == outcome), None)
        if worst is None and statuses and all(s == "duplicate" for s in statuses):
            worst = 0
        if worst is not None:
            field, value, reason = problems[worst]
            outcomes.append({"index": i, "statement_id": sid, "status": statuses[worst],
                             **extra, "field": field, "value": value, "reason": reason})
        elif report == "all":
            outcomes.append({"index": i, "statement_id": sid, "status": "accepted", **extra})
    counts = Counter(o["status"] for o in outcomes)
    if report == "problems":
        counts["accepted"] = len(statements) - sum(counts.values())
    return json_response(batch_answer(counts, result.educators_updated, outcomes,
                                      services.serve(who.tenant_id, content).info()))


@router.post(
    "/badges", response_model=BadgeBatchOut, summary="Ingest Open Badges as micro-credentials",
    description="Open Badges 2.0 Assertions (BadgeClass embedded, or by URL with the "
                "BadgeClass under `objects`) and 3.0 `OpenBadgeCredential`s; up to 5,000 "
                "(`PDREC_MAX_BATCH`; more: 413). The recipient maps to an educator through "
                "`recipients` (identity -> educator id; hashed identities are matched by "
                "hashing each key with the badge's salt), else `educator_id`. The badge's "
                "alignments map to competencies: a competency IRI "
                "(`urn:pdrec:competency:<id>`, `.../competencies/<id>`, or the "
                "`PDREC_XAPI_IRI_MAP` table), a CASE item identifier or URI of the framework, a "
                "Danielson component or InTASC standard through the crosswalk (`targetCode` "
                "`danielson:3b`, or `3b` with `targetFramework` naming Danielson), or a "
                "competency id or code. Each badge becomes one `micro_credential` record per "
                "competency (score: the scale's proficient level; `observed_at`: issuance; "
                "`evidence_id` `badge:<badge id>#<competency>`). Revoked, expired (before the "
                "request's time), unaligned or unmappable badges, badges whose BadgeClass is "
                "only referenced, and objects that are not awards are `rejected` per badge with "
                "the field, the value and the reason; a bad badge never takes the good ones "
                "down. Signatures are not verified (no network fetches). A badge takes its "
                "records' worst outcome.",
    responses=errors(401, 403, 413, 422),
)
def post_badges(
    who: EvidenceWriter,
    services: ServicesDep,
    content: ContentDep,
    now: Now,
    body: BadgeBatchIn,
    report: Report = _REPORT,
) -> Response:
    limit = services.settings.max_batch
    if len(body.badges) > limit:
        raise PayloadTooLarge(
            f"{len(body.badges)} badges in one request; the limit is {limit} (PDREC_MAX_BATCH): "
            "split the batch",
            details=[{"field": "badges", "value": len(body.badges),
                      "reason": f"at most {limit} items"}])
    return json_response(ingest_badges(services, who.tenant_id, content, body, now, report))


def _record_completions(services: Services, who: Principal, mapping: XapiMapping,
                        result: IngestResult, records_of: dict[int, list[int]],
                        now: pd.Timestamp, content: TenantContent
                        ) -> dict[int, tuple[str, str, tuple[str, str, str] | None]]:
    """Store the completions the statements report, as feedback ``completed`` events.

    A statement whose evidence records were not all stored (or found stored as sent) records
    no completion either. Each statement's completion is stored once: one already stored (or
    repeated in the batch) is a duplicate. Returns, per statement position, ``(accepted or
    duplicate, activity_id, (field, value, reason) of a duplicate)``.
    """
    tenant = who.tenant_id
    todo = [(pos, c) for pos, c in zip(mapping.completion_origin, mapping.completions,
                                       strict=True)
            if all(result.status[r] in ("accepted", "duplicate") for r in records_of.get(pos, []))]
    if not todo:
        return {}
    seen = recorded_completions(services.store, tenant, {c["educator_id"] for _, c in todo},
                                [c["statement_id"] for _, c in todo])
    out: dict[int, tuple[str, str, tuple[str, str, str] | None]] = {}
    new = []
    for pos, c in todo:
        sid, activity = c["statement_id"], c["activity_id"]
        if sid in seen:
            out[pos] = ("duplicate", activity, (
                "id", sid, f"the completion of activity {activity!r} reported by statement "
                f"{sid!r} is already recorded"))
            continue
        seen.add(sid)
        out[pos] = ("accepted", activity, None)
        new.append(c)
    if new:
        at = pd.to_datetime(pd.Series([c["at"] for c in new]), utc=True, format="ISO8601")
        ensure_educators(services.store, tenant, {c["educator_id"] for c in new})
        services.store.add_feedback(tenant, [
            {"educator_id": c["educator_id"], "activity_id": c["activity_id"],
             "event": "completed", "at": t, "by": XAPI_BY,
             "note": completion_note(c["statement_id"]), "key_id": who.key_id}
            for c, t in zip(new, at.dt.to_pydatetime(), strict=True)])
        if services.serve(tenant, content).predictor is not None:  # completions: features
            services.mastery_changed(tenant, sorted({c["educator_id"] for c in new}), now)
        services.metrics.feedback.labels("completed").inc(len(new))
    return out
