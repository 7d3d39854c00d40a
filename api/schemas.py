"""Request and response bodies (pydantic), with the examples shown in the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from recommender.catalog import FORMATS
from recommender.fields import ADDRESSABLE_ID, ISO_8601, REFERENCE_ID, Rule, problem

__all__ = [
    "ModelInfo",
    "ErrorDetail",
    "ErrorBody",
    "ErrorResponse",
    "EvidenceRecordIn",
    "EvidenceBatchIn",
    "EvidenceOutcome",
    "EvidenceBatchOut",
    "XapiBatchIn",
    "XapiOutcome",
    "XapiBatchOut",
    "EducatorIn",
    "EducatorOut",
    "MasteryItem",
    "MasteryOut",
    "CitedEvidence",
    "Contribution",
    "TargetExplanation",
    "PrerequisiteMastery",
    "ScoreParts",
    "Explanation",
    "RecommendationItem",
    "RecommendationsOut",
    "BatchRecommendationsIn",
    "BatchRecommendationsOut",
    "PathwayStepOut",
    "PathwayOut",
    "FeedbackEventIn",
    "FeedbackIn",
    "FeedbackOut",
    "HealthOut",
    "ReadyOut",
    "ReloadOut",
    "KeyIn",
    "KeyOut",
    "EducatorListOut",
    "EducatorEvidenceOut",
    "EducatorFeedbackOut",
]

Format = Literal[FORMATS]  # type: ignore[valid-type]


def held_to(rule: Rule) -> Any:
    """A string type held to a rule of the field contract (:mod:`recommender.fields`).

    Surrounding whitespace is stripped; a value breaking the rule fails with the rule's own
    reason (naming the field, the offence and the rule). The OpenAPI schema states the rule's
    lengths and characters, so generated clients and fuzzers know them.
    """
    def check(value: str, info: ValidationInfo) -> str:
        text = value.strip()
        reason = problem(text, info.field_name or "value", rule)
        if reason is not None:
            raise ValueError(reason)
        return text

    return Annotated[str, AfterValidator(check), Field(json_schema_extra={
        "minLength": rule.min_length, "maxLength": rule.max_length, "pattern": rule.pattern})]


AddressableId = held_to(ADDRESSABLE_ID)
"""An id that is a path segment of the API (educator, competency and activity ids)."""
ReferenceId = held_to(REFERENCE_ID)
"""An id only stored and shown (who sent a feedback event)."""
ProfileText = held_to(Rule("a profile value", 64, min_length=0))
Note = held_to(Rule("a note", 2000, min_length=0, multiline=True))
Label = held_to(Rule("a label", 200, min_length=0))
TimeText = Annotated[str, Field(max_length=64, json_schema_extra={
    "format": "date-time", "pattern": f"^{ISO_8601}$"})]
"""An ISO 8601 time as sent; the route checks its syntax and window with the field contract's
one vectorized parser (:func:`recommender.fields.parse_times`), which words the reasons."""


def _whole(value: Any) -> Any:
    """A JSON number with no fractional part (``4.0``) as the integer it is: JSON has one
    number type and JSON Schema's ``integer`` admits it. Anything else goes on unchanged to a
    strict integer check (a boolean, a string or ``4.5`` is refused)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


FeedbackEvent = Literal["accepted", "declined", "started", "completed", "rated",
                        "pinned", "unpinned", "replaced", "noted"]

_EVIDENCE_EXAMPLE = {
    "evidence_id": "obs-2024-03-01-t17-fa", "educator_id": "T-0017",
    "competency_id": "INS.FORMATIVE", "source": "observation", "score": 3,
    "scale_min": 1, "scale_max": 4, "observed_at": "2024-03-01T14:30:00Z",
    "rater_id": "R-004", "activity_id": None,
}


class ModelInfo(BaseModel):
    """The estimator behind an answer: the champion model, or the graph rule (``fallback``)."""

    name: str = Field(examples=["lightgbm", "graph-rule"])
    version: str | None = Field(examples=["3", None])
    fallback: bool


class ErrorDetail(BaseModel):
    field: str | None = None
    value: Any = None
    reason: str


class ErrorBody(BaseModel):
    status: int
    code: str
    message: str
    details: list[ErrorDetail] = []


class ErrorResponse(BaseModel):
    """Every 4xx and 5xx answer has this body."""

    error: ErrorBody


