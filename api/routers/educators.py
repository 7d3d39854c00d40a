"""Educators: profile and goals, and their current mastery."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from api.auth import EducatorWriter, Reader
from api.deps import ContentDep, Now, ServicesDep
from api.routers._common import (
    EducatorId,
    educator_or_404,
    errors,
    json_response,
    unknown_competencies,
)
from api.schemas import EducatorIn, EducatorOut, MasteryOut
from recommender.graph import DEFAULT_THRESHOLD
from recommender.store import NO_MASTERY
from recommender.uncertainty import mastery_uncertainty

router = APIRouter(prefix="/v1/educators", tags=["educators"])

def _out(rec, n_evidence: int | None = None) -> dict:
    return {"educator_id": rec.educator_id, "profile": rec.profile, "goals": rec.goals,
            "created_at": rec.created_at.isoformat(), "updated_at": rec.updated_at.isoformat(),
            "n_evidence": n_evidence}


@router.put("/{educator_id}", response_model=EducatorOut, status_code=200,
            summary="Create or replace an educator's profile and goals",
            description="Replaces the profile and the goals (competency ids of the framework, "
                        "most important first; repeats are dropped). 201 when the educator is "
                        "new, else 200. A goal that names no competency of the framework is a "
                        "404 naming it (`goals[i]`; `GET /v1/framework` lists them), and "
                        "nothing is changed.",
            responses={201: {"model": EducatorOut, "description": "Created"},
                       **errors(401, 403, 404, 422, notes={404: (
                           "A goal names no competency of the framework (`GET /v1/framework` "
                           "lists them); nothing was changed")})})
def put_educator(
    who: EducatorWriter,
    services: ServicesDep,
    content: ContentDep,
    body: EducatorIn,
    educator_id: str = EducatorId,
) -> Response:
    goals = list(dict.fromkeys(body.goals))
    bad = [(f"goals[{i}]", g) for i, g in enumerate(body.goals) if g not in content.graph]
    if bad:
        raise unknown_competencies(content, bad)
    profile = body.profile.model_dump(exclude_none=True)
    rec, created = services.store.put_educator(who.tenant_id, educator_id, profile=profile,
                                               goals=goals)
    return json_response(_out(rec), 201 if created else 200)


@router.get("/{educator_id}", response_model=EducatorOut, summary="An educator's profile",
            responses=errors(401, 403, 404, 422))
def get_educator(
    who: Reader,
    services: ServicesDep,
    educator_id: str = EducatorId,
) -> Response:
    rec = educator_or_404(services, who.tenant_id, educator_id)
    return json_response(_out(rec, services.store.count_evidence(who.tenant_id, educator_id)))


@router.get("/{educator_id}/mastery", response_model=MasteryOut,
            summary="P(mastery) of every competency, with the model that estimated it",
            responses=errors(401, 403, 404, 422))
def get_mastery(
    who: Reader,
    services: ServicesDep,
    content: ContentDep,
    now: Now,
    educator_id: str = EducatorId,
) -> Response:
    rec = educator_or_404(services, who.tenant_id, educator_id)
    state = services.serve(who.tenant_id, content)
    entry = services.mastery.get(who.tenant_id, {educator_id: rec}, state, now=now)[educator_id]
    g = content.graph
    comps = sorted(g)
    cells = [entry.table.get(c, NO_MASTERY) for c in comps]
    se, low, high = mastery_uncertainty([x.p for x in cells], [x.n_evidence for x in cells])
    items = []
    for i, (c, x) in enumerate(zip(comps, cells, strict=True)):
        items.append({"competency_id": c, "name": g.nodes[c].get("name", c),
                      "domain": g.nodes[c].get("domain", ""), "p_mastery": x.p,
                      "n_evidence": x.n_evidence, "p_bound": x.p_bound,
                      "mastered": x.p_bound >= DEFAULT_THRESHOLD,
                      "uncertainty": float(se[i]),
                      "interval": [float(low[i]), float(high[i])]})
    return json_response({"educator_id": educator_id, "model": state.info(),
                          "computed_at": entry.computed_at.isoformat(),
                          "mastery_threshold": DEFAULT_THRESHOLD, "competencies": items})
