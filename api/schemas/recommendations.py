"""Recommendations (single and batch), their explanations, and pathways."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.schemas.common import AddressableId, Format, ModelInfo, whole_number

MAX_AVAILABLE = 1000
"""How many ids an ``available`` filter may name (a catalog is smaller)."""


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
            {"name": "lightgbm", "version": "3", "fallback": False, "scope": "default"},
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
    available: list[AddressableId] | None = Field(
        None, max_length=MAX_AVAILABLE,
        description="The activities these educators can take now (none outside it is proposed, "
                    "pinned or not); omitted: all. An id not in the catalog is a 404 naming it")

    _whole_k = field_validator("k", mode="before")(whole_number)


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
