"""Bodies of the renewal endpoints: a tenant's rules, an educator's progress and plan
(docs/renewal.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

EXAMPLE_RULES = {"name": "State licence renewal", "window_years": 5, "deadline": "2027-06-30",
                 "rules": [{"id": "total", "kind": "total", "hours": 150},
                           {"id": "interpersonal", "kind": "category",
                            "category": "interpersonal", "hours": 30}],
                 "caps": {"video_reflection": 10}, "multipliers": {"coaching_cycle": 1.5}}


class RenewalRulesIn(BaseModel):
    """A new version of the tenant's renewal rules."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"document": EXAMPLE_RULES}]})

    document: dict[str, Any] = Field(description="The rules document (docs/renewal.md)")


class RenewalRulesOut(BaseModel):
    """The tenant's current rules."""

    version: int = Field(description="1, 2, ...: each PUT stores a new version")
    document: dict[str, Any]
    uploaded_by: str
    uploaded_at: datetime | None


class RuleProgressOut(BaseModel):
    """One rule: credited hours earned (or projected, in a plan) and what is missing."""

    rule_id: str
    kind: str = Field(description="total or category")
    category: str | None
    required: float
    earned: float = Field(description="Credited hours (caps and multipliers applied)")
    missing: float
    met: bool


class RenewalProgressOut(BaseModel):
    """An educator's progress toward every rule by the deadline."""

    educator_id: str
    rules_version: int
    deadline: datetime
    window_start: datetime = Field(description="Completions after it (up to the deadline) count")
    days_left: int
    met: bool
    rules: list[RuleProgressOut]
    completions_counted: int
    completions_unknown: int = Field(description="In-window completions of activities not in "
                                                 "the catalog (not credited)")


class PlannedActivityOut(BaseModel):
    activity_id: str
    title: str
    format: str
    times: int
    hours: float
    credit: float


class ShortfallOut(BaseModel):
    kind: str = Field(description="rule (short by `hours`) or goal (no allowed activity)")
    id: str
    hours: float
    reason: str


class RenewalPlanOut(BaseModel):
    """The fewest-hours plan meeting every rule (and one activity per unmet goal)."""

    educator_id: str
    rules_version: int
    deadline: datetime
    feasible: bool
    total_hours: float
    activities: list[PlannedActivityOut]
    rules: list[RuleProgressOut] = Field(description="Projected: completed plus planned")
    goals: list[str] = Field(description="The unmet goals the plan covers")
    shortfalls: list[ShortfallOut]
