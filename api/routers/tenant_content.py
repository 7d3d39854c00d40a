"""Admin (role admin): the tenant's own framework and catalog, versioned (docs/tenants.md).

``PUT`` stores a new version after checking it with the loaders every file goes through
(:func:`recommender.tenant_content.upload`), answers which evidence the change retires, and
makes the tenant's stored mastery stale; ``GET`` reads the active version (or ``?version=``)
and lists them all; ``PUT .../active`` serves a stored version again. The change is served by
this process at once and by the others within :data:`api.content.CHECK_SECONDS`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from starlette.responses import Response

from api.auth import Admin
from api.deps import ServicesDep
from api.errors import BadRequest, NotFound
from api.routers._common import errors, json_response
from api.schemas.imports import CaseUploadIn, CaseUploadOut
from api.schemas.tenant_content import (
    ActivateIn,
    CatalogUploadIn,
    ContentOut,
    ContentUploadOut,
    FrameworkUploadIn,
)
from api.services import Services
from recommender.graph import framework_to_dict
from recommender.standards.case import import_case
from recommender.tenant_content import ContentError, upload

router = APIRouter(prefix="/v1/admin", tags=["admin"])

Kind = Literal["framework", "catalog"]


def _problems(exc: ContentError) -> BadRequest:
    """The 422 naming each problem: the document (an activity's id for a catalog), the value
    and what was expected."""
    details = []
    for p in exc.problems:
        aid, sep, rest = p.partition(": ")
        if exc.field == "catalog" and sep and " " not in aid:
            details.append({"field": f"catalog.activities[{aid}]", "value": aid,
                            "reason": f"{rest}; expected {exc.expected}"})
        else:
            details.append({"field": exc.field, "value": p,
                            "reason": f"expected {exc.expected}"})
    return BadRequest(f"{exc}; nothing was stored", details=details)


def _upload(services: Services, tenant_id: str, by: str, **documents) -> dict:
    services.content.forget(tenant_id)  # check against what the store says is active now
    current = services.content.for_tenant(tenant_id)
    try:
        report = upload(services.store, tenant_id, current, by=by, **documents)
    except ContentError as exc:
        raise _problems(exc) from None
    services.content.forget(tenant_id)
    now = services.content.for_tenant(tenant_id)
    return {"versions": report.versions, "educators_marked_stale": report.stale_educators,
            "framework_hash": report.framework_hash, "retired": report.retired,
            "content": now.info()}


_UPLOAD = ("Checked with the loaders every framework and catalog file goes through (errors: "
           "422 naming the document, the value and what was expected; nothing stored). The "
           "answer lists stored evidence on competency ids the framework no longer has "
           "(`retired`): evidence is never deleted; evidence on an id a competency `replaces` "
           "(or `mapping` names) counts for that competency, the rest is left out of "
           "estimates. Every educator's stored mastery of the tenant is marked stale.")


@router.put("/framework", response_model=ContentUploadOut,
            summary="Upload a new version of the tenant's framework",
            description=_UPLOAD + " The tenant's catalog must load against the new framework, "
                        "or come with it (`catalog`).", responses=errors(401, 403, 422))
def put_framework(body: FrameworkUploadIn, who: Admin, services: ServicesDep) -> Response:
    return json_response(_upload(services, who.tenant_id, who.key_id, framework=body.document,
                                 catalog=body.catalog, mapping=body.mapping))


@router.put("/framework/case", response_model=CaseUploadOut,
            summary="Import a CASE package as a new version of the tenant's framework",
            description="A 1EdTech CASE 1.0 CFPackage: CFItems become competencies (codes kept), "
                        "`isChildOf` domains, `precedes` prerequisites, `hasSkillLevel` or notes "
                        "level descriptors (docs/standards.md). What can be imported is stored "
                        "as with `PUT /v1/admin/framework`, and the answer carries the import "
                        "report (every element left out, with its identifier and reason). A "
                        "package from which no competency can be imported is a 422 with the "
                        "report's reasons; nothing is stored. " + _UPLOAD,
            responses=errors(401, 403, 422))
def put_framework_case(body: CaseUploadIn, who: Admin, services: ServicesDep) -> Response:
    try:
        imported = import_case(body.package, association_map=body.associations)
    except ValueError as exc:  # an association type CASE does not define
        raise BadRequest(str(exc), details=[{"field": "associations",
                                             "value": str(body.associations),
                                             "reason": str(exc)}]) from None
    report = imported.report.to_dict()
    if imported.framework is None:
        raise BadRequest("no competency could be imported from the CASE package; nothing was "
                         "stored", details=[{"field": f"package.{s['element']}",
                                             "value": s["identifier"],
                                             "reason": f"{s['reason']}: {s['detail']}"}
                                            for s in report["skipped"][:100]])
    answer = _upload(services, who.tenant_id, who.key_id, framework=imported.framework,
                     catalog=body.catalog, mapping=body.mapping)
    return json_response({**answer, "report": report})


@router.put("/catalog", response_model=ContentUploadOut,
            summary="Upload a new version of the tenant's catalog",
            description=_UPLOAD + " The catalog is checked against the tenant's framework.",
            responses=errors(401, 403, 422))
def put_catalog(body: CatalogUploadIn, who: Admin, services: ServicesDep) -> Response:
    return json_response(_upload(services, who.tenant_id, who.key_id, catalog=body.document))


def _read(services: Services, tenant_id: str, kind: Kind, version: int | None) -> Response:
    services.content.forget(tenant_id)
    content = services.content.for_tenant(tenant_id)
    stored = services.store.content_version(tenant_id, kind, version)
    if stored is None and version is not None:
        raise NotFound(f"no {kind} version {version} in this tenant",
                       details=[{"field": "version", "value": version,
                                 "reason": f"not a stored {kind} version of this tenant"}])
    versions = [{"version": v.version, "content_hash": v.content_hash, "active": v.active,
                 "uploaded_by": v.uploaded_by,
                 "uploaded_at": None if v.uploaded_at is None else v.uploaded_at.isoformat()}
                for v in services.store.content_versions(tenant_id, kind)]
    if stored is None:
        document = framework_to_dict(content.graph) if kind == "framework" else None
        return json_response({"kind": kind, "source": "default", "version": None,
                              "document": document, "versions": versions,
                              "content": content.info()})
    return json_response({"kind": kind, "source": "tenant", "version": stored.version,
                          "document": stored.document, "versions": versions,
                          "content": content.info()})


_VERSION = Annotated[int | None, Query(ge=1, le=2**31 - 1,
                                       description="A stored version (omitted: the active one)")]


@router.get("/framework", response_model=ContentOut,
            summary="The tenant's framework version (active unless ?version=) and all versions",
            responses=errors(401, 403, 404, 422))
def get_framework_versions(who: Admin, services: ServicesDep,
                           version: _VERSION = None) -> Response:
    return _read(services, who.tenant_id, "framework", version)


@router.get("/catalog", response_model=ContentOut,
            summary="The tenant's catalog version (active unless ?version=) and all versions",
            responses=errors(401, 403, 404, 422))
def get_catalog_versions(who: Admin, services: ServicesDep,
                         version: _VERSION = None) -> Response:
    return _read(services, who.tenant_id, "catalog", version)


@router.put("/{kind}/active", response_model=ContentOut,
            summary="Serve a stored framework or catalog version again (null: the default)",
            description="The version must still fit: a catalog is checked against the "
                        "framework it would be served with (422 naming the problems); every "
                        "educator's stored mastery is marked stale.",
            responses=errors(401, 403, 404, 422))
def put_active(kind: Kind, body: ActivateIn, who: Admin, services: ServicesDep) -> Response:
    tenant = who.tenant_id
    if body.version is not None and services.store.content_version(
            tenant, kind, body.version) is None:
        raise NotFound(f"no {kind} version {body.version} in this tenant",
                       details=[{"field": "version", "value": body.version,
                                 "reason": f"not a stored {kind} version of this tenant"}])
    before = services.store.active_content(tenant).get(kind)
    services.store.activate_content(tenant, kind, body.version)
    services.content.forget(tenant)
    try:
        services.content.for_tenant(tenant)
    except (ValueError, KeyError) as exc:  # the pair no longer loads: put the old one back
        services.store.activate_content(tenant, kind, None if before is None else before[0])
        services.content.forget(tenant)
        raise BadRequest(f"{kind} version {body.version} does not fit the tenant's other "
                         f"content: {exc}; nothing was changed",
                         details=[{"field": "version", "value": body.version,
                                   "reason": str(exc)}]) from None
    return _read(services, tenant, kind, None)
