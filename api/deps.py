"""FastAPI dependencies: the services, the store, and JSON bodies parsed fast (orjson).

Routers never reach into ``app.state`` themselves; they declare what they need here, which also
lets tests override any of it with ``app.dependency_overrides``.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Depends, Request

from api.errors import BadRequest, PayloadTooLarge
from api.services import Services
from recommender.store import Store

__all__ = ["ServicesDep", "get_services", "get_store", "json_body"]


async def get_services(request: Request) -> Services:
    """The process-wide :class:`~api.services.Services` built by the lifespan.

    Async (it never blocks): FastAPI runs a sync dependency in a worker thread, a hop per
    request that costs more than the lookup.
    """
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]
"""The services as an endpoint parameter: ``services: ServicesDep``."""


async def get_store(request: Request) -> Store:
    return request.app.state.services.store


async def json_body(request: Request) -> Any:
    """The request body parsed with orjson; 413 beyond ``PDREC_MAX_BODY_BYTES``, 422 if not JSON.

    Used by the bulk endpoints, which check records one by one instead of rejecting a whole
    batch for one malformed record.
    """
    limit = request.app.state.services.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body of {declared} bytes exceeds the limit of {limit} "
                              "bytes (PDREC_MAX_BODY_BYTES); split the batch",
                              details=[{"field": "body", "value": int(declared),
                                        "reason": f"at most {limit} bytes"}])
    raw = await request.body()
    if len(raw) > limit:
        raise PayloadTooLarge(f"request body of {len(raw)} bytes exceeds the limit of {limit} "
                              "bytes (PDREC_MAX_BODY_BYTES); split the batch")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}",
                         details=[{"field": "body", "value": raw[:100].decode("utf-8", "replace"),
                                   "reason": "expected a JSON document"}]) from None
