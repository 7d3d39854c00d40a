"""Pieces every body shares: string types held to the field contract, whole numbers, the model
stamp of an answer and the error body."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, ValidationInfo

from recommender.catalog import FORMATS
from recommender.fields import ADDRESSABLE_ID, ISO_8601, REFERENCE_ID, Rule, problem

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


def whole_number(value: Any) -> Any:
    """A JSON number with no fractional part (``4.0``) as the integer it is: JSON has one
    number type and JSON Schema's ``integer`` admits it. Anything else goes on unchanged to a
    strict integer check (a boolean, a string or ``4.5`` is refused)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class ModelInfo(BaseModel):
    """The estimator behind an answer: the champion model, or the graph rule (``fallback``)."""

    name: str = Field(examples=["lightgbm", "graph-rule"])
    version: str | None = Field(examples=["3", None])
    fallback: bool
    scope: Literal["tenant", "default", "none"] = Field(
        "default", description="Whose champion answered: the tenant's own (`pdrec promote "
                               "--tenant`), the default one, or none (the graph rule)")


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
