"""Next activities for an educator (one or many), and pathways to goals.

Read path: the key (cached), the educator row, then the ranked answer from the per-process
:class:`~api.services.AnswerCache` when this educator was ranked at the same ``data_version``,
by the same model, for the same query; else their stored mastery (recomputed only when stale),
their feedback (the context) and the ranker (with the model's prebuilt ranking index). Every
answer, cached or not, gets its own ``request_id`` and its rows in the recommendation log (the
audit trail: to whom, which activities, which model), written behind the request in batches by
:class:`~api.audit.AuditLog`.

With ``explain=true`` every item's explanation cites, per target competency, the educator's own
evidence, most influential on the served estimate first (how far each record moved the
estimator's belief: :func:`recommender.serving.evidence_influence`), and what the estimate rests
on in words (:func:`recommender.explain.cite_recommendations`): one read of the educator's
evidence (their newest 500 records, with each record's own scale), one of the estimator's inputs
(a filter run for one educator; the model prior is cached; its completions serve the
contributions too) per educator per request, only when the answer is not cached
(the cached answer already holds the citations; the cache key holds ``data_version``).

The evidence firewall (docs/firewall.md): evidence the tenant's policy or the educator's
withdrawn consent excludes feeds nothing (:meth:`api.services.MasteryService.inputs`) and is
never cited; an explanation cites only sources the caller's role may read (the cache key holds
the role's reader when explaining). Every log row names the policy version and consent state
the answer ran under (``evidence_policy``, :meth:`recommender.firewall.EvidenceFirewall.label`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Annotated

import orjson
import pandas as pd
from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.auth import Principal, Reader
from api.deps import ContentDep, Now, ServicesDep
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
from recommender.explain import Recommendation, cite_recommendations
from recommender.firewall import EvidenceFirewall, reader_of
from recommender.pathway import plan_pathway
from recommender.ranking import EducatorContext, RankingRequest, rank_activities, rank_batch
from recommender.store import EducatorRecord
from recommender.store.coach import evidence_records

router = APIRouter(tags=["recommendations"])

def _log(services: Services, who: Principal, request_id: str, kind: str, state: ModelState,
         rows: list[tuple[str, int, str, float | None, float | None, int | None]],
         now: pd.Timestamp, labels: Mapping[str, str]) -> None:
    """Log rows ``(educator, slot, activity, score, propensity, ranker_rank)``, shown at
    ``now`` (the request's time); ranked lists name the exploration policy that drew their order
    (pathways: none); ``labels`` the evidence policy each educator's answer ran under."""
    policy = None if kind == "pathway" else services.exploration.name
    services.audit.record([
        {"tenant_id": who.tenant_id, "request_id": request_id, "educator_id": e, "kind": kind,
         "rank": r, "activity_id": a, "score": s, "model_name": state.name,
         "model_version": state.version, "key_id": who.key_id,
         "shown_at": now.to_pydatetime(),
         "propensity": p, "policy": policy, "ranker_rank": rr, "evidence_policy": labels[e]}
        for e, r, a, s, p, rr in rows])


def _shown(services: Services, request_id: str, educator_id: str, items,
           ranked: list[tuple[int, str, float, bool]]):
    """The items in the order drawn for this request (:mod:`api.exploring`) and their log rows;
    ``items`` is the cached serialized list when not exploring (shown as it is)."""
    shown = draw_shown(services.exploration, services.settings.explore_seed, request_id,
                       educator_id, ranked)
    if services.exploration.mode != "off":
        items = reorder_items(items, shown)
    return items, [(educator_id, *row) for row in shown]


_CITED_EVIDENCE_LIMIT = 500
"""How many of an educator's newest records an explanation may cite from."""


def _ranked_with_citations(services: Services, tenant_id: str, record: EducatorRecord, entry,
                           context: EducatorContext, state: ModelState,
                           request: RankingRequest, explain: bool, firewall: EvidenceFirewall,
                           role: str) -> list[Recommendation]:
    """One educator's ranked activities; with ``explain``, each target cites the educator's
    evidence, most influential on the served estimate first, and says what its estimate rests
    on (the newest records with their scales, and the estimator's inputs, read once, for the
    influence and the completions). Records the ``firewall`` excludes are never cited, nor
    records of sources the caller's ``role`` may not read."""
    educator_id = record.educator_id
    mastery = {c: x.p for c, x in entry.table.items()}
    content = state.content
    ranked = rank_activities(content.graph, content.catalog, MasteryService.frame(entry),
                             context=context,
                             request=request, index=state.index, model_version=state.version)
    if not explain or not ranked:
        return ranked
    rows = evidence_records(services.store, tenant_id, educator_id, limit=_CITED_EVIDENCE_LIMIT)
    evidence = pd.DataFrame(rows, columns=["evidence_id", "competency_id", "source", "score",
                                           "scale_min", "scale_max", "proficient",
                                           "observed_at", "rater_id"]).assign(
        educator_id=educator_id)
    citable = firewall.mask(evidence) & evidence["source"].isin(
        firewall.policy.readable(role)).to_numpy(bool)
    evidence = evidence[citable].reset_index(drop=True)
    # the estimator's inputs once: its completions are the ones the contributions word
    inputs = services.mastery.inputs(tenant_id, {educator_id: record}, [educator_id], state)
    completions = inputs[1]
    moved = services.mastery.influence(tenant_id, record, state, inputs=inputs, now=context.now)
    influence = pd.Series(moved.reindex(evidence["evidence_id"]).to_numpy(float),
                          index=evidence.index)
    return cite_recommendations(ranked, evidence, educator_id, graph=content.graph,
                                mastery=mastery, completions=completions,
                                catalog=content.catalog, influence=influence)


def _item(rank: int, rec, explain: bool) -> dict:
    return {"rank": rank, "activity_id": rec.activity_id, "title": rec.title,
            "format": rec.format, "hours": float(rec.hours), "score": float(rec.score),
            "reason": rec.reason, "pinned": bool(rec.pinned),
            "explanation": rec.explanation if explain else None}


def _only_available(context: EducatorContext, available: frozenset[str] | None
                    ) -> EducatorContext:
    """``context`` limited to the activities the caller says are available (None: all)."""
    return context if available is None else dataclasses.replace(context, available=available)


@router.get("/v1/educators/{educator_id}/recommendations", response_model=RecommendationsOut,
            summary="The next learning activities for an educator, with reasons",
            description="`available` (repeatable) names the activities the educator can take "
                        "now: none outside it is proposed, pinned or not (omitted: all). An "
                        "`available` id not in the catalog is a 404 naming it.",
            responses=errors(401, 403, 404, 422, notes={404: (
                "No such educator in the caller's tenant, or an `available` id names no "
                "activity of the catalog (`GET /v1/activities` lists them)")}))
async def get_recommendations(
    who: Reader,
    services: ServicesDep,
    content: ContentDep,
    now: Now,
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
    request = RankingRequest(k=k, max_hours=max_hours)
    # formats in the catalog's vocabulary: kept to through the context's available set
    only = offered(content, available, formats)
    unknown_activities(content, "available", available)
    # a tenant whose champion is not loaded yet is loaded in a worker thread, once
    state = (services.known(who.tenant_id, content)
             or await run_in_threadpool(services.serve, who.tenant_id, content))
    query = (state.key, state.loaded_at, request.k, request.max_hours, explain,
             None if only is None else tuple(sorted(only)),
             reader_of(who.role) if explain else None)
    # Async, so a cached answer costs no thread hop: the point read of the educator's version
    # takes tens of microseconds; a miss (store reads, ranking) runs in a worker thread.
    version = services.store.educator_version(who.tenant_id, educator_id)
    # the key holds everything the answer depends on that can change (see AnswerCache)
    answer = (services.answers.get((who.tenant_id, educator_id, *version, *query))
              if version is not None else None)
    if answer is None:
        answer = await run_in_threadpool(_rank_fresh, services, who.tenant_id, educator_id,
                                         version, query, state, request, explain, only, now,
                                         who.role)
    items_json, ranked, label = answer
    request_id = new_request_id()
    items_json, rows = _shown(services, request_id, educator_id, items_json, list(ranked))
    _log(services, who, request_id, "recommend", state, rows, now, {educator_id: label})
    return json_response({"educator_id": educator_id, "request_id": request_id,
                          "model": state.info(), "items": items_json})


def _rank_fresh(services: Services, tenant_id: str, educator_id: str, version, query,
                state: ModelState, request: RankingRequest, explain: bool,
                available: frozenset[str] | None, now: pd.Timestamp, role: str):
    """Rank from the store as of ``now`` (404 if the educator is not the tenant's) and cache
    the answer."""
    rec = educator_or_404(services, tenant_id, educator_id)
    answer = _rank_one(services, tenant_id, rec, state, request, explain, available, now, role)
    if version is not None and version[0] == rec.data_version:
        services.answers.put((tenant_id, educator_id, *version, *query), answer)
    return answer


def _rank_one(services: Services, tenant_id: str, rec, state: ModelState,
              request: RankingRequest, explain: bool, available: frozenset[str] | None,
              now: pd.Timestamp, role: str) -> tuple[orjson.Fragment | tuple[dict, ...],
                                                     tuple[tuple[int, str, float, bool], ...],
                                                     str]:
    """One educator's ranked items, serialized once (kept as dicts when exploring: each
    request shows its own order), ``(rank, activity_id, score, pinned)`` rows, and the evidence
    policy label the answer ran under (read after the mastery)."""
    e = rec.educator_id
    entry = services.mastery.get(tenant_id, {e: rec}, state, now=now)[e]
    firewall = services.store.firewall(tenant_id, [e])
    context = _only_available(services.contexts(tenant_id, {e: rec}, now,
                                                state.content.graph)[e], available)
    ranked = _ranked_with_citations(services, tenant_id, rec, entry, context, state, request,
                                    explain, firewall, role)
    items = [_item(i + 1, r, explain) for i, r in enumerate(ranked)]
    shown = tuple((i + 1, r.activity_id, float(r.score), bool(r.pinned))
                  for i, r in enumerate(ranked))
    if services.exploration.mode != "off":
        return tuple(items), shown, firewall.label(e)
    return (orjson.Fragment(orjson.dumps(items, option=orjson.OPT_SERIALIZE_NUMPY, default=str)),
            shown, firewall.label(e))


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
        entries = services.mastery.get(who.tenant_id, records, state, now=now)
        firewall = services.store.firewall(who.tenant_id, found)
        labels = {e: firewall.label(e) for e in found}
        contexts = {e: _only_available(c, only)
                    for e, c in services.contexts(who.tenant_id, records, now,
                                                  content.graph).items()}
        if explain:  # ranked one by one (rank_batch gives the same order and scores)
            for e in found:
                ranked = _ranked_with_citations(services, who.tenant_id, records[e], entries[e],
                                                contexts[e], state, request, True, firewall,
                                                who.role)
                items, rows = _shown(services, request_id, e,
                                     [_item(i + 1, r, True) for i, r in enumerate(ranked)],
                                     [(i + 1, r.activity_id, float(r.score), bool(r.pinned))
                                      for i, r in enumerate(ranked)])
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
    entry = services.mastery.get(who.tenant_id, {educator_id: rec}, state, now=now)[educator_id]
    label = services.store.firewall(who.tenant_id, [educator_id]).label(educator_id)
    context = _only_available(services.contexts(who.tenant_id, {educator_id: rec},
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
