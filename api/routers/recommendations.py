"""Next activities for an educator (one or many), and pathways to goals.

Read path (:mod:`api.answers`): the key (cached), then one point read of the educator's
``data_version`` joined with their answer to this query computed at that version, by this model
(kept in the store, where every worker reads it; the default query's answer is computed when
the educator's data changes, so it is usually there); only on a miss their stored mastery
(recomputed only when stale), their feedback (the context) and the ranker (with the model's
prebuilt ranking index), the answer then kept for the next reads. Every answer, kept or not,
gets its own ``request_id`` and its rows in the recommendation log (the audit trail: to whom,
which activities, which model), written behind the request in batches by
:class:`~api.audit.AuditLog`.

With ``explain=true`` every item's explanation cites, per target competency, the educator's own
evidence, most influential on the served estimate first (how far each record moved the
estimator's belief: :func:`recommender.serving.evidence_influence`), and what the estimate rests
on in words (:func:`recommender.explain.cite_recommendations`): one read of the educator's
evidence (their newest 500 records, with each record's own scale), one of the estimator's inputs
(a filter run for one educator; the model prior is cached; its completions serve the
contributions too) per educator, only when the answer is computed.

The evidence firewall (docs/firewall.md): evidence the tenant's policy or the educator's
withdrawn consent excludes feeds nothing (:meth:`api.services.MasteryService.inputs`, read once
per answer and passed along) and is never cited; an explanation cites only sources the caller's
role may read (the answer's key holds the role's reader when explaining). Every log row names
the policy version and consent state the answer ran under (``evidence_policy``,
:meth:`recommender.firewall.EvidenceFirewall.label`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import orjson
import pandas as pd
from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.answers import AnswerQuery, only_available, ranked_rows, ranked_with_citations
from api.auth import Principal, Reader
from api.deps import ContentDep, Now, ReadingDep, ServicesDep
from api.errors import BadRequest, PayloadTooLarge
from api.exploring import draw_shown, reorder_items
from api.routers._common import (
    EducatorId,
    educator_or_404,
    errors,
    json_response,
    new_request_id,
    offered,
    unknown_activities,
    unknown_competencies,
)
from api.schemas import (
    BatchRecommendationsIn,
    BatchRecommendationsOut,
    Format,
    PathwayOut,
    RecommendationsOut,
)
from api.schemas.common import AddressableId
from api.schemas.recommendations import MAX_AVAILABLE
from api.services import MasteryService, ModelState, Services
from recommender.firewall import reader_of
from recommender.pathway import plan_pathway
from recommender.ranking import RankingRequest, rank_batch
from recommender.store.answers import StoredAnswer

router = APIRouter(tags=["recommendations"])

def _log(services: Services, who: Principal, request_id: str, kind: str, state: ModelState,
         rows: list[tuple[str, int, str, float | None, float | None, int | None]],
         now: pd.Timestamp, labels: Mapping[str, str]) -> None:
    """Log rows ``(educator, slot, activity, score, propensity, ranker_rank)``, shown at
    ``now`` (the request's time); ranked lists name the exploration policy that drew their order
    (pathways: none); ``labels`` the evidence policy each educator's answer ran under."""
    policy = None if kind == "pathway" else services.exploration.name
    shown_at = now.to_pydatetime()  # once, not per row (2 us each: a kept read's 5 rows)
    services.audit.record([
        {"tenant_id": who.tenant_id, "request_id": request_id, "educator_id": e, "kind": kind,
         "rank": r, "activity_id": a, "score": s, "model_name": state.name,
         "model_version": state.version, "key_id": who.key_id, "shown_at": shown_at,
         "propensity": p, "policy": policy, "ranker_rank": rr, "evidence_policy": labels[e]}
        for e, r, a, s, p, rr in rows])


def _shown(services: Services, request_id: str, educator_id: str, items: bytes | list[dict],
           ranked: list[tuple[int, str, float, bool]]):
    """The items in the order drawn for this request (:mod:`api.exploring`) and their log rows;
    ``items`` serialized (a kept answer) are shown as they are when not exploring."""
    shown = draw_shown(services.exploration, services.settings.explore_seed, request_id,
                       educator_id, ranked)
    if services.exploration.mode != "off":
        items = reorder_items(orjson.loads(items) if isinstance(items, bytes) else items, shown)
    elif isinstance(items, bytes):
        items = orjson.Fragment(items)
    return items, [(educator_id, *row) for row in shown]


@router.get("/v1/educators/{educator_id}/recommendations", response_model=RecommendationsOut,
            summary="The next learning activities for an educator, with reasons",
            description="`available` (repeatable) names the activities the educator can take "
                        "now: none outside it is proposed, pinned or not (omitted: all). An "
                        "`available` id not in the catalog is a 404 naming it.",
            responses=errors(401, 403, 404, 422, notes={404: (
                "No such educator in the caller's tenant, or an `available` id names no "
                "activity of the catalog (`GET /v1/activities` lists them)")}))
async def get_recommendations(
    r: ReadingDep,
    educator_id: str = EducatorId,
    k: Annotated[int, Query(ge=1, le=50, description="How many activities")] = 5,
    max_hours: Annotated[float | None, Query(gt=0, le=10000,
                                             description="Hour budget for the whole list")] = None,
    formats: Annotated[list[Format] | None, Query(
        description="Allowed formats, words of the catalog's vocabulary (`GET /v1/activities` "
                    "lists it); another word is a 404 naming the allowed ones")] = None,
    explain: Annotated[bool, Query(description="Include the structured explanation")] = False,
    available: Annotated[list[AddressableId] | None, Query(
        description="The activities the educator can take now (repeatable); omitted: all",
        max_length=MAX_AVAILABLE)] = None,
) -> Response:
    who, services, content, now = r.who, r.services, r.content, r.now
    # formats in the catalog's vocabulary: kept to through the context's available set
    only = offered(content, available, formats)
    unknown_activities(content, "available", available)
    # a tenant whose champion is not loaded yet is loaded in a worker thread, once
    state = (services.known(who.tenant_id, content)
             or await run_in_threadpool(services.serve, who.tenant_id, content))
    query = AnswerQuery.of(k, max_hours, explain, only, who.role)
    # Async, so a kept answer costs no thread hop: one point read of the educator's version
    # and the answer computed at it, awaited on the loop's own connection; a miss (store
    # reads, ranking) runs in a worker thread.
    version, answer = await services.answers.lookup(who.tenant_id, educator_id, query, state)
    if answer is None:
        answer = await run_in_threadpool(_fresh, services, who.tenant_id, educator_id, query,
                                         state, now, version)
    return answer_response(services, who, state, educator_id, answer, now)


def answer_response(services: Services, who: Principal, state: ModelState, educator_id: str,
                    answer: StoredAnswer, now: pd.Timestamp) -> Response:
    """The response of one answer, with its own ``request_id`` and its rows queued for the
    recommendation log (the route's, and the kept-answer lane's: :mod:`api.lane`)."""
    request_id = new_request_id()
    items, rows = _shown(services, request_id, educator_id, answer.items_json,
                         list(answer.shown))
    _log(services, who, request_id, "recommend", state, rows, now,
         {educator_id: answer.label})
    return json_response({"educator_id": educator_id, "request_id": request_id,
                          "model": state.info(), "items": items})


def _fresh(services: Services, tenant_id: str, educator_id: str, query: AnswerQuery,
           state: ModelState, now: pd.Timestamp, version) -> StoredAnswer:
    """The answer computed from the store as of ``now`` (404 if the educator is not the
    tenant's), kept for the next reads."""
    rec = educator_or_404(services, tenant_id, educator_id)
    return services.answers.compute(tenant_id, rec, query, state, now, version)


@router.post("/v1/recommendations:batch", response_model=BatchRecommendationsOut,
             summary="Next activities for many educators at once",
             description="Up to `PDREC_MAX_BATCH_EDUCATORS` (default 500) educators; ids not in "
                         "the caller's tenant are listed in `not_found`. With `explain=true` "
                         "each item has its reason and explanation (citing the educator's "
                         "evidence), at the cost of one evidence read per educator. "
                         "`available` names the activities the educators can take now: none "
                         "outside it is proposed, pinned or not (omitted: all); an id in it not "
                         "in the catalog is a 404 naming it.",
             responses=errors(401, 403, 404, 413, 422, notes={404: (
                 "An `available` id names no activity of the catalog (`GET /v1/activities` "
                 "lists them)")}))
def post_batch(
    who: Reader,
    services: ServicesDep,
    content: ContentDep,
    now: Now,
    body: BatchRecommendationsIn,
    explain: Annotated[bool, Query(description="Include reasons and the structured "
                                               "explanations")] = False,
) -> Response:
    limit = services.settings.max_batch_educators
    if len(body.educator_ids) > limit:
        raise PayloadTooLarge(
            f"{len(body.educator_ids)} educators in one request; the limit is {limit}",
            details=[{"field": "educator_ids", "value": len(body.educator_ids),
                      "reason": f"at most {limit} ids"}])
    request = RankingRequest(k=body.k, max_hours=body.max_hours)
    only = offered(content, body.available, body.formats)
    unknown_activities(content, "available", body.available)
    ids = list(dict.fromkeys(body.educator_ids))
    records = services.store.get_educators(who.tenant_id, ids)
    state = services.serve(who.tenant_id, content)
    found = [e for e in ids if e in records]
    results = []
    log_rows = []
    request_id = new_request_id()
    labels: dict[str, str] = {}
    if found:
        firewall = services.store.firewall(who.tenant_id, found)
        entries = services.mastery.get(who.tenant_id, records, state, now=now,
                                       firewall=firewall)
        labels = {e: firewall.label(e) for e in found}
        contexts = {e: only_available(c, only)
                    for e, c in services.contexts(who.tenant_id, records, now,
                                                  content.graph).items()}
        if explain:  # ranked one by one (rank_batch gives the same order and scores)
            for e in found:
                ranked = ranked_with_citations(services, who.tenant_id, records[e], entries[e],
                                               contexts[e], state, request, True, firewall,
                                               reader_of(who.role))
                items, shown = ranked_rows(ranked, True)
                items, rows = _shown(services, request_id, e, items, list(shown))
                results.append({"educator_id": e, "items": items})
                log_rows.extend(rows)
        else:
            results, log_rows = _batch_unexplained(services, found, entries, contexts, state,
                                                   request, request_id)
    if results:
        _log(services, who, request_id, "batch", state, log_rows, now, labels)
    return json_response({"request_id": request_id, "model": state.info(), "results": results,
                          "not_found": [e for e in ids if e not in records]})


def _batch_unexplained(services: Services, found: list[str], entries, contexts,
                       state: ModelState, request: RankingRequest, request_id: str
                       ) -> tuple[list[dict], list[tuple[str, int, str, float, float, int]]]:
    """All educators ranked at once (:func:`rank_batch`), without reasons or explanations:
    the results (each list in the order drawn for this request) and the log rows."""
    frames = []
    for e in found:
        f = MasteryService.frame(entries[e]).reset_index()
        f.insert(0, "educator_id", e)
        frames.append(f)
    content = state.content
    ranked = rank_batch(content.graph, content.catalog, pd.concat(frames, ignore_index=True),
                        contexts=contexts, request=request, index=state.index)
    acts = content.catalog.activities
    by_educator = {e: g for e, g in ranked.groupby("educator_id", sort=False)}
    results, log_rows = [], []
    for e in found:
        g = by_educator.get(e)
        items, ranked_rows = [], []
        if g is not None:
            for r, a, s in zip(g["rank"].tolist(), g["activity_id"].tolist(),
                               g["score"].tolist(), strict=True):
                pinned = a in contexts[e].pinned
                items.append({"rank": r, "activity_id": a, "title": acts.at[a, "title"],
                              "format": acts.at[a, "format"],
                              "hours": float(acts.at[a, "hours"]), "score": float(s),
                              "reason": "", "pinned": pinned, "explanation": None})
                ranked_rows.append((r, a, float(s), pinned))
        items, rows = _shown(services, request_id, e, items, ranked_rows)
        log_rows.extend(rows)
        results.append({"educator_id": e, "items": items})
    return results, log_rows


@router.get("/v1/educators/{educator_id}/pathway", response_model=PathwayOut,
            summary="A step-by-step plan to goal competencies",
            description="Goals from `goal` (repeatable), else the educator's own goals (none: "
                        "422). A `goal` that names no competency of the framework is a 404 "
                        "naming it (`GET /v1/framework` lists them). `available` (repeatable) "
                        "names the activities the educator can take now: no step outside it is "
                        "planned, pinned or not (omitted: all); an id in it not in the catalog "
                        "is a 404 naming it.",
            responses=errors(401, 403, 404, 422, notes={404: (
                "No such educator in the caller's tenant, a `goal` names no competency of "
                "the framework (`GET /v1/framework` lists them), or an `available` id names "
                "no activity of the catalog (`GET /v1/activities` lists them)")}))
def get_pathway(
    who: Reader,
    services: ServicesDep,
    content: ContentDep,
    now: Now,
    educator_id: str = EducatorId,
    goal: Annotated[list[str] | None, Query(description="Goal competency id(s)",
                                            max_length=50)] = None,
    formats: Annotated[list[Format] | None, Query(
        description="Allowed formats, words of the catalog's vocabulary (`GET /v1/activities` "
                    "lists it); another word is a 404 naming the allowed ones")] = None,
    available: Annotated[list[AddressableId] | None, Query(
        description="The activities the educator can take now (repeatable); omitted: all",
        max_length=MAX_AVAILABLE)] = None,
) -> Response:
    only = offered(content, available, formats)
    rec = educator_or_404(services, who.tenant_id, educator_id)
    unknown_activities(content, "available", available)
    goals = list(dict.fromkeys(goal or rec.goals))
    if not goals:
        raise BadRequest("no goal: pass ?goal=<competency_id> or set the educator's goals "
                         "(PUT /v1/educators/{id})",
                         details=[{"field": "goal", "value": None,
                                   "reason": "at least one competency id"}])
    bad = [g for g in goals if g not in content.graph]
    if bad:
        raise unknown_competencies(content, [("goal" if goal else "goals", g) for g in bad])
    state = services.serve(who.tenant_id, content)
    firewall = services.store.firewall(who.tenant_id, [educator_id])
    entry = services.mastery.get(who.tenant_id, {educator_id: rec}, state, now=now,
                                 firewall=firewall)[educator_id]
    label = firewall.label(educator_id)
    context = only_available(services.contexts(who.tenant_id, {educator_id: rec},
                                                now, content.graph)[educator_id],
                              only)
    plan = plan_pathway(content.graph, content.catalog, MasteryService.frame(entry), goals,
                        context=context, request=RankingRequest(),
                        gains=state.gains if state.index is None else None, index=state.index)
    request_id = new_request_id()
    _log(services, who, request_id, "pathway", state,
         [(educator_id, i + 1, s.activity_id, None, None, None)
          for i, s in enumerate(plan.steps)], now, {educator_id: label})
    steps = [{"step": i + 1, **s.__dict__} for i, s in enumerate(plan.steps)]
    return json_response({"educator_id": educator_id, "request_id": request_id,
                          "model": state.info(), "goals": list(plan.goals), "steps": steps,
                          "total_hours": plan.total_hours, "unreachable": plan.unreachable})
