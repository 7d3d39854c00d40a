"""Pathways for many educators at once: ``POST /v1/pathways:batch``.

The batch form of ``GET /v1/educators/{educator_id}/pathway``: one read of the educators, their
stored mastery (recomputed only when stale) and their feedback (the contexts), then one
:func:`recommender.pathway.plan_pathways` call over all of them with the served model's index
(its pathway index is derived from the ranking index once per model load). Each educator's plan
equals the single endpoint's. Every planned step is written to the recommendation log
(``kind`` ``pathway-batch``, one row per step, no score, no propensity, the evidence policy
each plan ran under: docs/firewall.md), behind the request.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
from fastapi import APIRouter
from starlette.responses import Response

from api.auth import Principal, Reader
from api.deps import ContentDep, Now, ServicesDep
from api.errors import PayloadTooLarge
from api.routers._common import (
    errors,
    json_response,
    new_request_id,
    offered,
    unknown_activities,
    unknown_competencies,
)
from api.schemas.pathways import BatchPathwaysIn, BatchPathwaysOut
from api.services import ModelState, Services
from recommender.pathway import STEP_COLUMNS, PathwayBatch, plan_pathways
from recommender.ranking import EducatorContext, RankingRequest

router = APIRouter(tags=["recommendations"])

LOG_KIND = "pathway-batch"
"""The ``kind`` of this endpoint's rows in the recommendation log."""


@router.post("/v1/pathways:batch", response_model=BatchPathwaysOut,
             summary="Step-by-step plans to goal competencies for many educators at once",
             description="Up to `PDREC_MAX_BATCH_EDUCATORS` (default 500) educators; ids not in "
                         "the caller's tenant are listed in `not_found`. Goals from `goals` "
                         "(for every educator), else each educator's own (an educator without "
                         "any is listed in `without_goals`, the others are planned). Each plan "
                         "is the one `GET /v1/educators/{educator_id}/pathway` gives with the "
                         "same goals, formats and available activities. A `goals` id not in the "
                         "framework, an `available` id not in the catalog or a `formats` word "
                         "outside the catalog's vocabulary is a 404 naming it.",
             responses=errors(401, 403, 404, 413, 422, notes={404: (
                 "A `goals` id names no competency of the framework (`GET /v1/framework` "
                 "lists them), an `available` id names no activity of the catalog, or a "
                 "`formats` word is outside the catalog's vocabulary (`GET /v1/activities` "
                 "lists both)")}))
def post_pathways_batch(who: Reader, services: ServicesDep, content: ContentDep, now: Now,
                        body: BatchPathwaysIn) -> Response:
    limit = services.settings.max_batch_educators
    if len(body.educator_ids) > limit:
        raise PayloadTooLarge(
            f"{len(body.educator_ids)} educators in one request; the limit is {limit}",
            details=[{"field": "educator_ids", "value": len(body.educator_ids),
                      "reason": f"at most {limit} ids"}])
    shared = None if body.goals is None else list(dict.fromkeys(body.goals))
    if shared is not None:
        bad = [(f"goals[{i}]", g) for i, g in enumerate(body.goals) if g not in content.graph]
        if bad:
            raise unknown_competencies(content, bad)
    only = offered(content, body.available, body.formats)
    unknown_activities(content, "available", body.available)
    ids = list(dict.fromkeys(body.educator_ids))
    records = services.store.get_educators(who.tenant_id, ids)
    state = services.serve(who.tenant_id, content)
    # an educator's own goals on competencies the tenant's framework retired are left out
    goals = {e: shared if shared is not None else
             [g for g in dict.fromkeys(records[e].goals) if g in content.graph]
             for e in ids if e in records}
    planned = [e for e in ids if goals.get(e)]
    results: list[dict] = []
    if planned:
        batch = _plan(services, who.tenant_id, {e: records[e] for e in planned},
                      {e: goals[e] for e in planned}, state, only, now)
        results = _results(batch, planned, goals)
    request_id = new_request_id()
    _log(services, who, request_id, state, results, now)
    return json_response({"request_id": request_id, "model": state.info(), "results": results,
                          "not_found": [e for e in ids if e not in records],
                          "without_goals": [e for e in ids if e in records and not goals[e]]})


def _plan(services: Services, tenant_id: str, records: dict, goals: dict[str, list[str]],
          state: ModelState, only: frozenset[str] | None, now: pd.Timestamp) -> PathwayBatch:
    """Every educator's plan from their stored mastery (level and bound) and feedback, as of
    the request's ``now``."""
    entries = services.mastery.get(tenant_id, records, state, now=now)
    content = state.content
    contexts: dict[str, EducatorContext] = services.contexts(tenant_id, records, now,
                                                             content.graph)
    if only is not None:
        contexts = {e: dataclasses.replace(c, available=only) for e, c in contexts.items()}
    rows = [(e, c, cell.p, cell.p_bound)
            for e in records for c, cell in entries[e].table.items()]
    long = pd.DataFrame(rows, columns=["educator_id", "competency_id", "p_mastery", "p_bound"])
    return plan_pathways(content.graph, content.catalog, long, goals, contexts=contexts,
                         request=RankingRequest(), gains=state.gains if state.index is None
                         else None, index=state.index)


def _results(batch: PathwayBatch, planned: list[str], goals: dict[str, list[str]]
             ) -> list[dict]:
    """The response's results, in request order, from the batch's frames."""
    cols = [c for c in STEP_COLUMNS if c != "educator_id"]
    by_educator = {e: g[cols].to_dict("records")
                   for e, g in batch.steps.groupby("educator_id", sort=False)}
    lost = batch.unreachable.groupby("educator_id", sort=False)["competency_id"].agg(list)
    totals = batch.total_hours
    return [{"educator_id": e, "goals": goals[e], "steps": by_educator.get(e, []),
             "total_hours": float(totals[e]), "unreachable": lost.get(e, [])}
            for e in planned]


def _log(services: Services, who: Principal, request_id: str, state: ModelState,
         results: list[dict], now: pd.Timestamp) -> None:
    """One recommendation-log row per planned step (rank: the step number), shown at the
    request's ``now``."""
    ids = [r["educator_id"] for r in results]
    firewall = services.store.firewall(who.tenant_id, ids) if ids else None
    services.audit.record([
        {"tenant_id": who.tenant_id, "request_id": request_id, "educator_id": r["educator_id"],
         "kind": LOG_KIND, "rank": s["step"], "activity_id": s["activity_id"], "score": None,
         "model_name": state.name, "model_version": state.version, "key_id": who.key_id,
         "shown_at": now.to_pydatetime(), "propensity": None, "policy": None, "ranker_rank": None,
         "evidence_policy": firewall.label(r["educator_id"])}
        for r in results for s in r["steps"]])