class EvidenceRecordIn(BaseModel):
    """One observation of one competency (fields are checked per record by the engine)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [_EVIDENCE_EXAMPLE]})

    evidence_id: Any = Field(None, description="Idempotency key, unique per tenant (required)")
    educator_id: Any = Field(None, description="Who was observed (required); created if new")
    competency_id: Any = Field(None, description="A competency id of the framework (required)")
    source: Any = Field(None, description="observation, micro_credential, student_growth, "
                                          "self_assessment, activity_assessment or peer_review")
    score: Any = Field(None, description="Score on the record's scale (required)")
    scale_min: Any = Field(None, description="Bottom of the scale (default 1)")
    scale_max: Any = Field(None, description="Top of the scale (default 4)")
    observed_at: Any = Field(None, description="ISO 8601 time; naive times are UTC (required)")
    rater_id: Any = None
    activity_id: Any = None


class EvidenceBatchIn(BaseModel):
    """Up to ``PDREC_MAX_BATCH`` (default 5,000) records; more is answered 413. A bare JSON
    array of records is accepted too. Every item must be a JSON object (else 422, nothing
    stored); its fields are checked per record."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"records": [_EVIDENCE_EXAMPLE]}]})

    records: list[EvidenceRecordIn]


Outcome = Literal["accepted", "duplicate", "conflict", "rejected"]
_OUTCOME = ("`accepted`: stored by this request (exactly one request hears it per evidence_id); "
            "`duplicate`: the record stored under this evidence_id is this same record; "
            "`conflict`: the record stored under this evidence_id says something else (nothing "
            "changed; `field`, `value` and `reason` name the differences); `rejected`: invalid "
            "(`field`, `value`, `reason`)")


class EvidenceOutcome(BaseModel):
    index: int = Field(description="Position of the record in the request")
    evidence_id: str | None
    status: Outcome = Field(description=_OUTCOME)
    field: str | None = None
    value: str | None = None
    reason: str | None = None


class EvidenceBatchOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "accepted": 1, "duplicate": 0, "conflict": 0, "rejected": 1, "educators_updated": 1,
        "outcomes": [
            {"index": 0, "evidence_id": "obs-1", "status": "accepted"},
            {"index": 1, "evidence_id": "obs-2", "status": "rejected", "field": "score",
             "value": "7", "reason": "score 7 is outside its scale [1, 4]"}],
        "model": {"name": "graph-rule", "version": None, "fallback": True}}]})

    accepted: int
    duplicate: int
    conflict: int
    rejected: int
    educators_updated: int
    outcomes: list[EvidenceOutcome]
    model: ModelInfo


class XapiBatchIn(BaseModel):
    """xAPI 1.0.3 statements; a bare JSON array of statements (as xAPI clients post them) is
    accepted too. Every item must be a JSON object (else 422, nothing stored); its content is
    checked per statement."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"statements": [{
        "id": "2a41c918-b88b-4220-a5a4-c32391a24001",
        "actor": {"account": {"homePage": "https://pd.example.org", "name": "T-0017"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
        "object": {"id": "https://pd.example.org/xapi/competencies/INS.FORMATIVE",
                   "objectType": "Activity"},
        "result": {"score": {"scaled": 0.85, "raw": 85, "min": 0, "max": 100}},
        "timestamp": "2024-03-01T14:30:00Z"}]}]})

    statements: list[dict[str, Any]] = Field(
        description="xAPI statements (JSON objects)")


class XapiOutcome(BaseModel):
    index: int
    statement_id: str | None
    status: Outcome = Field(description=_OUTCOME + "; a statement takes its records' worst")
    evidence_ids: list[str] = []
    completed_activity: str | None = Field(
        None, description="The catalog activity the statement records as completed (a feedback "
                          "`completed` event, stored once per statement id)")
    field: str | None = None
    value: str | None = None
    reason: str | None = None


class XapiBatchOut(BaseModel):
    accepted: int
    duplicate: int
    conflict: int
    rejected: int
    educators_updated: int
    outcomes: list[XapiOutcome]
    model: ModelInfo


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    years_experience: int | None = Field(None, ge=0, le=80, strict=True,
                                         description="Whole years (a JSON integer)")
    role: ProfileText | None = Field(None, examples=["classroom_teacher"])
    subject: ProfileText | None = Field(None, examples=["math"])
    grade_band: ProfileText | None = Field(None, examples=["middle"])

    _whole_years = field_validator("years_experience", mode="before")(_whole)


class EducatorIn(BaseModel):
    """Profile and goals (competency ids, most important first); replaces what was there."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "profile": {"years_experience": 4, "role": "classroom_teacher", "subject": "math",
                    "grade_band": "middle"},
        "goals": ["INS.FORMATIVE"]}]})

    profile: Profile = Field(default_factory=Profile)
    goals: list[AddressableId] = Field(default_factory=list, max_length=50)


