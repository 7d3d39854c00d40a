"""An educator's profile and goals, and their mastery estimates."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.schemas.common import AddressableId, ModelInfo, ProfileText, whole_number


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    years_experience: int | None = Field(None, ge=0, le=80, strict=True,
                                         description="Whole years (a JSON integer)")
    role: ProfileText | None = Field(None, examples=["classroom_teacher"])
    subject: ProfileText | None = Field(None, examples=["math"])
    grade_band: ProfileText | None = Field(None, examples=["middle"])

    _whole_years = field_validator("years_experience", mode="before")(whole_number)


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
    p_mastery: float = Field(description="The mastery level the estimate expects")
    n_evidence: int
    p_bound: float = Field(description=(
        "Lower credible bound of the level; the competency counts as mastered only when it "
        "reaches mastery_threshold (stopping work on a goal too early costs more than one "
        "step too many). Equal to p_mastery when the estimate has no uncertainty of its own"))
    mastered: bool = Field(description="p_bound >= mastery_threshold: what the ranker and "
                                       "the pathway treat as mastered")
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
