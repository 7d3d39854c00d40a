"""Licensure renewal (docs/renewal.md): the tenant's rules (admin), an educator's progress toward
them from their completions, and the fewest-hours plan that meets them
(:mod:`recommender.renewal`, :mod:`recommender.renewal_plan`).

Completions are the educator's feedback ``completed`` events (one per completion, xAPI ones
included). The plan's goals are the educator's goals (or ``goal``) whose served mastery is below
the default threshold; declined activities and ones outside ``available`` are not planned.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Query
from pydantic import BeforeValidator
from starlette.responses import Response

from api.auth import Admin, Reader
from api.deps import ContentDep, Now, ServicesDep
from api.errors import BadRequest, NotFound
from api.routers._common import (
    EducatorId,
    educator_or_404,
    errors,
    json_response,
    unknown_activities,
    unknown_competencies,
)
from api.schemas.common import AddressableId
from api.schemas.recommendations import MAX_AVAILABLE
from api.schemas.renewal import RenewalPlanOut, RenewalProgressOut, RenewalRulesIn, RenewalRulesOut
from api.services import MasteryService, Services
from recommender.ranking import RankingRequest
from recommender.renewal import RenewalRules, RenewalRulesError, build_rules, renewal_progress
from recommender.renewal_plan import plan_renewal
from recommender.store.renewal_rules import put_renewal_rules, renewal_rules
from recommender.tenant_content import TenantContent

router = APIRouter(tags=["renewal"])

def _iso_date(value: object) -> object:
    """Only an ISO date string (``2027-06-30``) is a deadline: pydantic's lax ``date`` also takes
    a number as seconds since 1970, so ``deadline=0.0`` would plan toward 1 January 1970."""
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError(f"expected a date as YYYY-MM-DD, got {value!r}")
    return value


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
Deadline = Annotated[date | None, BeforeValidator(_iso_date), Query(
    description="The renewal deadline (a date as YYYY-MM-DD, 1970 to 2199); omitted: the rules' own")]


def _invalid(exc: RenewalRulesError, suffix: str = "", prefix: str = "") -> BadRequest:
    """The 422 naming each problem's field (under ``prefix``), value and what was expected."""
    return BadRequest(f"{exc}{suffix}",
                      details=[{"field": prefix + f, "value": str(v), "reason": f"expected {e}"}
                               for f, v, e in exc.problems])


def _formats(content: TenantContent) -> list[str]:
    return list(content.catalog.vocabularies.allowed("format"))


@router.put("/v1/admin/renewal-rules", response_model=RenewalRulesOut,
            summary="Set the tenant's licensure-renewal rules (a new version)",
            description="Checked first (422 naming each field, value and what was expected; "
                        "nothing stored); caps and multipliers must name formats of the "
                        "tenant's catalog.", responses=errors(401, 403, 422))
def put_rules(body: RenewalRulesIn, who: Admin, services: ServicesDep,
              content: ContentDep) -> Response:
    try:
        rules = build_rules(body.document, _formats(content))
    except RenewalRulesError as exc:
        raise _invalid(exc, "; nothing was stored", "document.") from None
    del rules  # validated; the document is stored as given
    put_renewal_rules(services.store, who.tenant_id, body.document, by=who.key_id)
    return _read(services, who.tenant_id)


def _read(services: Services, tenant_id: str) -> Response:
    stored = renewal_rules(services.store, tenant_id)
    if stored is None:
        raise NotFound("this tenant has no renewal rules; set them with "
                       "PUT /v1/admin/renewal-rules",
                       details=[{"field": "renewal-rules", "value": tenant_id,
                                 "reason": "no rules stored for the tenant"}])
    return json_response(dataclasses.asdict(stored))


@router.get("/v1/admin/renewal-rules", response_model=RenewalRulesOut,
            summary="The tenant's current renewal rules", responses=errors(401, 403, 404))
def get_rules(who: Admin, services: ServicesDep) -> Response:
    return _read(services, who.tenant_id)


def _rules(services: Services, tenant_id: str, content: TenantContent
           ) -> tuple[int, RenewalRules]:
    stored = renewal_rules(services.store, tenant_id)
    if stored is None:
        _read(services, tenant_id)  # the 404
    try:
        return stored.version, build_rules(stored.document, _formats(content))
    except RenewalRulesError as exc:  # the catalog changed since: say so
        raise _invalid(exc) from None


