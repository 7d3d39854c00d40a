"""Health and readiness, model reload, rater severities, API keys and the evidence clock."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import AddressableId, Label, ModelInfo


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    ready: bool
    store: dict
    model: dict


class ReloadOut(BaseModel):
    previous: ModelInfo = Field(description="What served the caller's tenant before")
    model: ModelInfo = Field(description="What serves the caller's tenant now: its own "
                                         "champion (scope tenant) or the default one")
    default: ModelInfo | None = Field(None, description="The default champion now")
    reason: str | None = Field(None, description="Why the default is the graph rule, when it is")


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
        "model": {"name": "lightgbm", "version": "5", "fallback": False, "scope": "default"},
        "raters": [{"rater_id": "R00002", "n_ratings": 308, "severity": 1.32,
                    "severity_low": 1.15, "severity_high": 1.49}],
        "note": None}]}}


_EDUCATOR_KEY_RULE = {
    "if": {"properties": {"role": {"const": "educator"}}, "required": ["role"]},
    "then": {"required": ["educator_id"], "properties": {"educator_id": {"type": "string"}}},
    "else": {"properties": {"educator_id": {"type": "null"}}},
}
"""``educator_id`` goes with the ``educator`` role (a string, required) and with no other (absent
or null), in JSON Schema terms, so
that a client (and the schema fuzzer) knows the condition the route checks."""


class KeyIn(BaseModel):
    """A key to create; an ``educator`` key names its educator (docs/educators.md)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_EDUCATOR_KEY_RULE)

    role: Literal["platform", "coach", "admin", "educator"]
    label: Label = ""
    educator_id: AddressableId | None = Field(
        None, description="With the `educator` role only, and then required: the educator of "
                          "the tenant the key is bound to (none there: 404)")


class KeyOut(BaseModel):
    key_id: str
    tenant_id: str
    role: str
    label: str
    created_at: datetime
    revoked_at: datetime | None = None
    educator_id: str | None = Field(None, description="The one educator an `educator` key may "
                                                      "read; null for the other roles")
    key: str | None = Field(None, description="The secret: shown once, at creation")


class EvidenceClockIn(BaseModel):
    """The tenant's evidence clock: how fast its evidence ages (:mod:`recommender.clock`)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"unit": "hours", "half_life": 12}]})

    unit: Literal["days", "hours", "minutes"] = Field(description="The tenant's time unit")
    half_life: float = Field(gt=0, lt=1e6, strict=True,
                             description="In `unit`: evidence this old weighs half as much")


class EvidenceClockOut(BaseModel):
    unit: Literal["days", "hours", "minutes"]
    half_life: float
    half_life_days: float = Field(description="The half-life in days")
    default: bool = Field(description="True when the tenant set no clock (60 days)")
    educators_marked_stale: int | None = Field(
        None, description="On a change: the educators whose stored mastery is recomputed on "
                          "their next read")
