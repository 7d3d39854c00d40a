"""Teams: named groups of a tenant's educators, and their shared next steps.

``GET /v1/teams`` lists the tenant's teams (a page, in id order),
``PUT /v1/teams/{team_id}`` stores the name and members, ``GET`` reads them back, and
``POST /v1/teams/{team_id}/recommendations`` ranks shared activities for the members who are
educators of the tenant (:func:`recommender.teams.rank_team` on their served mastery, goals and
feedback, with the model's prebuilt ranking index); members without a record are listed in
``not_found``. Every shown step is logged, one row per member, as kind ``team``.
"""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from api.auth import EducatorWriter, Reader
from api.deps import ContentDep, Now, ServicesDep
from api.errors import NotFound
from api.routers._common import (
    errors,
    json_response,
    new_request_id,
    unknown_activities,
    unknown_word,
)
from api.schemas.teams import (
    TeamIn,
    TeamListOut,
    TeamOut,
    TeamRecommendationsIn,
    TeamRecommendationsOut,
)
from api.services import MasteryService, Services
from recommender.errors import InvalidInputError
from recommender.fields import ADDRESSABLE_ID
from recommender.store.teams import TeamRecord
from recommender.teams import TeamRequest, TeamStep, rank_team
from recommender.tenant_content import TenantContent

router = APIRouter(prefix="/v1/teams", tags=["teams"])

TeamId = Path(min_length=1, max_length=ADDRESSABLE_ID.max_length, pattern=ADDRESSABLE_ID.pattern,
              description="The tenant's team id (1-128 characters, no control characters, no "
                          "'/')", examples=["plc-grade7-math"])
_NO_TEAM = "No such team in the caller's tenant"


def _out(rec) -> dict:
    return {"team_id": rec.team_id, "name": rec.name, "members": rec.members,
            "created_at": rec.created_at.isoformat(), "updated_at": rec.updated_at.isoformat()}


def team_steps(services: Services, tenant_id: str, team: TeamRecord, content: TenantContent,
               now: pd.Timestamp, request: TeamRequest
               ) -> tuple[dict, list[str], list[TeamStep], object]:
    """The team's shared steps on the members' served mastery, goals and feedback: ``(records
    of the members found, their ids in team order, steps, served model state)``; nothing is
    logged here. The CLI's
    ``pdrec teams recommend`` calls it too, so both answer alike."""
    records = services.store.get_educators(tenant_id, team.members)
    found = [e for e in team.members if e in records]
    state = services.serve(tenant_id, content)
    steps: list[TeamStep] = []
    if found:
        entries = services.mastery.get(tenant_id, records, state, now=now)
        contexts = services.contexts(tenant_id, records, now, content.graph)
        frames = [MasteryService.frame(entries[e]).reset_index().assign(educator_id=e)
                  for e in found]
        steps = rank_team(content.graph, content.catalog, pd.concat(frames, ignore_index=True),
                          found, contexts=contexts, request=request, index=state.index)
    return records, found, steps, state


def _team_or_404(services: Services, tenant_id: str, team_id: str):
    rec = services.store.get_team(tenant_id, team_id)
    if rec is None:
        raise NotFound(f"no team {team_id!r}", details=[{
            "field": "team_id", "value": team_id, "reason": "no such team in this tenant"}])
    return rec


@router.get("", response_model=TeamListOut, summary="The tenant's teams, a page in id order",
            responses=errors(401, 403, 422))
def list_teams(who: Reader, services: ServicesDep,
               limit: Annotated[int, Query(ge=1, le=500)] = 100,
               offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0) -> Response:
    teams, total = services.store.list_teams(who.tenant_id, limit=limit, offset=offset)
    return json_response({"total": total, "limit": limit, "offset": offset,
                          "items": [_out(t) for t in teams]})


@router.put("/{team_id}", response_model=TeamOut, status_code=200,
            summary="Create or replace a team's name and members",
            description="Members are educator ids of the tenant (repeats are dropped); one "
                        "without a record yet is kept and reported as not found when the team "
                        "is ranked. 201 when the team is new, else 200.",
            responses={201: {"model": TeamOut, "description": "Created"},
                       **errors(401, 403, 422)})
def put_team(who: EducatorWriter, services: ServicesDep, body: TeamIn,
             team_id: str = TeamId) -> Response:
    members = list(dict.fromkeys(body.members))
    rec, created = services.store.put_team(who.tenant_id, team_id, name=body.name,
                                           members=members)
    return json_response(_out(rec), 201 if created else 200)


@router.get("/{team_id}", response_model=TeamOut, summary="A team's name and members",
            responses=errors(401, 403, 404, 422, notes={404: _NO_TEAM}))
def get_team(who: Reader, services: ServicesDep, team_id: str = TeamId) -> Response:
    return json_response(_out(_team_or_404(services, who.tenant_id, team_id)))


@router.post("/{team_id}/recommendations", response_model=TeamRecommendationsOut,
             summary="Shared next steps for a team, with each member's fit",
             description="Shared activities (the team formats, or `formats`, plus "
                         "`activities`) ranked by the members' expected progress toward their "
                         "goals per hour (`objective`), within `max_hours`; each step has every "
                         "member's expected gain, readiness and status, and names the members "
                         "who are not ready (a prerequisite far below) or have mastered it. A "
                         "format outside the catalog's vocabulary or an unknown activity id is "
                         "a 404 naming it.",
             responses=errors(401, 403, 404, 422, notes={404: (
                 _NO_TEAM + ", or a format or activity id the catalog does not have")}))
def post_team_recommendations(who: Reader, services: ServicesDep, content: ContentDep,
                              now: Now, body: TeamRecommendationsIn,
                              team_id: str = TeamId) -> Response:
    team = _team_or_404(services, who.tenant_id, team_id)
    unknown_activities(content, "activities", body.activities)
    try:
        request = TeamRequest(k=body.k, max_hours=body.max_hours, formats=body.formats,
                              activities=tuple(body.activities),
                              gate_threshold=body.gate_threshold, objective=body.objective)
        if body.formats:
            content.catalog.vocabularies.check("formats", body.formats)
    except InvalidInputError as exc:
        raise unknown_word(exc, "formats") from None
    records, found, steps, state = team_steps(services, who.tenant_id, team, content, now, request)
    request_id = new_request_id()
    if steps:  # no exploration here: logged like a pathway (no policy, no propensity)
        firewall = services.store.firewall(who.tenant_id, found)
        services.audit.record([
            {"tenant_id": who.tenant_id, "request_id": request_id, "educator_id": m.educator_id,
             "kind": "team", "rank": i + 1, "activity_id": s.activity_id,
             "score": s.gain_per_hour, "model_name": state.name,
             "model_version": state.version, "key_id": who.key_id,
             "shown_at": now.to_pydatetime(), "propensity": None, "policy": None,
             "ranker_rank": None, "evidence_policy": firewall.label(m.educator_id)}
            for i, s in enumerate(steps) for m in s.members])
    return json_response({
        "team_id": team_id, "request_id": request_id, "model": state.info(),
        "not_found": [e for e in team.members if e not in records],
        "steps": [{"rank": i + 1, "activity_id": s.activity_id, "title": s.title,
                   "format": s.format, "hours": s.hours, "team_gain": s.team_gain,
                   "gain_per_hour": s.gain_per_hour, "score": s.score, "reason": s.reason,
                   "not_ready": list(s.named("not_ready")),
                   "mastered": list(s.named("mastered")),
                   "members": [m.__dict__ for m in s.members]}
                  for i, s in enumerate(steps)]})
