"""Crosswalks out, Open Badges in: the bodies of ``/v1/crosswalks`` and ``/v1/evidence/badges``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import ModelInfo
from api.schemas.evidence import Outcome


class CrosswalkCode(BaseModel):
    code: str = Field(description="The external framework's code, e.g. `3b` or `7`",
                      examples=["3b"])
    name: str = Field(description="Its name (names and codes only: the texts are copyrighted)",
                      examples=["Using Questioning and Discussion Techniques"])
    competencies: list[str] = Field(description="Competencies of the framework evidence coded "
                                                "so lands on; empty: the code maps to nothing "
                                                "(such evidence is rejected)")


class CrosswalkSchemeOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "framework": "educator", "scheme": "danielson",
        "title": "Danielson Framework for Teaching (2013)", "aliases": ["fft"],
        "codes": [{"code": "3b", "name": "Using Questioning and Discussion Techniques",
                   "competencies": ["REL.LEARNER_AGENCY", "INS.FORMATIVE"]}]}]})

    framework: str = Field(description="Our framework the crosswalk maps to")
    scheme: str = Field(description="The external framework's key, as in `danielson:3b`")
    title: str
    aliases: list[str] = Field(description="Other scheme names accepted in a code")
    codes: list[CrosswalkCode]


class CrosswalkOut(BaseModel):
    framework: str
    schemes: list[str] = Field(description="The external frameworks mapped (`GET "
                                           "/v1/crosswalks/{scheme}` for each one's codes)")
    mappings: dict[str, dict[str, list[str]]] = Field(
        description="Per competency, per scheme, the codes it relates to",
        examples=[{"INS.FORMATIVE": {"danielson": ["3b", "3d"], "intasc": ["6"]}}])
    unmapped: dict[str, str] = Field(description="Competencies that deliberately map to "
                                                 "nothing, with the reason")


class BadgeBatchIn(BaseModel):
    """Open Badges 2.0 assertions and 3.0 ``OpenBadgeCredential``s, up to ``PDREC_MAX_BATCH``.

    Each badge's recipient is matched against ``recipients`` (an email, a DID or URL, an
    identifier value; hashed OB 2.0 recipients and OB 3.0 identifiers are matched by hashing
    each key with the badge's salt); a badge no key matches goes to ``educator_id`` when given,
    else it is rejected. No network fetch ever happens: a BadgeClass (or an Achievement) given
    by URL must be in ``objects``, else that badge is rejected with the reason.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "recipients": {"alice@example.org": "T-0017"},
        "badges": [{"@context": "https://w3id.org/openbadges/v2", "type": "Assertion",
                    "id": "https://example.org/assertions/123",
                    "recipient": {"type": "email", "identity": "alice@example.org"},
                    "issuedOn": "2024-03-01T00:00:00Z",
                    "badge": "https://example.org/badges/questioning"}],
        "objects": [{"type": "BadgeClass", "id": "https://example.org/badges/questioning",
                     "name": "Questioning and discussion",
                     "alignment": [{"targetName": "Using Questioning and Discussion "
                                                  "Techniques",
                                    "targetFramework": "Danielson Framework for Teaching",
                                    "targetCode": "3b"}]}]}]})

    badges: list[Any] = Field(description="OB 2.0 Assertions or OB 3.0 OpenBadgeCredentials "
                                          "(JSON objects; anything else is rejected per item)")
    educator_id: str | None = Field(None, max_length=128, description=(
        "The educator every badge no `recipients` key matches belongs to (one educator's "
        "backpack)"))
    recipients: dict[str, str] = Field({}, description=(
        "Recipient identity -> educator id: emails (`mailto:` optional), DIDs, URLs or "
        "identifier values as the badges name their recipients"))
    objects: list[Any] = Field([], description=(
        "BadgeClasses (and OB 3.0 Achievements) the badges reference by URL, matched by `id`"))


class BadgeOutcome(BaseModel):
    index: int = Field(description="Position of the badge in `badges`")
    badge_id: str | None = Field(description="The assertion's or credential's `id`")
    status: Outcome = Field(description="A badge takes its records' worst outcome; `rejected` "
                                        "with the field, value and reason otherwise")
    educator_id: str | None = None
    evidence_ids: list[str] = Field([], description="One `micro_credential` record per "
                                                    "competency the badge's alignments map to")
    competencies: list[str] = []
    unmapped_alignments: list[str] = Field(
        [], description="Alignments of an accepted badge that map to no competency, with why")
    field: str | None = None
    value: str | None = None
    reason: str | None = None


class BadgeBatchOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "accepted": 1, "duplicate": 0, "conflict": 0, "rejected": 1, "educators_updated": 1,
        "outcomes": [
            {"index": 0, "badge_id": "https://example.org/assertions/123", "status": "accepted",
             "educator_id": "T-0017",
             "evidence_ids": ["badge:https://example.org/assertions/123#INS.FORMATIVE"],
             "competencies": ["INS.FORMATIVE"], "unmapped_alignments": []},
            {"index": 1, "badge_id": "urn:uuid:2df2ae9a", "status": "rejected",
             "field": "validUntil", "value": "2020-01-01T00:00:00Z",
             "reason": "the badge expired at 2020-01-01T00:00:00Z"}],
        "model": {"name": "graph-rule", "version": None, "fallback": True, "scope": "none"}}]})

    accepted: int
    duplicate: int
    conflict: int
    rejected: int
    educators_updated: int
    outcomes: list[BadgeOutcome]
    model: ModelInfo
