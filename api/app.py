"""The app factory: settings -> lifespan (store, migrations, model) -> routers -> error table.

``create_app()`` reads :class:`~api.settings.Settings` from the environment and serves the model
its ``model_loader`` returns (none: the evidence filter alone). The app knows nothing of MLflow:
``pdrec serve`` runs :func:`pipelines.app.create_app` with uvicorn (factory mode), which hands
this one the champion's loader; tests pass their own settings and loader.
"""

from __future__ import annotations

import gc
import logging
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool

from api.auth import AuthMiddleware, document_security
from api.coach import install as install_coach_page
from api.errors import RequestIdMiddleware, document_errors, install_error_handlers
from api.lane import KeptAnswerLane
from api.limits import BodyLimit, BodyLimitMiddleware
from api.metrics import Metrics, MetricsMiddleware
from api.query import single_valued_query
from api.routers import ROUTERS
from api.routers import evidence as evidence_routes
from api.schemas import EvidenceBatchIn, XapiBatchIn
from api.services import Loader, Services, TenantLoader
from api.settings import Settings
from recommender.store import open_store

__all__ = ["create_app"]

log = logging.getLogger("pdrec.api")

DESCRIPTION = """Adaptive professional-learning recommendations for K-12 educators.

**Auth**: every `/v1` call needs an API key, `Authorization: Bearer <key>` (or `X-API-Key`).
The key's tenant scopes everything; roles: `platform` (write evidence, profiles and feedback,
read recommendations), `coach` (read, feedback and coach overrides), `admin` (everything, keys,
model reload), `educator` (bound to one educator: reads it and its consent, and the tenant's
content; any other educator is a 404, anything else a 403). Missing or wrong key: 401; wrong
role: 403; an educator of another tenant: 404.

**Errors**: `{"error": {"status", "code", "message", "details": [{"field", "value", "reason"}]}}`,
whoever answers (a route, an unknown path, a body that is not JSON, a body over its limit: 413).
A 500 names only the request id; send `X-Request-ID` to choose it (every answer carries it).
A query parameter that takes one value, sent more than once: 422 naming it.
Repeated failed authentications from one client and key id: 429 with `Retry-After`.

**Model**: every answer says which estimator produced it in `model` (`fallback: true` when no
champion model is loaded and the graph rule is used); `scope` says whose champion it is: the
tenant's own (`tenant`), the `default` one, or `none` (the graph rule).
"""


def create_app(settings: Settings | None = None, *, model_loader: Loader | None = None,
               tenant_loader: TenantLoader | None = None) -> FastAPI:
    """Build the FastAPI app.

    Parameters
    ----------
    settings : Settings or None
        Default: read from the environment.
    model_loader : callable or None
        Returns the :class:`~api.services.ModelState` to serve, at start and on every
        ``POST /v1/admin/model:reload``; None (the default): no model, the evidence filter
        alone. :func:`pipelines.app.create_app` passes the MLflow champion's loader.
    tenant_loader : callable or None
        Returns a tenant's own champion (or None: it is served the default one), on the
        tenant's first request and at every reload (:class:`~api.services.ModelService`);
        None: every tenant is served the default.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        store = await run_in_threadpool(open_store, settings.store_url(),
                                        run_migrations=settings.run_migrations,
                                        pool_size=settings.db_pool_size)
        services = Services(settings, store, model_loader=model_loader,
                            tenant_loader=tenant_loader, metrics=metrics)
        app.state.services = services
        if model_loader is not None:
            try:
                await run_in_threadpool(services.models.reload)
            except Exception as exc:  # noqa: BLE001 - serve the graph rule, say so in /readyz
                log.exception("champion model not loaded; serving the graph rule")
                services.models.serve_fallback(f"champion failed to load: {exc}")
        await store.open_loop_reads()  # not at the first requests, which would queue on it
        # Everything loaded so far (libraries, model, content) lives as long as the process:
        # move it out of the collector's view, so a full collection scans only request garbage
        # and does not pause every request behind it.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            try:
                await run_in_threadpool(services.close)  # the pending recommendation log
            finally:
                store.dispose()

    metrics = Metrics()
    # every route: a single-value query parameter sent twice is a 422, not its last value
    app = FastAPI(title="pdrec API", version="1", description=DESCRIPTION, lifespan=lifespan,
                  dependencies=[Depends(single_valued_query)])
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    install_coach_page(app)
    # Outermost last: the request id, then metrics (which count every answer, the door's
    # included), the body limit, authentication, the kept-answer lane (api.lane: a kept
    # recommendations answer without routing); routing and the routes come after all five.
    app.add_middleware(KeptAnswerLane)
    app.add_middleware(AuthMiddleware)
    bulk = BodyLimit(settings.max_body_bytes, "PDREC_MAX_BODY_BYTES")
    app.add_middleware(BodyLimitMiddleware,
                       default=BodyLimit(settings.max_request_bytes, "PDREC_MAX_REQUEST_BYTES"),
                       paths={route.path: bulk for route in evidence_routes.router.routes})
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(RequestIdMiddleware)

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (EvidenceBatchIn, XapiBatchIn):  # bodies parsed by hand (orjson)
                js = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(js.pop("$defs", {}))
                components[model.__name__] = js
            app.openapi_schema = document_security(document_errors(schema))
        return app.openapi_schema

    app.openapi = openapi
    return app
