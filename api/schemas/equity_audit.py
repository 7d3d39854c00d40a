"""Body of ``GET /v1/admin/audit``: the tenant's latest equity audit (docs/audit.md)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class RatioOut(BaseModel):
    """One metric of one group relative to the best-served group of its attribute."""

    ratio: float | None = Field(description="Group mean over the best group's (1: as well "
                                            "served; lower-is-better metrics inverted)")
    lo: float | None = Field(description="Bootstrap 95% interval of the ratio, lower end")
    hi: float | None = Field(description="Bootstrap 95% interval of the ratio, upper end")
    adjusted: float | None = Field(description="Ratio over what the mastery gap predicts")
    adj_hi: float | None = Field(description="Bonferroni upper bound of the adjusted ratio "
                                             "(the flag reads it)")
    reference: str | None = Field(description="The best-served group")


class AuditGroupOut(BaseModel):
    """One subgroup: its size, mastery gap, each metric's mean and ratio, its flags."""

    attribute: str = Field(examples=["school"])
    value: str = Field(examples=["West"])
    n: int = Field(description="Educators in the group")
    small: bool = Field(description="Too few educators to rank or flag")
    mastery_gap: float | None = Field(description="1 - mean estimated mastery of the goals")
    means: dict[str, float | None] = Field(description="Group mean of each metric")
    ratios: dict[str, RatioOut]
    flags: list[str] = Field(description="Metrics the group is flagged on")
    flagged: bool


class EquityAuditOut(BaseModel):
    """The tenant's latest equity audit, as ``pdrec audit --tenant`` stored it."""

    version: int = Field(description="1, 2, ...: each audit run stores a new version")
    created_by: str
    created_at: datetime | None
    source: dict = Field(description="What was audited: tenant, educators, model, k")
    threshold: float = Field(description="A group below this ratio may be flagged")
    metrics: list[str]
    groups: list[AuditGroupOut]
    flagged: list[str] = Field(description="'attribute=value: metrics' of each flagged group")
