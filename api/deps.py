"""FastAPI dependencies: the services, the caller's content, the store, the request's time, and
JSON bodies parsed fast (orjson).

Routers never reach into ``app.state`` themselves; they declare what they need here, which also
lets tests override any of it with ``app.dependency_overrides``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import orjson
import pandas as pd
from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from api.auth import Principal, permitted, principal
from api.errors import invalid_json
from api.services import Services
from recommender.store import Store
from recommender.tenant_content import TenantContent

__all__ = ["ContentDep", "Now", "Reading", "ReadingDep", "ServicesDep", "get_services",
           "get_store", "json_body", "reading", "request_now", "tenant_content"]


async def get_services(request: Request) -> Services:
    """The process-wide :class:`~api.services.Services` built by the lifespan.

    Async (it never blocks): FastAPI runs a sync dependency in a worker thread, a hop per
    request that costs more than the lookup.
    """
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]
"""The services as an endpoint parameter: ``services: ServicesDep``."""


async def request_now(request: Request) -> pd.Timestamp:
    """The request's time (UTC), read from the clock once per request: every part of an answer
    that depends on time (the mastery estimate's as-of, cool-downs and decline windows, the
    evidence time window, the log's ``shown_at``) is computed as of this one moment, which the
    routes pass to the engine explicitly (the engine reads no clock of its own)."""
    now = getattr(request.state, "now", None)
    if now is None:
        now = request.state.now = pd.Timestamp.now(tz="UTC")
    return now


Now = Annotated[pd.Timestamp, Depends(request_now)]
"""The request's time as an endpoint parameter: ``now: Now``."""


async def tenant_content(request: Request, who: Principal = Depends(principal)) -> TenantContent:
    """The caller's tenant's framework and catalog (:class:`api.content.ContentService`: the
    default, or its active uploaded versions). Async: the content known to this process is
    returned on the event loop (no thread hop per request); when a store read of the active
    versions is due (once per tenant per second) or a build, that runs in a worker thread."""
    content = request.app.state.services.content
    return (content.known(who.tenant_id)
            or await run_in_threadpool(content.for_tenant, who.tenant_id))


ContentDep = Annotated[TenantContent, Depends(tenant_content)]
"""The caller's content as an endpoint parameter: ``content: ContentDep``."""


@dataclass(frozen=True)
class Reading:
    """What a hot read endpoint needs, from one dependency: the caller (holding ``read``), the
    services, the caller's content and the request's time. Each dependency costs FastAPI's
    per-request solving (about a tenth of a millisecond each here), which dominated the
    cost of a recommendations read served from the store."""

    who: Principal
    services: Services
    content: TenantContent
    now: pd.Timestamp


async def reading(request: Request, now: Now) -> Reading:
    """The :class:`Reading` of this request (403 when the caller may not read)."""
    who = permitted(request.state.principal, "read")
    return Reading(who, request.app.state.services, await tenant_content(request, who), now)


ReadingDep = Annotated[Reading, Depends(reading)]
"""A hot read endpoint's context as one parameter: ``r: ReadingDep``."""


async def get_store(request: Request) -> Store:
    return request.app.state.services.store


async def json_body(request: Request) -> Any:
    """The request body parsed with orjson; 422 ``invalid_json`` if it is not JSON.

    Used by the bulk endpoints, which check records one by one instead of rejecting a whole
    batch for one malformed record. The body's size is bounded before it gets here
    (``PDREC_MAX_BODY_BYTES``, :mod:`api.limits`).
    """
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise invalid_json(bad) from None
        raise invalid_json(exc) from None