class EducatorOut(BaseModel):
    educator_id: str
    profile: dict
    goals: list[str]
    created_at: datetime
    updated_at: datetime
    n_evidence: int | None = None


class MasteryItem(BaseModel):
    competency_id: str
    name: str
    domain: str
    p_mastery: float
    n_evidence: int
    mastered: bool
    uncertainty: float | None = Field(
        None, description="Standard error of p_mastery from the evidence count "
                          "(recommender.uncertainty)")
    interval: list[float] | None = Field(None, description="90% interval [low, high]")


class MasteryOut(BaseModel):
    educator_id: str
    model: ModelInfo
    computed_at: datetime
    mastery_threshold: float
    competencies: list[MasteryItem]


class CitedEvidence(BaseModel):
    """One of the educator's own evidence records behind a target's estimate."""

    evidence_id: str
    source: str = Field(examples=["observation"])
    score: float = Field(description="On the record's own scale [scale_min, scale_max]")
    scale_min: float
    scale_max: float
    observed_at: datetime
    rater_id: str | None = None
    influence: float | None = Field(
        None, description="How far the record moved the mastery belief (logits); null when "
                          "not measured or when it acted through the model prior")


class Contribution(BaseModel):
    """One thing a target's estimate rests on, in words a coach reads."""

    kind: Literal["evidence", "completion", "prerequisite", "model"] = Field(
        description="evidence: the records of one source on one scale; completion: an activity "
                    "completed on the competency; prerequisite: a direct prerequisite's mastery; "
                    "model: a feature contribution of the mastery model")
    text: str = Field(examples=["3 observation scores averaging 2.1 of 4 (latest 2026-10-02)"])
    competency_id: str
    value: float | None = Field(None, description="The number the text quotes (mean score, share "
                                                  "proficient, prerequisite mastery); null for a "
                                                  "completion")


class TargetExplanation(BaseModel):
    """A competency the activity develops: its mastery, the evidence cited and why."""

    competency_id: str
    name: str
    p_mastery: float
    uncertainty: float | None = None
    weight: float = Field(description="Share of the activity aimed at this competency")
    gain: float = Field(description="Expected gain in P(mastery) at full weight")
    evidence: list[CitedEvidence] = Field(
        description="The educator's own records on it, most influential first (then newest), "
                    "at most 5")
    contributions: list[Contribution] = Field(description="Most important first, at most 5")


class PrerequisiteMastery(BaseModel):
    competency_id: str
    name: str
    p_mastery: float


class ScoreParts(BaseModel):
    """The parts of the score (``score`` is the weighted parts minus the penalty)."""

    need: float
    readiness: float
    gain: float
    cost: float
    goal: float
    diversity_penalty: float


_EXPLANATION_EXAMPLE = {
    "targets": [{
        "competency_id": "INS.FORMATIVE", "name": "Formative assessment", "p_mastery": 0.41,
        "uncertainty": 0.12, "weight": 1.0, "gain": 0.14,
        "evidence": [
            {"evidence_id": "obs-2026-10-02-t17", "source": "observation", "score": 2,
             "scale_min": 1, "scale_max": 4, "observed_at": "2026-10-02T14:30:00Z",
             "rater_id": "R-004", "influence": None},
            {"evidence_id": "mc-2026-07-01-t17", "source": "micro_credential", "score": 3,
             "scale_min": 1, "scale_max": 4, "observed_at": "2026-07-01T09:00:00Z",
             "rater_id": None, "influence": None}],
        "contributions": [
            {"kind": "evidence", "text": "3 observation scores averaging 2.1 of 4 "
                                         "(latest 2026-10-02)",
             "competency_id": "INS.FORMATIVE", "value": 2.1},
            {"kind": "evidence", "text": "1 micro-credential: proficient (2026-07-01)",
             "competency_id": "INS.FORMATIVE", "value": 1.0},
            {"kind": "prerequisite", "text": "prerequisite Assessment literacy at 0.59",
             "competency_id": "INS.FORMATIVE", "value": 0.59}]}],
    "ready_because": [{"competency_id": "COG.ASSESS_LIT", "name": "Assessment literacy",
                       "p_mastery": 0.59}],
    "prerequisite_gaps": [],
    "evidence_ids": ["obs-2026-10-02-t17", "mc-2026-07-01-t17"],
    "top_contributions": [
        {"kind": "evidence", "text": "3 observation scores averaging 2.1 of 4 (latest 2026-10-02)",
         "competency_id": "INS.FORMATIVE", "value": 2.1}],
    "expected_gain": 0.08, "goal": "INS.FORMATIVE", "model_version": "3",
    "score_parts": {"need": 0.59, "readiness": 0.8, "gain": 0.08, "cost": 0.3, "goal": 0.5,
                    "diversity_penalty": 0.0},
}


