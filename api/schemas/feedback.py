"""Feedback events in (accept, decline, complete, rate and the coach overrides)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.schemas.common import AddressableId, Note, ReferenceId, TimeText, whole_number

FeedbackEvent = Literal["accepted", "declined", "started", "completed", "rated",
                        "pinned", "unpinned", "replaced", "noted"]


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

    _whole_rating = field_validator("rating", mode="before")(whole_number)


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"events": [
        {"educator_id": "T-0017", "activity_id": "ACT-030", "event": "accepted"},
        {"educator_id": "T-0017", "activity_id": "ACT-012", "event": "replaced",
         "replaces": "ACT-030", "by": "coach-7"}]}]})

    events: list[FeedbackEventIn] = Field(min_length=1, max_length=1000)


class FeedbackOut(BaseModel):
    stored: int
    educators_updated: int
