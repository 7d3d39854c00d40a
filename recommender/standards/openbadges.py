"""Open Badges 2.0 assertions and 3.0 ``OpenBadgeCredential``s as micro-credential evidence.

Each badge becomes one ``micro_credential`` evidence record per competency its alignments map
to: ``score`` the framework's proficient level on its scale, ``observed_at`` the issuance
(OB 2.0 ``issuedOn``; OB 3.0 ``validFrom``, ``issuanceDate`` or ``awardedDate``),
``evidence_id`` ``badge:<badge id>#<competency_id>`` (a SHA-256 of the badge id, or of the badge
itself when it has no id, when the id would not make a clean key), so resending a badge is a
duplicate, never a second record.

The checks are structural and ours, in this order; a badge is rejected by the first it fails,
with the field, the value and the reason, and never takes the other badges down:

- the item is a JSON object typed ``Assertion`` (2.0) or ``OpenBadgeCredential`` /
  ``AchievementCredential`` (3.0); a BadgeClass, Issuer, Endorsement or EndorsementCredential
  is not an award;
- OB 2.0 ``revoked: true`` is a revocation; an ``expires`` (2.0) or ``validUntil`` /
  ``expirationDate`` (3.0) before ``now`` an expiry (OB 3.0 ``credentialStatus`` lists are not
  fetched: no network);
- the issuance time is present and a timestamp (the evidence window is checked downstream);
- the recipient maps to an educator: OB 2.0 ``recipient.identity`` (plain, or hashed
  ``sha256$...``/``md5$...`` with ``salt``, matched by hashing each ``recipients`` key), OB 3.0
  ``credentialSubject.id`` or ``identifier[].identityHash``; a key ``urn:pdrec:educator:<id>``
  names the educator directly; without a match, ``educator_id`` (when given) takes the badge;
- the BadgeClass (2.0 ``badge``) or Achievement (3.0 ``credentialSubject.achievement``) is
  embedded or given in ``objects`` under its ``id`` (a URL reference is never fetched);
- at least one of its alignments maps to a competency
  (:class:`~recommender.standards.alignments.AlignmentIndex`); the ones that do not are listed
  on the accepted badge.

Signatures and hosted verification are not checked (no network, and no well-kept, small Python
library verifies OB 3.0 Data Integrity proofs); a deployment that needs them verifies upstream.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from recommender.fields import shown
from recommender.standards.alignments import AlignmentIndex
from recommender.standards.case_elements import text

__all__ = ["BadgeMapping", "badges_to_evidence", "badge_kind"]

OB3_TYPES = ("openbadgecredential", "achievementcredential")
NOT_AWARDS = ("badgeclass", "issuer", "profile", "endorsement", "endorsementcredential",
              "alignmentobject", "achievement")
REJECTION_COLUMNS = ("row", "badge_id", "field", "value", "reason")


@dataclass
class BadgeMapping:
    """Evidence records of a batch of badges, and what became of each badge.

    ``records`` (with ``origin[i]`` the badge position of ``records[i]``) go to evidence
    validation; ``rejections`` has one row per rejected badge (:data:`REJECTION_COLUMNS`);
    ``educators``, ``competencies`` and ``unmapped`` are per badge position (empty for a
    rejected one): the educator, the competencies and the alignments that mapped to nothing.
    """

    records: list[dict]
    origin: list[int]
    rejections: pd.DataFrame
    badge_ids: list[str | None] = field(default_factory=list)
    educators: dict[int, str] = field(default_factory=dict)
    competencies: dict[int, list[str]] = field(default_factory=dict)
    unmapped: dict[int, list[str]] = field(default_factory=dict)


class _Rejected(Exception):
    def __init__(self, field: str, value: Any, reason: str):
        super().__init__(reason)
        self.field, self.value, self.reason = field, value, reason


def _types(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [v.strip().lower() for v in values if isinstance(v, str)]


def badge_kind(badge: Any) -> str | None:
    """``"ob2"`` for an Assertion, ``"ob3"`` for an OpenBadgeCredential, else ``None``."""
    types = _types(badge.get("type")) if isinstance(badge, Mapping) else []
    if any(t in OB3_TYPES for t in types):
        return "ob3"
    return "ob2" if "assertion" in types else None


def _value(value: Any) -> str | None:
    """A value as a rejection shows it (``None`` when absent)."""
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return f"an {'object' if isinstance(value, dict) else 'array'} of {len(value)} item(s)"
    return shown(value, 120)


def _time(value: Any, where: str, required: bool) -> pd.Timestamp | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _Rejected(where, None, f"{where} is missing; the issuance time dates the "
                            "micro-credential evidence")
        return None
    if not isinstance(value, str):
        raise _Rejected(where, _value(value), f"{where} must be an ISO 8601 timestamp, got "
                        f"{type(value).__name__}")
    try:
        ts = pd.Timestamp(value.strip())
    except (ValueError, OverflowError):
        ts = None
    if ts is None or ts is pd.NaT or not re.match(r"^\d{4}-\d{2}-\d{2}", value.strip()):
        raise _Rejected(where, _value(value), f"{where} {value!r} is not an ISO 8601 timestamp")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _not_expired(value: Any, where: str, now: pd.Timestamp) -> None:
    ts = _time(value, where, required=False)
    if ts is not None and ts < now:
        raise _Rejected(where, _value(value), f"the badge expired at {value}: an expired "
                        "badge is not evidence of current proficiency")


def _resolve(ref: Any, objects: Mapping[str, Mapping], where: str, what: str) -> Mapping:
    """An embedded object, or the object of ``objects`` a string reference (or ``{id}``) names."""
    if isinstance(ref, Mapping) and len(ref) > 1:
        return ref
    key = text(ref.get("id")) if isinstance(ref, Mapping) else text(ref)
    if not key:
        raise _Rejected(where, _value(ref), f"{where} is missing; expected the {what} embedded "
                        "or its id")
    if key in objects:
        return objects[key]
    raise _Rejected(where, key, f"the {what} {key!r} is referenced by URL and is not in the "
                    "request's objects; no network fetches: send it under objects")


def _plain(identity: str) -> str:
    low = identity.strip()
    return low[len("mailto:"):] if low.lower().startswith("mailto:") else low


class _Recipients:
    """Recipient identities -> educator ids, as the request gives them."""

    def __init__(self, recipients: Mapping[str, str] | None, default: str | None):
        self.keys = {_plain(str(k)): str(v) for k, v in (recipients or {}).items()}
        self.lower = {k.lower(): v for k, v in self.keys.items()}
        self.default = default
        self.hashes: dict[tuple[str, str], dict[str, str]] = {}

    def _hashed(self, algo: str, salt: str) -> dict[str, str]:
        """``{hexdigest of key + salt: educator}`` for every key (and its lower-case form),
        computed once per algorithm and salt (issuers often salt a whole batch alike)."""
        table = self.hashes.get((algo, salt))
        if table is None:
            table = self.hashes[(algo, salt)] = {
                hashlib.new(algo, (key + salt).encode("utf-8")).hexdigest(): v
                for k, v in reversed(self.keys.items()) for key in {k.lower(), k}}
        return table

    def match(self, identity: str, hashed: bool, salt: str) -> str | None:
        if hashed:
            algo, _, digest = identity.partition("$")
            if algo.lower() not in ("sha256", "md5") or not digest:
                return None
            return self._hashed(algo.lower(), salt).get(digest.strip().lower())
        plain = _plain(identity)
        if plain.lower().startswith("urn:pdrec:educator:"):
            return plain[len("urn:pdrec:educator:"):] or None
        return self.keys.get(plain) or self.lower.get(plain.lower())

    def educator(self, candidates: list[tuple[str, bool, str]], where: str) -> str:
        for identity, hashed, salt in candidates:
            if (found := self.match(identity, hashed, salt)) is not None:
                return found
        if self.default:
            return self.default
        named = ", ".join(f"a hashed identity (salt {s!r})" if h else repr(i)
                          for i, h, s in candidates) or "no identity"
        raise _Rejected(where, _value(candidates[0][0]) if candidates else None,
                        f"the recipient ({named}) matches no key of recipients and the request "
                        "gives no educator_id")


def _ob2(badge: Mapping, objects: Mapping, recipients: _Recipients, now: pd.Timestamp
         ) -> tuple[str, str, list]:
    """``(educator, issued, alignments)`` of an OB 2.0 assertion, or raise its defect."""
    if badge.get("revoked") is True:
        why = text(badge.get("revocationReason"))
        raise _Rejected("revoked", "true", "the assertion is revoked"
                        + (f": {why}" if why else ""))
    _not_expired(badge.get("expires"), "expires", now)
    issued = badge.get("issuedOn")
    _time(issued, "issuedOn", required=True)
    rec = badge.get("recipient")
    if not isinstance(rec, Mapping) or not text(rec.get("identity")):
        raise _Rejected("recipient", _value(rec), "recipient must be an object with an "
                        "identity (an email, URL or telephone, plain or hashed)")
    hashed = rec.get("hashed") is True or (rec.get("hashed") is None
                                          and re.match(r"^(sha256|md5)\$", text(rec["identity"]))
                                          is not None)
    educator = recipients.educator([(text(rec["identity"]), hashed, text(rec.get("salt")))],
                                   "recipient.identity")
    cls = _resolve(badge.get("badge"), objects, "badge", "BadgeClass")
    return educator, issued, _listed(cls.get("alignment"))


def _ob3(badge: Mapping, objects: Mapping, recipients: _Recipients, now: pd.Timestamp
         ) -> tuple[str, str, list]:
    """``(educator, issued, alignments)`` of an OB 3.0 credential, or raise its defect."""
    for key in ("validUntil", "expirationDate"):
        _not_expired(badge.get(key), key, now)
    key = next((k for k in ("validFrom", "issuanceDate", "awardedDate") if badge.get(k)),
               "validFrom")
    issued = badge.get(key)
    _time(issued, key, required=True)
    subject = badge.get("credentialSubject")
    if isinstance(subject, list) and len(subject) == 1:
        subject = subject[0]
    if not isinstance(subject, Mapping):
        raise _Rejected("credentialSubject", _value(subject), "credentialSubject must be one "
                        "object (an AchievementSubject)")
    candidates = [(text(subject["id"]), False, "")] if text(subject.get("id")) else []
    for ident in _listed(subject.get("identifier")):
        if isinstance(ident, Mapping) and text(ident.get("identityHash")):
            candidates.append((text(ident["identityHash"]), ident.get("hashed") is True,
                               text(ident.get("salt"))))
    educator = recipients.educator(candidates, "credentialSubject")
    ach = _resolve(subject.get("achievement"), objects, "credentialSubject.achievement",
                   "Achievement")
    return educator, issued, _listed(ach.get("alignment"))


def _listed(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _evidence_id(badge: Mapping, badge_id: str | None, competency: str) -> str:
    if badge_id and len(badge_id) <= 150 and badge_id.isprintable():
        return f"badge:{badge_id}#{competency}"
    basis = badge_id or json.dumps(badge, sort_keys=True, default=str)
    return f"badge:sha256:{hashlib.sha256(basis.encode('utf-8', 'replace')).hexdigest()[:32]}" \
           f"#{competency}"


def _one(badge: Any, objects: Mapping, recipients: _Recipients, index: AlignmentIndex,
         now: pd.Timestamp) -> tuple[str, str, list[str], list[str]]:
    """``(educator, issued, competencies, unmapped alignments)`` of one badge, or raise."""
    if not isinstance(badge, Mapping):
        raise _Rejected("badge", _value(badge), f"a badge must be a JSON object, got "
                        f"{type(badge).__name__}")
    kind = badge_kind(badge)
    if kind is None:
        sent = [t for t in _listed(badge.get("type")) if isinstance(t, str)]
        what = next((t for t in sent if t.strip().lower() in NOT_AWARDS), None)
        raise _Rejected("type", _value(badge.get("type")),
                        f"type {what} is not the award of a badge; send the Assertion (2.0) or "
                        "the OpenBadgeCredential (3.0)" if what else
                        f"type {', '.join(map(repr, sent)) or 'missing'}: expected an Open "
                        "Badges 2.0 Assertion or a 3.0 OpenBadgeCredential")
    educator, issued, alignments = (_ob2 if kind == "ob2" else _ob3)(badge, objects,
                                                                      recipients, now)
    where = "badge.alignment" if kind == "ob2" else "credentialSubject.achievement.alignment"
    if not alignments:
        raise _Rejected(where, None, "the badge has no alignment, so it says nothing about a "
                        "competency; align it to a competency, a CASE item or a framework "
                        "code such as danielson:3b")
    comps: list[str] = []
    unmapped: list[str] = []
    for align in alignments:
        found, reason = index.resolve(align)
        comps += [c for c in found if c not in comps]
        if reason:
            unmapped.append(reason)
    if not comps:
        raise _Rejected(where, _value(alignments), "no alignment maps to a competency: "
                        + "; ".join(unmapped))
    return educator, issued, comps, unmapped


def badges_to_evidence(badges: Sequence[Any], *, index: AlignmentIndex,
                       recipients: Mapping[str, str] | None = None,
                       educator_id: str | None = None, objects: Sequence[Any] = (),
                       scale: Mapping[str, float] | None = None,
                       now: pd.Timestamp | None = None) -> BadgeMapping:
    """Map badges to ``micro_credential`` evidence records; reject each bad badge with a reason.

    ``scale`` is the framework's (``min``, ``max``, ``proficient``; default 1, 4, 3): a badge
    scores ``proficient``. ``objects`` are the BadgeClasses/Achievements badges reference by
    URL (matched by ``id``). Never raises on JSON input.
    """
    now = pd.Timestamp.now(tz="UTC") if now is None else now
    scale = dict(scale or {"min": 1, "max": 4, "proficient": 3})
    by_id = {text(o.get("id")): o for o in objects if isinstance(o, Mapping) and text(o.get("id"))}
    who = _Recipients(recipients, educator_id)
    out = BadgeMapping([], [], pd.DataFrame(columns=list(REJECTION_COLUMNS)))
    rejected = []
    for i, badge in enumerate(badges):
        badge_id = text(badge.get("id")) or None if isinstance(badge, Mapping) else None
        out.badge_ids.append(badge_id)
        try:
            educator, issued, comps, unmapped = _one(badge, by_id, who, index, now)
        except _Rejected as exc:
            rejected.append((i, badge_id, exc.field, exc.value, exc.reason))
            continue
        except Exception as exc:  # noqa: BLE001 - a defect of ours must not sink the batch
            rejected.append((i, badge_id, "badge", None, f"could not be read: {exc!r}"))
            continue
        out.educators[i], out.competencies[i], out.unmapped[i] = educator, comps, unmapped
        for comp in comps:
            out.records.append({
                "evidence_id": _evidence_id(badge, badge_id, comp), "educator_id": educator,
                "competency_id": comp, "source": "micro_credential",
                "score": scale["proficient"], "scale_min": scale["min"],
                "scale_max": scale["max"], "observed_at": issued})
            out.origin.append(i)
    if rejected:
        out.rejections = pd.DataFrame(rejected, columns=list(REJECTION_COLUMNS))
    return out