class Explanation(BaseModel):
    """Why an activity is proposed, and the evidence it rests on (``explain=true``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXPLANATION_EXAMPLE]})

    targets: list[TargetExplanation] = Field(description="Primary target first")
    ready_because: list[PrerequisiteMastery] = Field(
        description="Direct prerequisites of unmastered targets at or above the gate threshold")
    prerequisite_gaps: list[PrerequisiteMastery] = Field(description="Those below it")
    evidence_ids: list[str] = Field(description="Every record cited on the targets, once")
    top_contributions: list[Contribution] = Field(
        description="The most important contributions over the targets, at most 5")
    expected_gain: float
    goal: str | None = Field(None, description="The goal the activity serves, if any")
    model_version: str | None = None
    score_parts: ScoreParts


class RecommendationItem(BaseModel):
    rank: int
    activity_id: str
    title: str
    format: str
    hours: float
    score: float
    reason: str
    pinned: bool
    explanation: Explanation | None = Field(None, description="With `explain=true`")


class RecommendationsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "educator_id": "T-0017", "request_id": "0c6e...", "model":
            {"name": "lightgbm", "version": "3", "fallback": False},
        "items": [{"rank": 1, "activity_id": "ACT-030", "title": "Equity-focused coaching cycle",
                   "format": "coaching_cycle", "hours": 8.0, "score": 0.99,
                   "reason": "Builds Equity orientation (mastery 0.50); 8 h, expected gain +0.14.",
                   "pinned": False, "explanation": _EXPLANATION_EXAMPLE}]}]})

    educator_id: str
    request_id: str
    model: ModelInfo
    items: list[RecommendationItem]


class BatchRecommendationsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "educator_ids": ["T-0017", "T-0018"], "k": 3, "max_hours": 20,
        "formats": ["course", "coaching_cycle"]}]})

    educator_ids: list[AddressableId] = Field(min_length=1)
    k: int = Field(5, ge=1, le=50, strict=True)
    max_hours: float | None = Field(None, gt=0, le=10000, strict=True)
    formats: list[Format] | None = Field(None, min_length=1)

    _whole_k = field_validator("k", mode="before")(_whole)


class BatchResult(BaseModel):
    educator_id: str
    items: list[RecommendationItem]


class BatchRecommendationsOut(BaseModel):
    request_id: str
    model: ModelInfo
    results: list[BatchResult]
    not_found: list[str] = Field(description="Ids with no educator in the caller's tenant")


class PathwayStepOut(BaseModel):
    step: int
    competency_id: str
    name: str
    activity_id: str
    activity_title: str
    hours: float
    p_before: float
    p_after: float
    readiness: float


class PathwayOut(BaseModel):
    educator_id: str
    request_id: str
    model: ModelInfo
    goals: list[str]
    steps: list[PathwayStepOut]
    total_hours: float
    unreachable: list[str]


def _needs(event: str, field: str, schema: dict) -> dict:
    """JSON Schema: an event of this kind must carry ``field``, valid as ``schema``."""
    return {"if": {"properties": {"event": {"const": event}}, "required": ["event"]},
            "then": {"properties": {field: schema}, "required": [field]}}


class FeedbackEventIn(BaseModel):
    """One event. ``pinned``, ``unpinned`` and ``replaced`` are coach overrides (role coach or
    admin); ``rated`` needs ``rating`` (1-5), ``replaced`` needs ``replaces``, ``noted`` a
    ``note`` that is not blank (the schema states these as conditions on ``event``)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"allOf": [
        _needs("rated", "rating", {"type": "integer", "minimum": 1, "maximum": 5}),
        _needs("replaced", "replaces", {"type": "string"}),
        _needs("noted", "note", {"type": "string", "pattern": r"\S"}),
    ]})

    educator_id: AddressableId
    activity_id: AddressableId
    event: FeedbackEvent
    at: TimeText | None = Field(None, description="When (default: now): ISO 8601, naive times "
                                                  "are UTC, from 1970-01-01 to now + 1 day")
    rating: int | None = Field(None, ge=1, le=5, strict=True)
    replaces: AddressableId | None = None
    by: ReferenceId | None = Field(None, description="Who, e.g. a coach id")
    note: Note | None = None

    _whole_rating = field_validator("rating", mode="before")(_whole)


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"events": [
        {"educator_id": "T-0017", "activity_id": "ACT-030", "event": "accepted"},
        {"educator_id": "T-0017", "activity_id": "ACT-012", "event": "replaced",
         "replaces": "ACT-030", "by": "coach-7"}]}]})

    events: list[FeedbackEventIn] = Field(min_length=1, max_length=1000)


