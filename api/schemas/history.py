"""The educator list (at a glance) and an educator's evidence and feedback history."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


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
    used: bool = Field(True, description="Whether the record feeds decisions (docs/firewall.md)")
    excluded_by: Literal["policy", "consent"] | None = Field(
        None, description="Why it does not: the tenant's evidence policy, or the educator's "
                          "withdrawn consent (null: used)")


class EducatorEvidenceOut(BaseModel):
    educator_id: str
    count: int
    items: list[EvidenceItemOut]
    hidden: int = Field(0, description="Records of sources the caller's role may not read "
                                       "(left out of `items`)")
    evidence_policy: str = Field("p0", description="The evidence policy version and the "
                                                   "educator's consent state (docs/firewall.md)")


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
