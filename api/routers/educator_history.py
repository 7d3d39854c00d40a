"""The tenant's educators at a glance, and an educator's evidence and feedback history.

What a coach needs beside the ranking: who is there (search, goals, progress toward them, the
last evidence), the evidence behind a competency, and what was decided about which activity.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

import networkx as nx
import pandas as pd
from fastapi import APIRouter, Query
from starlette.responses import Response

from api.auth import Reader
from api.deps import ContentDep, Now, ServicesDep
from api.routers._common import (
    EducatorId,
    educator_or_404,
    errors,
    json_response,
    unknown_competencies,
)
from api.schemas import EducatorEvidenceOut, EducatorFeedbackOut, EducatorListOut
from recommender.evidence.contract import SOURCES
from recommender.fields import ADDRESSABLE_ID, Rule
from recommender.graph import DEFAULT_THRESHOLD
from recommender.graph.queries import all_prerequisites
from recommender.store import NO_MASTERY
from recommender.store.coach import (
    count_evidence_records,
    evidence_records,
    evidence_summary,
    feedback_history,
    search_educators,
)

router = APIRouter(prefix="/v1/educators", tags=["educators"])

_SEARCH = Rule("a search", 200, min_length=0)
"""Search text: one line, no control characters (a NUL never reaches a query)."""

@lru_cache(maxsize=4096)
def _scope(graph: nx.DiGraph, goals: tuple[str, ...]) -> tuple[str, ...]:
    """The competencies a goal set needs: the goals and all their prerequisites (cached per
    graph object, which the services never mutate)."""
    need: set[str] = set()
    for g in goals:
        need |= all_prerequisites(graph, g) | {g}
    return tuple(sorted(need))


@router.get("", response_model=EducatorListOut,
            summary="The tenant's educators: search, goals, progress and last evidence",
            description="`search` matches the educator id, a profile value or a goal id "
                        "(case-insensitive substring; profile key names are not searched). "
                        "`progress` counts the mastered competencies "
                        "(P >= the mastery threshold) among the goals and their prerequisites "
                        "(all competencies when the educator has no goal). `n_evidence` and "
                        "`last_evidence_at` count the records the caller's role may read "
                        "(docs/firewall.md).",
            responses=errors(401, 403, 422))
def list_educators(
    who: Reader,
    services: ServicesDep,
    content: ContentDep,
    now: Now,
    search: Annotated[str | None, Query(max_length=200, pattern=_SEARCH.pattern,
                                        description="Text to look for")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> Response:
    records, total = search_educators(services.store, who.tenant_id, search, limit=limit,
                                      offset=offset)
    by_id = {r.educator_id: r for r in records}
    state = services.serve(who.tenant_id, content)
    entries = services.mastery.get(who.tenant_id, by_id, state, now=now) if by_id else {}
    readable = services.store.evidence_policy(who.tenant_id).readable(who.role)
    summary = evidence_summary(services.store, who.tenant_id, by_id,
                               sources=None if readable == set(SOURCES) else readable)
    g = content.graph
    items = []
    for rec in records:
        table = entries[rec.educator_id].table if rec.educator_id in entries else {}
        goals = tuple(c for c in rec.goals if c in g)
        scope = _scope(g, goals) if goals else tuple(g)
        mastered = sum(1 for c in scope if table.get(c, NO_MASTERY).p_bound >= DEFAULT_THRESHOLD)
        n, last = summary.get(rec.educator_id, (0, None))
        items.append({
            "educator_id": rec.educator_id, "profile": rec.profile,
            "goals": [{"competency_id": c, "name": g.nodes[c].get("name", c),
                       "p_mastery": table.get(c, NO_MASTERY).p,
                       "mastered": table.get(c, NO_MASTERY).p_bound >= DEFAULT_THRESHOLD}
                      for c in goals],
            "progress": {"scope": "goals" if goals else "all", "mastered": mastered,
                         "total": len(scope)},
            "n_evidence": n, "last_evidence_at": last.isoformat() if last else None,
            "updated_at": rec.updated_at.isoformat(),
        })
    return json_response({"total": total, "limit": limit, "offset": offset,
                          "mastery_threshold": DEFAULT_THRESHOLD, "items": items})


@router.get("/{educator_id}/evidence", response_model=EducatorEvidenceOut,
            summary="An educator's evidence, newest first (optionally of one competency)",
            description="`competency_id` keeps the evidence of that competency only; one that "
                        "names no competency of the framework is a 404 naming it "
                        "(`GET /v1/framework` lists them). Each record says whether it feeds "
                        "decisions (`used`) and, if not, why (`excluded_by`: the tenant's "
                        "evidence policy or the educator's withdrawn consent); records of "
                        "sources the caller's role may not read are left out and counted in "
                        "`hidden` (docs/firewall.md).",
            responses=errors(401, 403, 404, 422, notes={404: (
                "No such educator in the caller's tenant, or `competency_id` names no "
                "competency of the framework (`GET /v1/framework` lists them)")}))
def get_evidence(
    who: Reader,
    services: ServicesDep,
    content: ContentDep,
    educator_id: str = EducatorId,
    competency_id: Annotated[str | None, Query(max_length=128,
                                               pattern=ADDRESSABLE_ID.pattern)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> Response:
    educator_or_404(services, who.tenant_id, educator_id)
    if competency_id is not None and competency_id not in content.graph:
        raise unknown_competencies(content, [("competency_id", competency_id)])
    firewall = services.store.firewall(who.tenant_id, [educator_id])
    readable = firewall.policy.readable(who.role)
    unreadable = [s for s in SOURCES if s not in readable]
    items = evidence_records(services.store, who.tenant_id, educator_id, competency_id,
                             limit=limit, sources=readable if unreadable else None)
    hidden = (count_evidence_records(services.store, who.tenant_id, educator_id, competency_id,
                                     sources=unreadable) if unreadable else 0)
    why = firewall.exclusions(pd.DataFrame({"educator_id": educator_id,
                                            "source": [it["source"] for it in items]},
                                           dtype=object)).tolist()
    for it, excluded in zip(items, why, strict=True):
        it["observed_at"] = it["observed_at"].isoformat()
        it["used"], it["excluded_by"] = excluded is None, excluded
    return json_response({"educator_id": educator_id, "count": len(items), "items": items,
                          "hidden": hidden, "evidence_policy": firewall.label(educator_id)})


@router.get("/{educator_id}/feedback", response_model=EducatorFeedbackOut,
            summary="An educator's feedback and coach overrides, newest first, and their effect",
            description="`state` is what the ranker uses now: pinned activities (in pin order, "
                        "proposed first), activities in progress (accepted or started), recently "
                        "declined ones (not proposed) and completed ones.",
            responses=errors(401, 403, 404, 422))
def get_feedback(
    who: Reader,
    services: ServicesDep,
    content: ContentDep,
    now: Now,
    educator_id: str = EducatorId,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    rec = educator_or_404(services, who.tenant_id, educator_id)
    events = feedback_history(services.store, who.tenant_id, educator_id, limit=limit)
    ctx = services.contexts(who.tenant_id, {educator_id: rec}, now, content.graph)[educator_id]
    acts = content.catalog.activities
    ids = {e["activity_id"] for e in events} | {e["replaces"] for e in events if e["replaces"]}
    ids |= set(ctx.pinned) | ctx.in_progress | ctx.declined | ctx.completed
    titles = {a: str(acts.at[a, "title"]) for a in sorted(ids) if a in acts.index}
    for e in events:
        e["at"] = e["at"].isoformat()
    return json_response({
        "educator_id": educator_id, "events": events,
        "state": {"pinned": list(ctx.pinned), "in_progress": sorted(ctx.in_progress),
                  "declined": sorted(ctx.declined), "completed": sorted(ctx.completed)},
        "titles": titles,
    })