class FeedbackOut(BaseModel):
    stored: int
    educators_updated: int


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    ready: bool
    store: dict
    model: dict


class ReloadOut(BaseModel):
    previous: ModelInfo
    model: ModelInfo
    reason: str | None = None


class RaterSeverity(BaseModel):
    """One observer's severity, learned from the served model's training evidence."""

    rater_id: str
    n_ratings: int = Field(description="Observation records by this rater in the training data")
    severity: float = Field(description="Logits of latent skill: positive means harsher than "
                                        "the other evidence about the same educators, negative "
                                        "more lenient; shrunk toward 0 for raters with few "
                                        "ratings")
    severity_low: float = Field(description="90% interval, low end")
    severity_high: float = Field(description="90% interval, high end")


class RatersOut(BaseModel):
    model: ModelInfo
    raters: list[RaterSeverity]
    note: str | None = Field(None, description="Why the list is empty, when it is")

    model_config = {"json_schema_extra": {"examples": [{
        "model": {"name": "lightgbm", "version": "5", "fallback": False},
        "raters": [{"rater_id": "R00002", "n_ratings": 308, "severity": 1.32,
                    "severity_low": 1.15, "severity_high": 1.49}],
        "note": None}]}}


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["platform", "coach", "admin"]
    label: Label = ""


class KeyOut(BaseModel):
    key_id: str
    tenant_id: str
    role: str
    label: str
    created_at: datetime
    revoked_at: datetime | None = None
    key: str | None = Field(None, description="The secret: shown once, at creation")


class GoalGlance(BaseModel):
    competency_id: str
    name: str
    p_mastery: float
    mastered: bool


class Progress(BaseModel):
    scope: Literal["goals", "all"] = Field(
        description="goals: the goals and their prerequisites; all: every competency")
    mastered: int
    total: int


class EducatorGlance(BaseModel):
    educator_id: str
    profile: dict
    goals: list[GoalGlance]
    progress: Progress
    n_evidence: int
    last_evidence_at: datetime | None
    updated_at: datetime


class EducatorListOut(BaseModel):
    total: int = Field(description="Educators matching the search, all pages")
    limit: int
    offset: int
    mastery_threshold: float
    items: list[EducatorGlance]


class EvidenceItemOut(BaseModel):
    evidence_id: str
    competency_id: str
    source: str
    score: float
    scale_min: float
    scale_max: float
    score_norm: float
    proficient: bool
    observed_at: datetime
    rater_id: str | None = None
    activity_id: str | None = None


class EducatorEvidenceOut(BaseModel):
    educator_id: str
    count: int
    items: list[EvidenceItemOut]


class FeedbackEventOut(BaseModel):
    feedback_id: int
    activity_id: str
    event: str
    at: datetime
    rating: int | None = None
    replaces: str | None = None
    by: str | None = None
    note: str | None = None
    key_id: str | None = None


class FeedbackState(BaseModel):
    pinned: list[str]
    in_progress: list[str]
    declined: list[str]
    completed: list[str]


class EducatorFeedbackOut(BaseModel):
    educator_id: str
    events: list[FeedbackEventOut]
    state: FeedbackState
    titles: dict[str, str] = Field(description="Titles of the activities named above")
