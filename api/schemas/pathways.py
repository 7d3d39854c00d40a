"""Pathways for many educators at once (``POST /v1/pathways:batch``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import AddressableId, Format, ModelInfo
from api.schemas.recommendations import MAX_AVAILABLE, PathwayStepOut

MAX_GOALS = 50
"""How many goal ids a request may name (as the single pathway's ``goal`` query)."""

_STEP_EXAMPLE = {
    "step": 1, "competency_id": "COG.ASSESS_LIT", "name": "Assessment literacy",
    "activity_id": "ACT-012", "activity_title": "Assessment literacy foundations",
    "hours": 6.0, "p_before": 0.41, "p_after": 0.55, "readiness": 1.0,
}


class BatchPathwaysIn(BaseModel):
    """Which educators to plan for, toward which goals, within which activities."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"educator_ids": ["T-0017", "T-0018"]},
        {"educator_ids": ["T-0017", "T-0018"], "goals": ["INS.FORMATIVE"],
         "formats": ["course", "coaching_cycle"]}]})

    educator_ids: list[AddressableId] = Field(
        min_length=1, description="Up to `PDREC_MAX_BATCH_EDUCATORS` (default 500) educators; "
                                  "ids not in the caller's tenant are listed in `not_found`")
    goals: list[AddressableId] | None = Field(
        None, min_length=1, max_length=MAX_GOALS,
        description="Goal competency ids for every educator; omitted: each educator's own goals "
                    "(an educator without any is listed in `without_goals`). An id that names "
                    "no competency of the framework is a 404 naming it")
    formats: list[Format] | None = Field(
        None, min_length=1,
        description="Allowed activity formats, words of the catalog's vocabulary (`GET "
                    "/v1/activities` lists it; another word is a 404 naming the allowed ones); "
                    "omitted: all")
    available: list[AddressableId] | None = Field(
        None, max_length=MAX_AVAILABLE,
        description="The activities these educators can take now: no step outside it is "
                    "planned, pinned or not; omitted: all. An id not in the catalog is a 404 "
                    "naming it")


class BatchPathway(BaseModel):
    """One educator's plan, as ``GET /v1/educators/{educator_id}/pathway`` answers it."""

    educator_id: str
    goals: list[str] = Field(description="The goals planned for, in the order given")
    steps: list[PathwayStepOut] = Field(description="In plan order (prerequisites first)")
    total_hours: float = Field(description="Hours of the planned activities")
    unreachable: list[str] = Field(
        description="Competencies of the plan that no allowed activity develops")


class BatchPathwaysOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "request_id": "0c6e...", "model": {"name": "lightgbm", "version": "3",
                                           "fallback": False, "scope": "default"},
        "results": [{"educator_id": "T-0017", "goals": ["INS.FORMATIVE"],
                     "steps": [_STEP_EXAMPLE], "total_hours": 6.0, "unreachable": []}],
        "not_found": ["T-9999"], "without_goals": []}]})

    request_id: str
    model: ModelInfo
    results: list[BatchPathway] = Field(description="In the order of `educator_ids`")
    not_found: list[str] = Field(description="Ids with no educator in the caller's tenant")
    without_goals: list[str] = Field(
        description="Educators planned for none: no `goals` in the request and none of their own")