def _completions(services: Services, tenant_id: str, educator_id: str) -> pd.DataFrame:
    rows = [r for r in services.store.feedback_rows(tenant_id, [educator_id])
            if r["event"] == "completed"]
    return pd.DataFrame({"activity_id": [r["activity_id"] for r in rows],
                         "at": pd.to_datetime([r["at"] for r in rows], utc=True)})


def _progress_out(rules) -> list[dict]:  # noqa: ANN001
    return [dataclasses.asdict(r) for r in rules]


@router.get("/v1/educators/{educator_id}/renewal", response_model=RenewalProgressOut,
            summary="Renewal progress: credited hours per rule, what is missing, by when",
            responses=errors(401, 403, 404, 422, notes={
                404: "No such educator in the caller's tenant, or the tenant has no rules",
                422: "No deadline (the rules set none: pass `deadline`) or not a date"}))
def get_renewal(who: Reader, services: ServicesDep, content: ContentDep, now: Now,
                educator_id: str = EducatorId, deadline: Deadline = None) -> Response:
    educator_or_404(services, who.tenant_id, educator_id)
    version, rules = _rules(services, who.tenant_id, content)
    try:
        p = renewal_progress(rules, content.catalog, content.graph,
                             _completions(services, who.tenant_id, educator_id),
                             deadline=deadline, now=now)
    except RenewalRulesError as exc:
        raise _invalid(exc) from None
    return json_response({"educator_id": educator_id, "rules_version": version,
                          "deadline": p.deadline.isoformat(),
                          "window_start": p.window_start.isoformat(), "days_left": p.days_left,
                          "met": p.met, "rules": _progress_out(p.rules),
                          "completions_counted": p.completions_counted,
                          "completions_unknown": p.completions_unknown})


@router.get("/v1/educators/{educator_id}/renewal/plan", response_model=RenewalPlanOut,
            summary="The fewest-hours plan meeting every renewal rule by the deadline",
            description="A mixed-integer program (docs/renewal.md). Goals from `goal` "
                        "(repeatable), else the educator's; those already mastered are left "
                        "out, each other one gets at least one planned activity targeting it. "
                        "Rules that cannot be met are listed in `shortfalls` with the hours "
                        "they miss; the plan meets the others.",
            responses=errors(401, 403, 404, 422))
def get_renewal_plan(
    who: Reader, services: ServicesDep, content: ContentDep, now: Now,
    educator_id: str = EducatorId, deadline: Deadline = None,
    goal: Annotated[list[str] | None, Query(description="Goal competency id(s)",
                                            max_length=50)] = None,
    available: Annotated[list[AddressableId] | None, Query(
        description="The activities the educator can take (repeatable); omitted: all",
        max_length=MAX_AVAILABLE)] = None,
) -> Response:
    rec = educator_or_404(services, who.tenant_id, educator_id)
    unknown_activities(content, "available", available)
    version, rules = _rules(services, who.tenant_id, content)
    goals = list(dict.fromkeys(goal or [g for g in rec.goals if g in content.graph]))
    bad = [g for g in goals if g not in content.graph]
    if bad:
        raise unknown_competencies(content, [("goal", g) for g in bad])
    if goals:
        state = services.serve(who.tenant_id, content)
        entry = services.mastery.get(who.tenant_id, {educator_id: rec}, state, now=now)
        p = MasteryService.frame(entry[educator_id])["p_mastery"]
        threshold = RankingRequest().mastery_threshold
        goals = [g for g in goals if float(p.get(g, 0.0)) < threshold]
    context = services.contexts(who.tenant_id, {educator_id: rec}, now, content.graph)
    try:
        plan = plan_renewal(rules, content.catalog, content.graph,
                            _completions(services, who.tenant_id, educator_id),
                            deadline=deadline, now=now, goals=goals,
                            exclude=context[educator_id].declined, available=available)
    except RenewalRulesError as exc:
        raise _invalid(exc) from None
    return json_response({
        "educator_id": educator_id, "rules_version": version,
        "deadline": plan.deadline.isoformat(), "feasible": plan.feasible,
        "total_hours": plan.total_hours,
        "activities": [dataclasses.asdict(a) for a in plan.activities],
        "rules": _progress_out(plan.rules), "goals": list(plan.goals),
        "shortfalls": [dataclasses.asdict(s) for s in plan.shortfalls]})
