"""Evidence in (records or xAPI statements) and the per-item outcomes answered."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import ModelInfo

_EVIDENCE_EXAMPLE = {
    "evidence_id": "obs-2024-03-01-t17-fa", "educator_id": "T-0017",
    "competency_id": "INS.FORMATIVE", "source": "observation", "score": 3,
    "scale_min": 1, "scale_max": 4, "observed_at": "2024-03-01T14:30:00Z",
    "rater_id": "R-004", "activity_id": None,
}


class EvidenceRecordIn(BaseModel):
    """One observation of one competency (fields are checked per record by the engine)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [_EVIDENCE_EXAMPLE]})

    evidence_id: Any = Field(None, description="Idempotency key, unique per tenant (required)")
    educator_id: Any = Field(None, description="Who was observed (required); created if new")
    competency_id: Any = Field(None, description="A competency id of the framework (required)")
    source: Any = Field(None, description="observation, micro_credential, student_growth, "
                                          "self_assessment, activity_assessment or peer_review")
    score: Any = Field(None, description="Score on the record's scale (required)")
    scale_min: Any = Field(None, description="Bottom of the scale (default 1)")
    scale_max: Any = Field(None, description="Top of the scale (default 4)")
    observed_at: Any = Field(None, description="ISO 8601 time; naive times are UTC (required)")
    rater_id: Any = None
    activity_id: Any = None
    framework_code: Any = Field(None, description="Instead of competency_id: a Danielson "
                                "component or InTASC standard (`danielson:3b`, `intasc:7`), "
                                "expanded to the competencies the crosswalk maps it to")


class EvidenceBatchIn(BaseModel):
    """Up to ``PDREC_MAX_BATCH`` (default 5,000) records; more is answered 413. A bare JSON
    array of records is accepted too. Every item must be a JSON object (else 422, nothing
    stored); its fields are checked per record."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"records": [_EVIDENCE_EXAMPLE]}]})

    records: list[EvidenceRecordIn]


Outcome = Literal["accepted", "duplicate", "conflict", "rejected"]

_OUTCOME = ("`accepted`: stored by this request (exactly one request hears it per evidence_id); "
            "`duplicate`: the record stored under this evidence_id is this same record; "
            "`conflict`: the record stored under this evidence_id says something else (nothing "
            "changed; `field`, `value` and `reason` name the differences); `rejected`: invalid "
            "(`field`, `value`, `reason`)")


class EvidenceOutcome(BaseModel):
    index: int = Field(description="Position of the record in the request")
    evidence_id: str | None
    status: Outcome = Field(description=_OUTCOME)
    framework_code: str | None = Field(
        None, description="The framework code (`danielson:3b`) this record was expanded from: "
                          "a coded record gets one outcome per competency it maps to")
    field: str | None = None
    value: str | None = None
    reason: str | None = None


class EvidenceBatchOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "accepted": 1, "duplicate": 0, "conflict": 0, "rejected": 1, "educators_updated": 1,
        "outcomes": [
            {"index": 0, "evidence_id": "obs-1", "status": "accepted"},
            {"index": 1, "evidence_id": "obs-2", "status": "rejected", "field": "score",
             "value": "7", "reason": "score 7 is outside its scale [1, 4]"}],
        "model": {"name": "graph-rule", "version": None, "fallback": True, "scope": "none"}}]})

    accepted: int
    duplicate: int
    conflict: int
    rejected: int
    educators_updated: int
    outcomes: list[EvidenceOutcome]
    model: ModelInfo


class XapiBatchIn(BaseModel):
    """xAPI 1.0.3 statements; a bare JSON array of statements (as xAPI clients post them) is
    accepted too. Every item must be a JSON object (else 422, nothing stored); its content is
    checked per statement."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"statements": [{
        "id": "2a41c918-b88b-4220-a5a4-c32391a24001",
        "actor": {"account": {"homePage": "https://pd.example.org", "name": "T-0017"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
        "object": {"id": "https://pd.example.org/xapi/competencies/INS.FORMATIVE",
                   "objectType": "Activity"},
        "result": {"score": {"scaled": 0.85, "raw": 85, "min": 0, "max": 100}},
        "timestamp": "2024-03-01T14:30:00Z"}]}]})

    statements: list[dict[str, Any]] = Field(
        description="xAPI statements (JSON objects)")


class XapiOutcome(BaseModel):
    index: int
    statement_id: str | None
    status: Outcome = Field(description=_OUTCOME + "; a statement takes its records' worst")
    evidence_ids: list[str] = []
    completed_activity: str | None = Field(
        None, description="The catalog activity the statement records as completed (a feedback "
                          "`completed` event, stored once per statement id)")
    field: str | None = None
    value: str | None = None
    reason: str | None = None


class XapiBatchOut(BaseModel):
    accepted: int
    duplicate: int
    conflict: int
    rejected: int
    educators_updated: int
    outcomes: list[XapiOutcome]
    model: ModelInfo
