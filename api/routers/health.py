"""Liveness, readiness and Prometheus metrics (no API key needed)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from api.deps import ServicesDep
from api.routers._common import json_response
from api.schemas import HealthOut, ReadyOut

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut, summary="Liveness: the process answers")
async def healthz() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


@router.get("/readyz", response_model=ReadyOut, responses={503: {"model": ReadyOut}},
            summary="Readiness: store reachable; which model is served (or the graph rule)")
def readyz(services: ServicesDep) -> Response:
    ok = services.store.ping()
    state = services.models.state
    body = {
        "ready": ok,
        "store": {"reachable": ok, "dialect": services.store.dialect},
        "model": {**state.info(), "loaded": not state.fallback,
                  "gains": "learned" if state.gains is not None else "catalog prior",
                  "loaded_at": state.loaded_at.isoformat(), "reason": state.reason,
                  "tenant_models": services.models.tenant_models},
    }
    return json_response(body, 200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics (text exposition format)",
            response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Metrics"}})
def metrics(services: ServicesDep) -> Response:
    body, content_type = services.metrics.render()
    return Response(body, media_type=content_type)
