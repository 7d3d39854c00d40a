"""Pieces every body shares: string types held to the field contract, whole numbers, the model
stamp of an answer and the error body."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo

from recommender.fields import ADDRESSABLE_ID, ISO_8601, REFERENCE_ID, Rule, problem

Format = Annotated[str, Field(min_length=1, max_length=64, description=(
    "An activity format of the catalog's vocabulary (`GET /v1/activities` lists them under "
    "`vocabularies.formats`); a word outside it is a 404 naming the allowed ones"))]
"""A format filter: the catalog's own words (:mod:`recommender.vocabulary`), so it is checked
against the served catalog in the route, not by a fixed enum here."""


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


class CardFramework(BaseModel):
    name: str | None = Field(description="The competency framework the model was trained on")
    version: str | None = Field(None, description="The framework's own version, if it has one")
    hash: str | None = Field(description="Hash of the framework's content (competencies, edges "
                                         "and attributes): equal hashes, same framework")


class CardData(BaseModel):
    kind: str | None = Field(description="Where the training data came from: `store` (a "
                                         "tenant's own data), `files` or `synthetic`")
    tenant: str | None = Field(None, description="The tenant whose data it was (store data)")
    fingerprint: str | None = Field(description="Content hash of the training evidence")
    evidence: int | None = Field(None, description="Evidence records read (both split sides)")


class CardTimeRange(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str | None = Field(alias="from", description="Oldest evidence (ISO 8601)")
    to: str | None = Field(description="Newest evidence (ISO 8601)")


class CardSplit(BaseModel):
    by: str | None = Field(description="`educator` (held-out educators) or `time` (trained "
                                       "before `before`, tested after)")
    before: str | None = Field(None, description="The time split's cut (ISO 8601)")
    test_size: float | None = Field(None, description="Share of educators held out")
    split_id: str | None = Field(None, description="Identifies the split (same data and "
                                                   "split, same id)")


class CardMetrics(BaseModel):
    n: float | None = Field(None, description="Test records the metrics were computed on")
    auc: float | None = Field(None, description="Test AUC of P(proficient)")
    log_loss: float | None = Field(None, description="Test log loss")
    brier: float | None = Field(None, description="Test Brier score")


class CardGroup(BaseModel):
    attribute: str = Field(description="Grouping attribute: role, grade_band, experience, "
                                       "source or domain")
    value: str = Field(description="The group (`(missing)` for records without the attribute)")
    n: int = Field(description="Test records in the group")
    auc: float | None = Field(None, description="Test AUC within the group")


class CardSubgroups(BaseModel):
    min_n: int = Field(description="Groups with fewer test records (or one outcome only) are "
                                   "marked small")
    groups: int = Field(description="Groups over every attribute")
    small: int = Field(description="How many of them are small (kept in the logged card, "
                                   "marked)")
    lowest: CardGroup | None = Field(None, description="The group with the lowest test AUC "
                                                       "among those that are not small")
    highest: float | None = Field(None, description="The highest test AUC among them")


class ModelCard(BaseModel):
    """What the served model was trained on: the short form of the model card its training run
    logged (``model_card.json``; ``pdrec compare`` shows its one-line summary)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "framework": {"name": "educator", "version": "1.0", "hash": "3f9c0a1b2c3d4e5f"},
        "data": {"kind": "store", "tenant": "acme", "fingerprint": "9a8b7c6d5e4f3a2b",
                 "evidence": 48210},
        "time_range": {"from": "2024-08-01T00:00:00+00:00", "to": "2025-06-30T00:00:00+00:00"},
        "split": {"by": "time", "before": "2025-04-01T00:00:00+00:00", "test_size": None,
                  "split_id": "5d41402abc4b"},
        "metrics": {"n": 9120, "auc": 0.81, "log_loss": 0.52, "brier": 0.17},
        "subgroups": {"min_n": 50, "groups": 23, "small": 2, "highest": 0.86,
                      "lowest": {"attribute": "grade_band", "value": "high", "n": 1710,
                                 "auc": 0.72}},
        "trained_at": "2025-07-02T09:14:03.221000+00:00"}]})

    framework: CardFramework
    data: CardData
    time_range: CardTimeRange = Field(description="The span of the training evidence")
    split: CardSplit = Field(description="How the model was tested")
    metrics: CardMetrics | None = Field(None, description="Test metrics overall")
    subgroups: CardSubgroups | None = Field(
        None, description="Test metrics per subgroup, in short (the logged model_card.json has "
                          "every group); null for a run logged before subgroup metrics")
    trained_at: str | None = Field(None, description="When the training run started "
                                                     "(ISO 8601, UTC)")


class ContentFramework(BaseModel):
    """The framework an answer used."""

    name: str | None = Field(description="The framework's name")
    version: int | None = Field(description="The tenant's framework version (`GET /v1/admin/"
                                            "framework`); null: the deployment's default")
    hash: str = Field(description="Hash of the framework's content, as model cards record it")
    source: Literal["tenant", "default"]


class ContentCatalog(BaseModel):
    """The catalog an answer used."""

    version: int | None = Field(description="The tenant's catalog version; null: the default")
    hash: str | None = Field(description="Hash of the uploaded document; null: the default")
    source: Literal["tenant", "default"]
    activities: int


class ContentInfo(BaseModel):
    """Which framework and catalog versions an answer was computed with."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "framework": {"name": "district", "version": 2, "hash": "3f9c0a1b2c3d4e5f",
                      "source": "tenant"},
        "catalog": {"version": None, "hash": None, "source": "default", "activities": 148}}]})

    framework: ContentFramework
    catalog: ContentCatalog


class ModelInfo(BaseModel):
    """The estimator behind an answer: the champion model, or the graph rule (``fallback``)."""

    name: str = Field(examples=["lightgbm", "graph-rule"])
    version: str | None = Field(examples=["3", None])
    fallback: bool
    scope: Literal["tenant", "default", "none"] = Field(
        "default", description="Whose champion answered: the tenant's own (`pdrec promote "
                               "--tenant`), the default one, or none (the graph rule)")
    source: Literal["registry", "bundle"] | None = Field(
        None, description="Where the model was read from: the MLflow `registry`, or a `bundle` "
                          "directory (`PDREC_MODEL_DIR`, `pdrec model export`); null for the "
                          "graph rule")
    card: ModelCard | None = Field(
        None, description="What the model was trained on (its model card, short); null for the "
                          "graph rule or a model logged without a card")
    note: str | None = Field(
        None, description="Why the graph rule answers though a model is served: the tenant's "
                          "framework is not the one the model was trained on")
    content: ContentInfo | None = Field(
        None, description="The framework and catalog versions this answer used (the tenant's "
                          "uploaded ones or the default, docs/tenants.md)")


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
