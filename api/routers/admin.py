"""Admin (role admin): reload the champion model; manage the tenant's API keys; read the
observers' severity; read and set the tenant's evidence clock."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.auth import Admin
from api.deps import ServicesDep
from api.errors import BadRequest, NotFound, Unavailable
from api.routers._common import educator_or_404, errors, json_response
from api.schemas import KeyIn, KeyOut, RatersOut, ReloadOut
from api.schemas.admin import EvidenceClockIn, EvidenceClockOut
from recommender.clock import DEFAULT_CLOCK, EvidenceClock
from recommender.fields import ADDRESSABLE_ID

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post("/model:reload", response_model=ReloadOut,
             summary="Load the current champions (requests keep being served meanwhile)",
             description="Builds the new model states completely (the default champion and "
                         "each tenant's own champion held), then swaps them in; stored "
                         "mastery from the previous model is recomputed on each educator's next "
                         "read. Without a champion the graph rule is served. A failed load keeps "
                         "the previous models and answers 503. `model` is the one now serving "
                         "the caller's tenant (its own champion, or the default), `default` the "
                         "default champion.",
             responses=errors(401, 403, 503))
async def reload_model(who: Admin, services: ServicesDep) -> Response:
    models = services.models
    previous = await run_in_threadpool(models.for_tenant, who.tenant_id)
    try:
        default = await run_in_threadpool(models.reload)
    except Exception as exc:  # noqa: BLE001 - reported, and the old model keeps serving
        raise Unavailable(f"model reload failed, still serving {previous.info()}: {exc}") from exc
    state = await run_in_threadpool(models.for_tenant, who.tenant_id)
    return json_response({"previous": previous.info(), "model": state.info(),
                          "default": default.info(), "reason": default.reason})


@router.get("/raters", response_model=RatersOut,
            summary="Observers' severity (the calibration conversation with a district's raters)",
            description="Each observer's severity in logits of latent skill with a 90% interval, "
                        "learned as a random effect from the served model's training evidence "
                        "(recommender.raters); the mastery estimate corrects observation records "
                        "by it, so a lenient or a harsh observer does not move mastery. Harshest "
                        "first; `min_ratings` hides observers with fewer ratings.",
            responses=errors(401, 403, 422))
def list_raters(who: Admin, services: ServicesDep,
                min_ratings: int = Query(0, ge=0, le=10**9)) -> Response:
    state = services.models.for_tenant(who.tenant_id)
    table = state.severity
    if table is None:
        note = ("no rater severity: " + ("the evidence filter is served without a model"
                                         if state.fallback else
                                         "the champion's training run logged none"))
        return json_response({"model": state.info(), "raters": [], "note": note})
    table = table[table["n_ratings"] >= min_ratings].sort_values(
        ["severity", "rater_id"], ascending=[False, True])
    return json_response({"model": state.info(), "raters": table.to_dict("records"),
                          "note": None})


def _key(k, secret: str | None = None) -> dict:
    return {"key_id": k.key_id, "tenant_id": k.tenant_id, "role": k.role, "label": k.label,
            "created_at": k.created_at.isoformat(),
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
            "educator_id": k.educator_id, "key": secret}


@router.get("/keys", response_model=list[KeyOut], summary="The tenant's API keys (no secrets)",
            responses=errors(401, 403))
def list_keys(who: Admin, services: ServicesDep) -> Response:
    return json_response([_key(k) for k in services.store.list_keys(who.tenant_id)])


@router.post("/keys", response_model=KeyOut, status_code=201,
             summary="Create a key in the caller's tenant; the secret is shown once",
             description="An `educator` key is bound to `educator_id`, an educator of the "
                         "tenant (404 when there is none): it reads that educator and the "
                         "tenant's content only. Other roles take no `educator_id` (422).",
             responses=errors(401, 403, 404, 422))
def create_key(body: KeyIn, who: Admin, services: ServicesDep) -> Response:
    if (body.role == "educator") != (body.educator_id is not None):
        raise BadRequest(
            f"educator_id goes with the educator role, and with no other; got role "
            f"{body.role!r} and educator_id {body.educator_id!r}",
            details=[{"field": "educator_id", "value": body.educator_id,
                      "reason": "required for an educator key, refused for the other roles"}])
    if body.educator_id is not None:
        educator_or_404(services, who.tenant_id, body.educator_id)
    secret, record = services.store.create_key(who.tenant_id, body.role, body.label,
                                               educator_id=body.educator_id)
    return json_response(_key(record, secret), 201)


@router.delete("/keys/{key_id}", response_model=KeyOut, summary="Revoke a key of the tenant",
               responses=errors(401, 403, 404, 422))
def revoke_key(who: Admin, services: ServicesDep,
               key_id: str = Path(min_length=1, max_length=16,
                                  pattern=ADDRESSABLE_ID.pattern)) -> Response:
    record = services.store.revoke_key(key_id, tenant_id=who.tenant_id)
    if record is None:
        raise NotFound(f"no API key {key_id!r} in this tenant",
                       details=[{"field": "key_id", "value": key_id, "reason": "no such key"}])
    services.key_cache.forget(key_id)
    return json_response(_key(record))


def _clock(clock: EvidenceClock, stale: int | None = None) -> dict:
    return {**clock.to_dict(), "half_life_days": clock.half_life_days,
            "default": clock == DEFAULT_CLOCK, "educators_marked_stale": stale}


_CLOCK_DOC = ("How fast the tenant's evidence ages: a half-life in the tenant's time unit (days, "
              "hours or minutes; default 60 days). The served mastery filter forgets old "
              "evidence on it (its drift per unit time scales with 60 days / half-life), so "
              "evidence minutes apart can decay on a clock in minutes. A trained model's own "
              "decay features are the model's and do not change.")


@router.get("/evidence-clock", response_model=EvidenceClockOut,
            summary="The tenant's evidence clock", description=_CLOCK_DOC,
            responses=errors(401, 403))
def get_evidence_clock(who: Admin, services: ServicesDep) -> Response:
    return json_response(_clock(services.mastery.clock(who.tenant_id)))


@router.put("/evidence-clock", response_model=EvidenceClockOut,
            summary="Set the tenant's evidence clock",
            description=_CLOCK_DOC + " Setting it marks every educator's stored mastery stale "
                        "(recomputed on their next read, in every process).",
            responses=errors(401, 403, 422))
def put_evidence_clock(body: EvidenceClockIn, who: Admin, services: ServicesDep) -> Response:
    clock = EvidenceClock(body.unit, body.half_life)
    stale = services.store.set_evidence_clock(
        who.tenant_id, None if clock == DEFAULT_CLOCK else (clock.unit, clock.half_life))
    return json_response(_clock(clock, stale))


@router.delete("/evidence-clock", response_model=EvidenceClockOut,
               summary="Put the tenant back on the default evidence clock (60 days)",
               responses=errors(401, 403))
def delete_evidence_clock(who: Admin, services: ServicesDep) -> Response:
    stale = services.store.set_evidence_clock(who.tenant_id, None)
    return json_response(_clock(DEFAULT_CLOCK, stale))
