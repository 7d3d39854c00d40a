"""Teams (named groups of educators in a tenant) and their shared next steps."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.schemas.common import AddressableId, Format, ModelInfo, ProfileText, whole_number

MAX_TEAM_MEMBERS = 500
"""How many members a team may have (a school's staff fits)."""


class TeamIn(BaseModel):
    """The team's name and members (educator ids; repeats are dropped); replaces what was
    there."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "name": "Grade 7 math PLC", "members": ["T-0017", "T-0018", "T-0021"]}]})

    name: ProfileText = ""
    members: list[AddressableId] = Field(min_length=1, max_length=MAX_TEAM_MEMBERS)


class TeamOut(BaseModel):
    team_id: str
    name: str
    members: list[str]
    created_at: datetime
    updated_at: datetime


class TeamListOut(BaseModel):
    total: int = Field(description="The tenant's teams, all pages")
    limit: int
    offset: int
    items: list[TeamOut] = Field(description="This page, in team id order")


class TeamRecommendationsIn(BaseModel):
    """What the team's shared steps are asked."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "k": 3, "max_hours": 20}]})

    k: int = Field(3, ge=1, le=20, strict=True, description="How many shared steps")
    max_hours: float | None = Field(None, gt=0, le=10000,
                                    description="Hour budget for the whole list")
    formats: list[Format] | None = Field(
        None, max_length=50,
        description="Formats a team can take together, words of the catalog's vocabulary; "
                    "omitted: plc_cycle, lesson_study, peer_observation, coaching_cycle")
    activities: list[AddressableId] = Field(
        default_factory=list, max_length=1000,
        description="Further activity ids the team can take together, whatever their format")
    gate_threshold: float = Field(0.5, ge=0, le=1, description=(
        "A member is not ready for a step when an unmastered target has a direct prerequisite "
        "below this"))

    objective: Literal["finish", "goal", "gain"] = Field("finish", description=(
        "What steps are ranked by: finish, the share of each member's remaining way to their "
        "goals the step covers, summed over members, per hour; goal, the sum over members of "
        "the ranker's goal part (goal hours saved per hour, relative to each member's best "
        "step); gain, the team's expected gain toward goals per hour"))

    _whole_k = field_validator("k", mode="before")(whole_number)


class MemberFitOut(BaseModel):
    educator_id: str
    expected_gain: float = Field(description="Expected mastery gain toward the member's goals")
    readiness: float = Field(description="The ranker's readiness of the member for the step")
    status: Literal["fits", "not_ready", "mastered", "closed", "no_goal_gain"]
    weak_prerequisite: str | None = Field(None, description="For not_ready: the weakest "
                                                            "direct prerequisite")
    weak_prerequisite_p: float | None = None


class TeamStepOut(BaseModel):
    rank: int
    activity_id: str
    title: str
    format: str
    hours: float
    team_gain: float = Field(description="Sum of the members' expected gains")
    gain_per_hour: float = Field(description="team_gain / (hours + the ranker's step overhead)")
    score: float = Field(description="What the steps are ranked by (the request's objective)")
    reason: str
    not_ready: list[str] = Field(description="Members whose prerequisites are far below it")
    mastered: list[str] = Field(description="Members who already master every target")
    members: list[MemberFitOut]


class TeamRecommendationsOut(BaseModel):
    team_id: str
    request_id: str
    model: ModelInfo
    not_found: list[str] = Field(description="Members with no educator record in the tenant "
                                             "(left out of the ranking)")
    steps: list[TeamStepOut]
