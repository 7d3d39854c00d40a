"""xAPI statements -> evidence records and completions: the xAPI door of the evidence contract.

:func:`statements_to_evidence` is a pure function. It maps what it can and rejects every other
statement with the field at fault, its value and a reason naming the real defect; the evidence
records it produces then go through :func:`recommender.evidence.validate_evidence` like any
other evidence, and the completions become the engine's feedback ``completed`` events.

Each statement is checked in the order of the xAPI 1.0.3 statement structure, so the reason is
the first real defect: not a JSON object; no ``actor``, an actor that is a Group or has no
identifier, or whose identifier cannot be an educator id; no ``verb`` or no ``verb.id``; no
``object``, a StatementRef without an ``id``; a voiding statement; then what pdrec needs to map
it: a verb that reports an assessment or a completion, an object naming a competency or a
catalog activity, a score or a completion, the statement ``id`` (the idempotency key, optional
in xAPI, so asked for only of a statement that would otherwise map), a timestamp in the
accepted window.

The mapping (xAPI 1.0.3 field -> evidence column):

======================  ==========================================================================
``id``                  ``evidence_id`` (required: it is the idempotency key; the contract of
                        :data:`recommender.fields.EVIDENCE_KEY`). When the object maps to several
                        competencies, one record each, ``<id>#<competency_id>``.
``actor``               ``educator_id``: an Agent's ``account.name``, else its ``mbox`` without
                        ``mailto:``, else ``mbox_sha1sum``, else ``openid``. It must be an
                        addressable id (:data:`recommender.fields.ADDRESSABLE_ID`): an ``openid``
                        is a URL, whose ``/`` no ``/v1/educators/{id}`` path can carry, so such
                        an actor is rejected (send ``account.name`` or ``mbox``), never mapped to
                        an id the endpoints cannot reach. Groups are rejected.
``verb.id``             ``source``: the verb's last path segment must be one of :data:`VERB_SOURCES`
                        (``scored``, ``passed``, ``failed``, ``completed``, ``mastered``,
                        ``attempted``, ``answered``, ``rated``, ``progressed``), all mapped to
                        ``activity_assessment``; a context extension :data:`SOURCE_EXTENSION` whose
                        value is one of :data:`~recommender.evidence.SOURCES` overrides it (e.g.
                        ``observation``). Other verbs are rejected.
``object.id``           the competency, in this order: (1) ``iri_map[object.id]`` if given (a table
                        of IRIs, e.g. CASE CFItem URIs, to competency ids); (2) an IRI whose path
                        ends in ``/competencies/<competency_id>`` or a URN
                        ``urn:pdrec:competency:<competency_id>``; (3) an IRI ending in
                        ``/activities/<activity_id>`` or ``urn:pdrec:activity:<activity_id>`` of a
                        catalog activity: one record per competency the activity develops, with
                        ``activity_id`` set; (4) a catalog activity id itself, or an IRI whose
                        last path segment (or fragment) is one (``https://lms.example.org/
                        course/ACT-030``: how an LMS names the activity it imported from our
                        catalog). Forms (1)-(3) are tried first, so an IRI ending in
                        ``/competencies/<id>`` is always a competency; an id in no form, or an
                        activity not in the catalog, is rejected with that reason.
                        Sub-statements and statement references are rejected.
``result.score``        ``raw`` with ``min`` and ``max`` -> ``score, scale_min, scale_max``; else
                        ``scaled`` -> ``score`` on the scale [0, 1] (a negative ``scaled`` is then
                        out of scale). Each must be a JSON number: ``true`` or ``"0.5"`` is refused.
``timestamp``           ``observed_at``: ISO 8601 within the window of :mod:`recommender.fields`
                        (1970-01-01 to now + 1 day). Missing: the time the statement is received,
                        as the spec has the LRS set it (xAPI 1.0.3 §2.4.7).
``context.instructor``  ``rater_id`` (identified as the actor is), when present.
======================  ==========================================================================

**Completions.** A statement on a catalog activity that reports its completion (verb
``completed`` or ``passed``; or ``result.completion: true``; or verb ``progressed`` with the cmi5 progress
extension at 100 or the video profile's progress extension at 1) is recorded as a completion of
that activity (:attr:`XapiMapping.completions`: the engine's feedback ``completed`` event, so the
activity counts as done and is not proposed again). Without a score that is all it records; with
a score it is also evidence. A completion on a competency (not an activity) without a score is
rejected: there is nothing to record.

**Voiding.** Evidence is append-only here: a voiding statement (verb
``http://adlnet.gov/expapi/verbs/voided``) is rejected with that reason, naming the statement it
targets, which stays in the estimates. It is checked as the spec requires first (its object
must be a StatementRef with an ``id``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd

from recommender.evidence import SOURCES
from recommender.fields import (
    ADDRESSABLE_ID,
    EVIDENCE_KEY,
    json_type,
    parse_times,
    problem,
    shown,
    time_reason,
    time_window,
)

__all__ = [
    "COMPLETION_VERBS",
    "PROGRESS_EXTENSIONS",
    "SOURCE_EXTENSION",
    "VERB_SOURCES",
    "VOIDED",
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

COMPLETION_VERBS = ("completed", "passed", "progressed")
"""Verbs that can report a completion (``progressed`` only at full progress; ``passed``: a
passed activity was done, as cmi5's "satisfied" reads it)."""

PROGRESS_EXTENSIONS = {
    "https://w3id.org/xapi/cmi5/result/extensions/progress": 100,
    "https://w3id.org/xapi/video/extensions/progress": 1,
}
"""Result extensions giving progress, and the value that means complete (cmi5: percent;
xAPI video profile: a fraction)."""

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
"""The verb of a voiding statement (xAPI 1.0.3 §2.3.2)."""

SOURCE_EXTENSION = "urn:pdrec:xapi:source"
"""Context extension naming the evidence source explicitly (one of ``SOURCES``)."""

_REJECTION_COLUMNS = ("row", "statement_id", "field", "value", "reason")


@dataclass(frozen=True)
class XapiMapping:
    """Evidence records and completions mapped from statements, and the statements rejected.

    Attributes
    ----------
    records : list of dict
        Evidence records (the schema of :data:`recommender.evidence.EVIDENCE_COLUMNS`).
    origin : list of int
        For each record, the 0-based position of its statement in the input.
    rejections : DataFrame
        ``row, statement_id, field, value, reason``: one row per statement not mapped.
    completions : list of dict
        ``statement_id, educator_id, activity_id, at`` (ISO 8601 text, UTC or with an offset):
        one per statement reporting the completion of a catalog activity.
    completion_origin : list of int
        For each completion, the position of its statement.
    """

    records: list[dict]
    origin: list[int]
    rejections: pd.DataFrame
    completions: list[dict] = field(default_factory=list)
    completion_origin: list[int] = field(default_factory=list)


class _Rejected(Exception):
    """One statement's defect: raised while mapping it, caught by the loop."""

    def __init__(self, field: str, value: Any, reason: str):
        super().__init__(reason)
        self.field, self.value, self.reason = field, value, reason


def _agent_id(agent: Any, where: str) -> tuple[str, str] | None:
    """``(identifier, field)`` of an Agent: account.name, mbox, mbox_sha1sum or openid."""
    if not isinstance(agent, Mapping):
        return None
    account = agent.get("account")
    if isinstance(account, Mapping) and isinstance(account.get("name"), str) and account["name"]:
        return account["name"], f"{where}.account.name"
    mbox = agent.get("mbox")
    if isinstance(mbox, str) and mbox:
        return (mbox[len("mailto:"):] if mbox.lower().startswith("mailto:") else mbox,
                f"{where}.mbox")
    for key in ("mbox_sha1sum", "openid"):
        if isinstance(agent.get(key), str) and agent[key]:
            return agent[key], f"{where}.{key}"
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


def _catalog_suffix(iri: str, targets: Mapping[str, list[str]]) -> str | None:
    """The catalog activity ``iri`` names by itself, by its last path segment or by its
    fragment (form (4) of the module docstring), else None."""
    if iri in targets:
        return iri
    parsed = urlparse(iri)
    for tail in (parsed.fragment, parsed.path.rstrip("/").rsplit("/", 1)[-1]):
        if tail and unquote(tail) in targets:
            return unquote(tail)
    return None


def _mapping(st: Mapping, key: str) -> Mapping:
    value = st.get(key)
    return value if isinstance(value, Mapping) else {}


def _number(score: Mapping, key: str) -> float:
    """``result.score.<key>`` as a float; a JSON number only (never a boolean or a string)."""
    value = score[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise _Rejected(f"result.score.{key}", value,
                        f"result.score.{key} must be a finite JSON number; got "
                        + (repr(value) if isinstance(value, float) else
                           f"{json_type(value)} {shown(value, 40)}"))
    return float(value)


def _verb_name(verb_id: str) -> str:
    return urlparse(verb_id).path.rstrip("/").rsplit("/", 1)[-1] or verb_id


def _educator(st: Mapping) -> str:
    """The educator id of a statement's actor, checked against the contract."""
    actor = st.get("actor")
    if actor is None:
        raise _Rejected("actor", None, "statement has no actor; xAPI 1.0.3 requires one (the "
                        "Agent the statement is about)")
    if not isinstance(actor, Mapping):
        raise _Rejected("actor", actor, f"actor must be an object (an Agent); got "
                        f"{json_type(actor)}")
    if actor.get("objectType") == "Group":
        raise _Rejected("actor", actor.get("name") or "Group", "actor is a Group; evidence is "
                        "about one educator, send one statement per member")
    found = _agent_id(actor, "actor")
    if found is None:
        raise _Rejected("actor", actor, "actor has no account.name, mbox, mbox_sha1sum or "
                        "openid to identify the educator")
    educator, where = found
    why = problem(educator, where, ADDRESSABLE_ID)
    if why is not None:
        raise _Rejected(where, educator, f"{why}: it cannot be an educator id that "
                        "/v1/educators/{educator_id} can address; identify the educator by "
                        "account.name or mbox")
    return educator.strip()


def _verb(st: Mapping) -> str:
    """The verb's IRI, checked for presence."""
    verb = st.get("verb")
    if verb is None:
        raise _Rejected("verb", None, "statement has no verb; xAPI 1.0.3 requires one")
    verb_id = verb.get("id") if isinstance(verb, Mapping) else None
    if not isinstance(verb_id, str) or not verb_id:
        raise _Rejected("verb.id", verb_id, "verb.id is missing; a verb is identified by an IRI")
    return verb_id


def _object(st: Mapping) -> Mapping:
    """The object, checked for presence and, for a StatementRef, its id."""
    obj = st.get("object")
    if obj is None:
        raise _Rejected("object", None, "statement has no object; xAPI 1.0.3 requires one")
    if not isinstance(obj, Mapping):
        raise _Rejected("object", obj, f"object must be a JSON object; got {json_type(obj)}")
    if obj.get("objectType") == "StatementRef" and not (isinstance(obj.get("id"), str)
                                                         and obj["id"]):
        raise _Rejected("object.id", obj.get("id"), "object is a StatementRef without an id; "
                        "a StatementRef names the statement it refers to by its id")
    return obj


def _statement_id(st: Mapping) -> str:
    sid = st.get("id")
    if sid is None or (isinstance(sid, str) and not sid.strip()):
        raise _Rejected("id", sid, "statement id is missing; pdrec needs it as the "
                        "evidence_id (idempotency key)")
    why = problem(sid, "id", EVIDENCE_KEY)
    if why is not None:
        raise _Rejected("id", sid, f"statement {why}: it is the evidence_id")
    return sid.strip()


def _completes(name: str, result: Mapping) -> bool:
    """Whether the statement reports the completion of its object."""
    if result.get("completion") is True or name in ("completed", "passed"):
        return True
    if name != "progressed":
        return False
    ext = _mapping(result, "extensions")
    return any(ext.get(key) == full and not isinstance(ext.get(key), bool)
               for key, full in PROGRESS_EXTENSIONS.items())


def statements_to_evidence(
    statements: Iterable[Any],
    *,
    competencies: Iterable[str],
    activity_targets: Mapping[str, Iterable[str]] | None = None,
    iri_map: Mapping[str, str] | None = None,
    now: pd.Timestamp | str | None = None,
) -> XapiMapping:
    """Map xAPI statements to evidence records and completions (see the module docstring).

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
    now : Timestamp or str or None
        When the statements are received (the timestamp of those without one, and the present
        of the time window); default the current UTC time.

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
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    window = time_window(now)
    rejected: list[tuple] = []
    mapped: list[tuple[int, str, Any, list[dict], dict | None]] = []

    for pos, st in enumerate(statements):
        if not isinstance(st, Mapping):
            rejected.append((pos, "", "statement", shown(st), f"statement {pos} is "
                             f"{json_type(st)}, expected a JSON object (an xAPI statement)"))
            continue
        sid = st.get("id") if isinstance(st.get("id"), str) else None
        try:
            records, completion = _map_one(st, known, targets, iri_map)
        except _Rejected as exc:
            rejected.append((pos, "" if sid is None else sid.strip(), exc.field,
                             "" if exc.value is None else shown(exc.value), exc.reason))
            continue
        mapped.append((pos, sid.strip(), st.get("timestamp"), records, completion))

    records: list[dict] = []
    origin: list[int] = []
    completions: list[dict] = []
    completion_origin: list[int] = []
    stamps = _timestamps([m[2] for m in mapped], window, now)
    for (pos, sid, raw, recs, completion), (at, why) in zip(mapped, stamps, strict=True):
        if why is not None:
            rejected.append((pos, sid, "timestamp", "" if raw is None else shown(raw), why))
            continue
        for rec in recs:
            records.append({**rec, "observed_at": at})
            origin.append(pos)
        if completion is not None:
            completions.append({**completion, "at": at})
            completion_origin.append(pos)

    rejections = pd.DataFrame(sorted(rejected), columns=list(_REJECTION_COLUMNS)).astype(
        {"row": "int64", "statement_id": "str", "field": "str", "value": "str", "reason": "str"})
    return XapiMapping(records=records, origin=origin, rejections=rejections,
                       completions=completions, completion_origin=completion_origin)


def _resolve(oid: str, known: set[str], targets: Mapping[str, list[str]],
             iri_map: Mapping[str, str]) -> tuple[str | None, list[str]]:
    """``(activity_id or None, competency ids)`` an object id names, in the order of the
    module docstring's ``object.id`` row; raises :class:`_Rejected` when it names nothing
    known."""
    activity_id = None
    if oid in iri_map:
        comps = [iri_map[oid]]
    elif (c := _tail(oid, "competency")) is not None:
        comps = [c]
    elif (a := _tail(oid, "activity")) is not None:
        if a not in targets:
            raise _Rejected("object.id", oid, f"activity {shown(a, 80)!r} is not in the catalog")
        activity_id, comps = a, targets[a]
    elif (a := _catalog_suffix(oid, targets)) is not None:
        activity_id, comps = a, targets[a]
    else:
        raise _Rejected("object.id", oid, "object.id does not map to a competency or an "
                        "activity; expected an IRI ending in /competencies/<id> or "
                        "/activities/<id>, urn:pdrec:competency:<id>, urn:pdrec:activity:<id>, "
                        "a catalog activity id or an IRI whose last path segment is one, "
                        "or an IRI of the mapping table")
    unknown = [c for c in comps if c not in known]
    if unknown:
        raise _Rejected("object.id", oid, f"competency {shown(unknown[0], 80)!r} is not in the "
                        "framework")
    return activity_id, comps


def _source(name: str, verb_id: Any, ext: Mapping) -> str:
    """The evidence source of a statement: its verb's, or the pdrec source extension's."""
    if name not in VERB_SOURCES:
        raise _Rejected("verb.id", verb_id, f"verb {name!r} does not report an assessment or a "
                        f"completion; expected one of: {', '.join(sorted(VERB_SOURCES))}")
    if SOURCE_EXTENSION not in ext:
        return VERB_SOURCES[name]
    if ext[SOURCE_EXTENSION] not in SOURCES:
        raise _Rejected(f"context.extensions.{SOURCE_EXTENSION}", ext[SOURCE_EXTENSION],
                        f"source {ext[SOURCE_EXTENSION]!r} is not one of: {', '.join(SOURCES)}")
    return ext[SOURCE_EXTENSION]


def _score(score: Mapping) -> tuple[float, float, float]:
    """``(value, scale_min, scale_max)`` of ``result.score``: raw with min and max, else scaled
    on [0, 1]."""
    if all(k in score for k in ("raw", "min", "max")):
        return _number(score, "raw"), _number(score, "min"), _number(score, "max")
    if "scaled" in score:
        return _number(score, "scaled"), 0.0, 1.0
    raise _Rejected("result.score", score, "result.score has neither scaled nor raw with "
                    "min and max; cannot place it on a scale")


def _map_one(st: Mapping, known: set[str], targets: Mapping[str, list[str]],
             iri_map: Mapping[str, str]) -> tuple[list[dict], dict | None]:
    """One statement's evidence records (without ``observed_at``) and completion, or raise
    :class:`_Rejected` with its first defect, in the order of the statement's structure."""
    educator = _educator(st)
    verb_id = _verb(st)
    obj = _object(st)
    name = _verb_name(verb_id)
    if verb_id == VOIDED or name == "voided":
        if obj.get("objectType") != "StatementRef":
            raise _Rejected("object.objectType", obj.get("objectType"), "a voiding statement's "
                            "object must be a StatementRef naming the statement it voids")
        raise _Rejected("verb.id", verb_id, f"voiding statement {obj['id']!r} not applied: "
                        "evidence is append-only here, so the voided statement stays in the "
                        "estimates; send a corrected statement with a new id")
    context = _mapping(st, "context")
    source = _source(name, verb_id, _mapping(context, "extensions"))
    kind = obj.get("objectType", "Activity")
    if kind != "Activity":
        raise _Rejected("object.objectType", kind, f"object is a {kind}; only Activity objects "
                        "that name a competency or a catalog activity can be mapped")
    oid = obj.get("id")
    if not isinstance(oid, str) or not oid:
        raise _Rejected("object.id", oid, "object.id is missing; an Activity is identified by "
                        "an IRI")
    activity_id, comps = _resolve(oid, known, targets, iri_map)
    result = _mapping(st, "result")
    completes = activity_id is not None and _completes(name, result)
    score = result.get("score")
    if score is None and completes:
        sid = _statement_id(st)
        return [], {"statement_id": sid, "educator_id": educator, "activity_id": activity_id}
    if not isinstance(score, Mapping):
        what = ("a completion is recorded only for a catalog activity"
                if _completes(name, result) else "nor does it report a completed activity")
        raise _Rejected("result.score", score, "result.score is missing; evidence needs a score "
                        f"(scaled, or raw with min and max), {what}")
    value, lo, hi = _score(score)
    sid = _statement_id(st)
    completion = ({"statement_id": sid, "educator_id": educator, "activity_id": activity_id}
                  if completes else None)
    rater = _agent_id(context.get("instructor"), "context.instructor")
    return [{
        "evidence_id": sid if len(comps) == 1 else f"{sid}#{c}",
        "educator_id": educator, "competency_id": c, "source": source,
        "score": value, "scale_min": lo, "scale_max": hi,
        "rater_id": None if rater is None else rater[0], "activity_id": activity_id,
    } for c in comps], completion


def _timestamps(raw: list[Any], window: tuple[pd.Timestamp, pd.Timestamp], now: pd.Timestamp
                ) -> list[tuple[str | None, str | None]]:
    """``(observed_at text, reason)`` per statement timestamp, checked in one vectorized pass;
    a missing timestamp is the time received (``now``), as xAPI 1.0.3 has the LRS set it."""
    received = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    text = pd.Series([v.strip() if isinstance(v, str) else np.nan for v in raw], dtype="str")
    check = parse_times(text, window)
    out = []
    for i, v in enumerate(raw):
        why = time_reason("timestamp", v, check, i, window)
        out.append((None, why) if why is not None else
                   (received if v is None else v.strip(), None))
    return out
