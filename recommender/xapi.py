"""xAPI statements -> evidence records: the xAPI door of the evidence contract.

:func:`statements_to_evidence` is a pure function. It maps what it can and rejects every other
statement with the field at fault, its value and a reason; the records it produces then go through
:func:`recommender.evidence.validate_evidence` like any other evidence.

The mapping (xAPI 1.0.3 field -> evidence column):

======================  ==========================================================================
``id``                  ``evidence_id`` (required: it is the idempotency key). When the object maps
                        to several competencies, one record each, ``<id>#<competency_id>``.
``actor``               ``educator_id``: an Agent's ``account.name``, else its ``mbox`` without
                        ``mailto:``, else ``mbox_sha1sum``, else ``openid``. Groups are rejected.
``verb.id``             ``source``: the verb's last path segment must be one of :data:`VERB_SOURCES`
                        (``scored``, ``passed``, ``failed``, ``completed``, ``mastered``,
                        ``attempted``, ``answered``, ``rated``, ``progressed``), all mapped to
                        ``activity_assessment``; a context extension :data:`SOURCE_EXTENSION` whose
                        value is one of :data:`~recommender.evidence.SOURCES` overrides it (e.g.
                        ``observation``). ``voided`` and other verbs are rejected.
``object.id``           the competency, in this order: (1) ``iri_map[object.id]`` if given (a table
                        of IRIs, e.g. CASE CFItem URIs, to competency ids); (2) an IRI whose path
                        ends in ``/competencies/<competency_id>`` or a URN
                        ``urn:pdrec:competency:<competency_id>``; (3) an IRI ending in
                        ``/activities/<activity_id>`` or ``urn:pdrec:activity:<activity_id>`` of a
                        catalog activity: one record per competency the activity develops, with
                        ``activity_id`` set. Sub-statements and statement references are rejected.
``result.score``        ``raw`` with ``min`` and ``max`` -> ``score, scale_min, scale_max``; else
                        ``scaled`` -> ``score`` on the scale [0, 1] (a negative ``scaled`` is then
                        out of scale). No score: rejected.
``timestamp``           ``observed_at`` (ISO 8601; missing: rejected by validation).
``context.instructor``  ``rater_id`` (identified as the actor is), when present.
======================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

import pandas as pd

from recommender.evidence import SOURCES

__all__ = [
    "VERB_SOURCES",
    "SOURCE_EXTENSION",
    "XapiMapping",
    "statements_to_evidence",
]

VERB_SOURCES = {
    "scored": "activity_assessment",
    "passed": "activity_assessment",
    "failed": "activity_assessment",
    "completed": "activity_assessment",
    "mastered": "activity_assessment",
    "attempted": "activity_assessment",
    "answered": "activity_assessment",
    "rated": "activity_assessment",
    "progressed": "activity_assessment",
}
"""Accepted verbs (last segment of ``verb.id``) and the evidence source each maps to."""

SOURCE_EXTENSION = "urn:pdrec:xapi:source"
"""Context extension naming the evidence source explicitly (one of ``SOURCES``)."""

_REJECTION_COLUMNS = ("row", "statement_id", "field", "value", "reason")


@dataclass(frozen=True)
class XapiMapping:
    """Evidence records mapped from statements, and the statements that could not be mapped.

    Attributes
    ----------
    records : list of dict
        Evidence records (the schema of :data:`recommender.evidence.EVIDENCE_COLUMNS`).
    origin : list of int
        For each record, the 0-based position of its statement in the input.
    rejections : DataFrame
        ``row, statement_id, field, value, reason``: one row per statement not mapped.
    """

    records: list[dict]
    origin: list[int]
    rejections: pd.DataFrame


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _agent_id(agent: Any) -> str | None:
    if not isinstance(agent, Mapping):
        return None
    account = agent.get("account")
    if isinstance(account, Mapping) and isinstance(account.get("name"), str) and account["name"]:
        return account["name"]
    mbox = agent.get("mbox")
    if isinstance(mbox, str) and mbox:
        return mbox[len("mailto:"):] if mbox.lower().startswith("mailto:") else mbox
    for key in ("mbox_sha1sum", "openid"):
        if isinstance(agent.get(key), str) and agent[key]:
            return agent[key]
    return None


def _tail(iri: str, kind: str) -> str | None:
    """The id in ``urn:pdrec:<kind>:<id>`` or an IRI path ending ``/<kind>s/<id>``."""
    prefix = f"urn:pdrec:{kind}:"
    if iri.lower().startswith(prefix):
        return iri[len(prefix):] or None
    path = urlparse(iri).path.rstrip("/")
    parts = path.split("/")
    plural = {"competency": "competencies", "activity": "activities"}[kind]
    if len(parts) >= 2 and parts[-2] == plural:
        return unquote(parts[-1]) or None
    return None


def statements_to_evidence(
    statements: Iterable[Any],
    *,
    competencies: Iterable[str],
    activity_targets: Mapping[str, Iterable[str]] | None = None,
    iri_map: Mapping[str, str] | None = None,
) -> XapiMapping:
    """Map xAPI statements to evidence records (see the module docstring for the mapping).

    Parameters
    ----------
    statements : iterable
        Parsed xAPI statements (mappings); anything else is rejected with field ``statement``.
    competencies : iterable of str
        The framework's competency ids.
    activity_targets : mapping activity_id -> competency ids, optional
        The catalog's targets, for objects that name an activity.
    iri_map : mapping IRI -> competency_id, optional
        Explicit IRIs (e.g. CASE CFItem identifiers) of competencies; checked first.

    Returns
    -------
    XapiMapping

    Examples
    --------
    >>> st = {"id": "s1", "actor": {"mbox": "mailto:t1@example.org"},
    ...       "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
    ...       "object": {"id": "https://pd.example.org/competencies/INS.FA"},
    ...       "result": {"score": {"raw": 3, "min": 1, "max": 4}},
    ...       "timestamp": "2024-03-01T10:00:00Z"}
    >>> m = statements_to_evidence([st], competencies=["INS.FA"])
    >>> m.records[0]["educator_id"], m.records[0]["competency_id"], m.records[0]["score"]
    ('t1@example.org', 'INS.FA', 3.0)
    """
    known = set(competencies)
    targets = {str(a): [str(c) for c in cs] for a, cs in (activity_targets or {}).items()}
    iri_map = dict(iri_map or {})
    records: list[dict] = []
    origin: list[int] = []
    rejected: list[tuple] = []
    verbs = ", ".join(sorted(VERB_SOURCES))

    for pos, st in enumerate(statements):
        def reject(field: str, value: Any, reason: str, sid: Any = None, _pos: int = pos) -> None:
            rejected.append((_pos, "" if sid is None else str(sid), field,
                             "" if value is None else _short(value), reason))

        if not isinstance(st, Mapping):
            reject("statement", st, f"statement {pos} is a {type(st).__name__}, expected a JSON "
                   "object (an xAPI statement)")
            continue
        sid = st.get("id")
        if not isinstance(sid, str) or not sid.strip():
            reject("id", sid, "statement id is missing; it is required as the evidence_id "
                   "(idempotency key)", sid)
            continue
        sid = sid.strip()
        actor = st.get("actor")
        if isinstance(actor, Mapping) and actor.get("objectType") == "Group":
            reject("actor", actor.get("name") or "Group", "actor is a Group; evidence is about "
                   "one educator, send one statement per member", sid)
            continue
        educator = _agent_id(actor)
        if educator is None:
            reject("actor", actor, "actor has no account.name, mbox, mbox_sha1sum or openid to "
                   "identify the educator", sid)
            continue
        verb = st.get("verb")
        verb_id = verb.get("id") if isinstance(verb, Mapping) else None
        if not isinstance(verb_id, str) or not verb_id:
            reject("verb.id", verb_id, "verb.id is missing", sid)
            continue
        name = urlparse(verb_id).path.rstrip("/").rsplit("/", 1)[-1] or verb_id
        if name == "voided":
            reject("verb.id", verb_id, "voiding statements are not supported: evidence is "
                   "append-only; send a corrected statement with a new id", sid)
            continue
        if name not in VERB_SOURCES:
            reject("verb.id", verb_id, f"verb {name!r} does not report an assessment; expected "
                   f"one of: {verbs}", sid)
            continue
        source = VERB_SOURCES[name]
        context = st.get("context") if isinstance(st.get("context"), Mapping) else {}
        ext = context.get("extensions") if isinstance(context.get("extensions"), Mapping) else {}
        if SOURCE_EXTENSION in ext:
            if ext[SOURCE_EXTENSION] not in SOURCES:
                reject(f"context.extensions.{SOURCE_EXTENSION}", ext[SOURCE_EXTENSION],
                       f"source {ext[SOURCE_EXTENSION]!r} is not one of: {', '.join(SOURCES)}",
                       sid)
                continue
            source = ext[SOURCE_EXTENSION]
        obj = st.get("object")
        if not isinstance(obj, Mapping):
            reject("object", obj, "object is missing", sid)
            continue
        kind = obj.get("objectType", "Activity")
        if kind != "Activity":
            reject("object.objectType", kind, f"object is a {kind}; only Activity objects that "
                   "name a competency or a catalog activity can be mapped", sid)
            continue
        oid = obj.get("id")
        if not isinstance(oid, str) or not oid:
            reject("object.id", oid, "object.id is missing", sid)
            continue
        activity_id = None
        if oid in iri_map:
            comps = [iri_map[oid]]
        elif (c := _tail(oid, "competency")) is not None:
            comps = [c]
        elif (a := _tail(oid, "activity")) is not None:
            if a not in targets:
                reject("object.id", oid, f"activity {a!r} is not in the catalog", sid)
                continue
            activity_id, comps = a, targets[a]
        else:
            reject("object.id", oid, "object.id does not map to a competency or an activity; "
                   "expected an IRI ending in /competencies/<id> or /activities/<id>, "
                   "urn:pdrec:competency:<id>, urn:pdrec:activity:<id>, or an IRI of the "
                   "mapping table", sid)
            continue
        unknown = [c for c in comps if c not in known]
        if unknown:
            reject("object.id", oid, f"competency {unknown[0]!r} is not in the framework", sid)
            continue
        result = st.get("result") if isinstance(st.get("result"), Mapping) else {}
        score = result.get("score")
        if not isinstance(score, Mapping):
            reject("result.score", score, "result.score is missing; evidence needs a score "
                   "(scaled, or raw with min and max)", sid)
            continue
        if all(k in score for k in ("raw", "min", "max")):
            value, lo, hi = score["raw"], score["min"], score["max"]
        elif "scaled" in score:
            value, lo, hi = score["scaled"], 0.0, 1.0
        else:
            reject("result.score", score, "result.score has neither scaled nor raw with min and "
                   "max; cannot place it on a scale", sid)
            continue
        try:
            value, lo, hi = float(value), float(lo), float(hi)
        except (TypeError, ValueError):
            reject("result.score", score, "result.score values must be numbers", sid)
            continue
        rater = _agent_id(context.get("instructor"))
        for c in comps:
            records.append({
                "evidence_id": sid if len(comps) == 1 else f"{sid}#{c}",
                "educator_id": educator, "competency_id": c, "source": source,
                "score": value, "scale_min": lo, "scale_max": hi,
                "observed_at": st.get("timestamp"), "rater_id": rater,
                "activity_id": activity_id,
            })
            origin.append(pos)

    rejections = pd.DataFrame(rejected, columns=list(_REJECTION_COLUMNS)).astype(
        {"row": "int64", "statement_id": "str", "field": "str", "value": "str", "reason": "str"})
    return XapiMapping(records=records, origin=origin, rejections=rejections)
