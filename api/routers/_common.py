"""Helpers shared by the routers: documented error responses and fast JSON responses."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi import Path
from starlette.responses import Response

from api.errors import NotFound
from api.schemas import ErrorResponse
from api.services import Services
from recommender.errors import InvalidInputError
from recommender.fields import ADDRESSABLE_ID
from recommender.store import EducatorRecord
from recommender.tenant_content import TenantContent

__all__ = ["EducatorId", "errors", "json_response", "new_request_id", "educator_or_404",
           "offered", "unknown_activities", "unknown_competencies", "unknown_word"]

EducatorId = Path(min_length=1, max_length=ADDRESSABLE_ID.max_length,
                  pattern=ADDRESSABLE_ID.pattern, description="The platform's educator id "
                  "(1-128 characters, no control characters, no '/')", examples=["T-0017"])
"""The ``{educator_id}`` path parameter, held to the id contract of :mod:`recommender.fields`
(a NUL or a control character is a 422, never a query)."""

_DESCRIPTIONS = {
    401: "Missing, unknown or revoked API key",
    403: "The key's role may not do this",
    404: "No such educator in the caller's tenant",
    413: "Batch larger than the documented limit",
    422: "Invalid input; the body names the field, the value and what was expected",
    503: "Not ready (store or model unavailable)",
}


def errors(*statuses: int, notes: dict[int, str] | None = None
           ) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses (all with :class:`ErrorResponse`);
    ``notes`` replaces the generic description of a status where an endpoint says more."""
    notes = notes or {}
    return {s: {"model": ErrorResponse, "description": notes.get(s, _DESCRIPTIONS[s])}
            for s in statuses}


def json_response(payload: Any, status_code: int = 200) -> Response:
    """Serialize with orjson (numpy scalars and datetimes included), skipping re-validation."""
    return Response(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY, default=str),
                    status_code=status_code, media_type="application/json")


def new_request_id() -> str:
    return uuid.uuid4().hex


def unknown_competencies(content: TenantContent, named: list[tuple[str, str]]) -> NotFound:
    """The 404 for ``(field, value)`` pairs naming no competency of the caller's framework
    (``content``, :data:`api.content.ContentDep`): tenant content the OpenAPI schema cannot
    know, so a well-formed id that names nothing is "not found" (never a 422, which says the
    request itself is malformed)."""
    framework = content.graph.graph.get("name")
    return NotFound(
        f"unknown competency id(s) {[v for _, v in named]}: not in framework {framework!r} "
        "(GET /v1/framework lists its competencies)",
        details=[{"field": f, "value": v, "reason": f"no competency of framework {framework!r} "
                  "has this id; GET /v1/framework lists them"} for f, v in named])


def unknown_activities(content: TenantContent, field: str, ids: list[str] | None) -> None:
    """Raise the 404 naming each of ``ids`` (sent as ``field``) that names no activity of the
    catalog: tenant content, like :func:`unknown_competencies`, so "not found", never a 422."""
    known = content.catalog.activities.index
    bad = list(dict.fromkeys(a for a in ids or () if a not in known))
    if bad:
        raise NotFound(
            f"unknown activity id(s) {bad} in {field!r}: not in the catalog (GET /v1/activities "
            "lists them)",
            details=[{"field": field, "value": a, "reason": "no activity of the catalog has "
                      "this id; GET /v1/activities lists them"} for a in bad])


def unknown_word(exc: InvalidInputError, field: str) -> NotFound:
    """The 404 for a filter word outside the catalog's vocabulary (``exc`` from
    :meth:`recommender.catalog.Catalog.matching`), naming ``field`` with the word's position,
    the word and the allowed words: tenant content, like :func:`unknown_competencies`."""
    name = field + exc.field[exc.field.index("["):] if "[" in exc.field else field
    return NotFound(
        f"{name} {exc.value!r} is not a word of the catalog's vocabulary; expected "
        f"{exc.expected} (GET /v1/activities lists the vocabularies)",
        details=[{"field": name, "value": exc.value,
                  "reason": f"not in the catalog's vocabulary; expected {exc.expected}"}])


def offered(content: TenantContent, available: list[str] | None, formats: list[str] | None
            ) -> frozenset[str] | None:
    """The activities an answer may hold: those of ``formats`` (words of the catalog's
    vocabulary, :meth:`recommender.catalog.Catalog.matching`: a word outside it is a 404
    naming ``formats[i]``, the word and the allowed words) within ``available``; None when
    neither is given. The ranker and the pathway keep to it through the context's
    ``available``, pins included, as they keep to a request's ``formats``."""
    only = None if available is None else frozenset(available)
    if not formats:
        return only
    try:
        matching = content.catalog.matching(formats=formats)
    except InvalidInputError as exc:
        raise unknown_word(exc, "formats") from None
    return matching if only is None else matching & only


def educator_or_404(services: Services, tenant_id: str, educator_id: str) -> EducatorRecord:
    """The educator of the caller's tenant; 404 when absent (also when it is another tenant's)."""
    record = services.store.get_educator(tenant_id, educator_id)
    if record is None:
        raise NotFound(f"no educator {educator_id!r}",
                       details=[{"field": "educator_id", "value": educator_id,
                                 "reason": "no such educator in this tenant"}])
    return record
