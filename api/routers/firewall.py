"""The evidence firewall (docs/firewall.md): the tenant's evidence policy (admin) and each
educator's consent per evidence source.

A new policy or a consent change takes effect at once for every answer: both bump the
``data_version`` of the educators they concern (:mod:`recommender.store.consents`), which makes
their stored mastery stale and changes the key of their cached answers. Excluded evidence stays
stored; ``GET /v1/educators/{educator_id}/evidence`` lists it with ``used: false``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from api.auth import Admin, Principal, Reader, require
from api.deps import ServicesDep
from api.errors import BadRequest
from api.routers._common import EducatorId, educator_or_404, errors, json_response
from api.schemas.firewall import ConsentIn, ConsentOut, EvidencePolicyIn, EvidencePolicyOut
from api.services import Services
from recommender.evidence.contract import SOURCES
from recommender.firewall import EvidencePolicyError, build_policy, check_sources

router = APIRouter(tags=["evidence firewall"])

ConsentWriter = Annotated[Principal, Depends(require("consent:write"))]
"""A key that may change an educator's consent (``consent:write``: the admin role)."""


def _invalid(exc: EvidencePolicyError) -> BadRequest:
    """The 422 naming each problem's field (the body itself: ``body``), value and what was
    expected."""
    return BadRequest(f"{exc}; nothing was stored",
                      details=[{"field": f or "body", "value": v, "reason": f"expected {e}"}
                               for f, v, e in exc.problems])


def _policy_answer(services: Services, tenant_id: str) -> Response:
    stored = services.store.evidence_policy_document(tenant_id)
    policy = services.store.evidence_policy(tenant_id)
    return json_response({"version": policy.version, **policy.document(),
                          "uploaded_by": None if stored is None else stored.uploaded_by,
                          "uploaded_at": None if stored is None else stored.uploaded_at})


@router.get("/v1/admin/evidence-policy", response_model=EvidencePolicyOut,
            summary="The tenant's evidence policy: which sources feed decisions, who reads them",
            description="Version 0 is the default policy (every source feeds decisions and is "
                        "read by every role), in force until the tenant stores one.",
            responses=errors(401, 403))
def get_policy(who: Admin, services: ServicesDep) -> Response:
    return _policy_answer(services, who.tenant_id)


@router.put("/v1/admin/evidence-policy", response_model=EvidencePolicyOut,
            summary="Set the tenant's evidence policy (a new version, in force at once)",
            description="Checked first (422 naming each field, value and what was expected; "
                        "nothing stored). Every answer from then on leaves out the evidence of "
                        "sources that do not feed decisions; the evidence stays stored.",
            responses=errors(401, 403, 422))
def put_policy(body: EvidencePolicyIn, who: Admin, services: ServicesDep) -> Response:
    try:
        policy = build_policy(body.model_dump(mode="json"))
    except EvidencePolicyError as exc:
        raise _invalid(exc) from None
    services.store.put_evidence_policy(who.tenant_id, policy.document(), by=who.key_id)
    return _policy_answer(services, who.tenant_id)


def _consent_answer(services: Services, tenant_id: str, educator_id: str,
                    changed: list[str] | None = None) -> Response:
    settings = {s.source: s for s in
                services.store.consent_settings(tenant_id, [educator_id]).get(educator_id, [])}
    rows = [{"source": src, "withdrawn": False, "changed_at": None, "by": None}
            if (s := settings.get(src)) is None else
            {"source": src, "withdrawn": s.withdrawn, "changed_at": s.changed_at, "by": s.by}
            for src in SOURCES]
    return json_response({"educator_id": educator_id, "sources": rows,
                          "policy_version": services.store.evidence_policy(tenant_id).version,
                          "changed": changed or []})


@router.get("/v1/educators/{educator_id}/consent", response_model=ConsentOut,
            summary="An educator's consent per evidence source",
            description="Every source, withdrawn or not, with its latest change (none: never "
                        "changed); `policy_version` is the tenant's evidence policy in force.",
            responses=errors(401, 403, 404, 422))
def get_consent(who: Reader, services: ServicesDep,
                educator_id: str = EducatorId) -> Response:
    educator_or_404(services, who.tenant_id, educator_id)
    return _consent_answer(services, who.tenant_id, educator_id)


@router.put("/v1/educators/{educator_id}/consent", response_model=ConsentOut,
            summary="Set the sources an educator withdraws consent for (the full list)",
            description="`withdrawn` replaces the educator's list: a source named is withdrawn, "
                        "a source left out is restored. One consent event is stored per "
                        "source whose setting changes (`changed`); the evidence of a withdrawn "
                        "source stays stored but stops feeding this educator's answers at "
                        "once. A source that is not one of the evidence sources is a 422 "
                        "naming it; nothing is stored.",
            responses=errors(401, 403, 404, 422))
def put_consent(body: ConsentIn, who: ConsentWriter, services: ServicesDep,
                educator_id: str = EducatorId) -> Response:
    try:
        withdrawn = check_sources(list(body.withdrawn), "withdrawn")
    except EvidencePolicyError as exc:
        raise _invalid(exc) from None
    educator_or_404(services, who.tenant_id, educator_id)
    changed = services.store.set_consent(who.tenant_id, educator_id, withdrawn, by=who.key_id)
    return _consent_answer(services, who.tenant_id, educator_id, changed)
