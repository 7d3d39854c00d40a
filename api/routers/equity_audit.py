"""The tenant's latest equity audit (docs/audit.md), for its admins.

``pdrec audit --tenant T`` computes the audit (:mod:`recommender.audit`) and stores it
(:mod:`recommender.store.equity_audits`); this route only reads the newest one: the API never
recomputes an audit (minutes of bootstrap on a large tenant) inside a request.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from api.auth import Admin
from api.deps import ServicesDep
from api.errors import NotFound
from api.routers._common import errors, json_response
from api.schemas.equity_audit import EquityAuditOut
from recommender.store.equity_audits import latest_audit

router = APIRouter(tags=["admin"])


@router.get("/v1/admin/audit", response_model=EquityAuditOut,
            summary="The tenant's latest equity audit",
            description="Recommended hours, expected gain per hour and high-intensity share by "
                        "subgroup, ratios to the best-served group with bootstrap intervals, "
                        "and the groups flagged (docs/audit.md). Written by "
                        "`pdrec audit --tenant`.",
            responses=errors(401, 403, 404))
def get_audit(who: Admin, services: ServicesDep) -> Response:
    stored = latest_audit(services.store, who.tenant_id)
    if stored is None:
        raise NotFound("this tenant has no equity audit yet; run `pdrec audit --tenant "
                       f"{who.tenant_id}`",
                       details=[{"field": "audit", "value": who.tenant_id,
                                 "reason": "no audit stored for the tenant"}])
    return json_response({"version": stored.version, "created_by": stored.uploaded_by,
                          "created_at": stored.uploaded_at, **stored.document})
