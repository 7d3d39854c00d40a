"""One table maps every error to an HTTP status, and one body format names the problem.

Every error response has the body::

    {"error": {"status": 422, "code": "unknown_competency",
               "message": "unknown competency id(s) ['X']: not in framework 'educator'",
               "details": [{"field": "goals[0]", "value": "X", "reason": "..."}]}}

``details`` lists the field at fault, the value received and what was expected, when they are
known. :data:`ERROR_TABLE` is the only place a status is chosen for an exception: routes raise
engine or :class:`ApiError` exceptions and never build error responses by hand.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from recommender.errors import (
    CatalogError,
    FeatureFrameError,
    FrameworkError,
    InvalidEvidenceError,
    ModelNotLoadedError,
    NotFittedError,
    UnknownCompetencyError,
)

__all__ = [
    "ApiError",
    "NotFound",
    "Unauthorized",
    "Forbidden",
    "PayloadTooLarge",
    "BadRequest",
    "Unavailable",
    "ERROR_TABLE",
    "error_body",
    "install_error_handlers",
]

log = logging.getLogger("pdrec.api")


class ApiError(Exception):
    """An error of the HTTP layer; subclasses fix the status through :data:`ERROR_TABLE`."""

    code = "error"

    def __init__(self, message: str, *, details: list[dict] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.headers = headers


class NotFound(ApiError):
    code = "not_found"


class Unauthorized(ApiError):
    code = "unauthorized"


class Forbidden(ApiError):
    code = "forbidden"


class PayloadTooLarge(ApiError):
    code = "payload_too_large"


class BadRequest(ApiError):
    """A request the schema admits but that cannot be served (a semantic 422)."""

    code = "invalid_request"


class Unavailable(ApiError):
    code = "unavailable"


ERROR_TABLE: list[tuple[type[Exception], int, str]] = [
    # (exception class, status, code); the first matching row wins, most specific first
    (NotFound, 404, "not_found"),
    (Unauthorized, 401, "unauthorized"),
    (Forbidden, 403, "forbidden"),
    (PayloadTooLarge, 413, "payload_too_large"),
    (BadRequest, 422, "invalid_request"),
    (Unavailable, 503, "unavailable"),
    (UnknownCompetencyError, 422, "unknown_competency"),
    (InvalidEvidenceError, 422, "invalid_evidence"),
    (CatalogError, 422, "invalid_catalog"),
    (FrameworkError, 422, "invalid_framework"),
    (ModelNotLoadedError, 503, "model_not_loaded"),
    (NotFittedError, 503, "model_not_loaded"),
    (FeatureFrameError, 500, "internal_error"),
    (ValueError, 422, "invalid_value"),
]
"""Exception -> (HTTP status, error code). Anything else is a 500 ``internal_error``."""


def _lookup(exc: Exception) -> tuple[int, str]:
    for cls, status, code in ERROR_TABLE:
        if isinstance(exc, cls):
            return status, code
    return 500, "internal_error"


def error_body(status: int, code: str, message: str, details: list[dict] | None = None) -> dict:
    return {"error": {"status": status, "code": code, "message": message,
                      "details": details or []}}


def _json(status: int, body: dict, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body, default=str), status_code=status,
                    media_type="application/json", headers=headers)


def _jsonable(value: Any) -> Any:
    try:
        orjson.dumps(value)
        return value
    except TypeError:
        return repr(value)


def _field(loc: tuple) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or ".".join(str(p) for p in loc)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that apply :data:`ERROR_TABLE` and the body format."""

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> Response:
        details = []
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            details.append({"field": _field(loc), "location": loc[0] if loc else None,
                            "value": _jsonable(err.get("input")),
                            "reason": err.get("msg", "invalid")})
        summary = "; ".join(f"{d['field']}: {d['reason']}" for d in details[:5])
        return _json(422, error_body(422, "validation_error",
                                     f"request does not match the schema: {summary}", details))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _json(exc.status_code, error_body(exc.status_code, code, str(exc.detail)),
                     headers=getattr(exc, "headers", None))

    async def _mapped(_request: Request, exc: Exception) -> Response:
        status, code = _lookup(exc)
        if status >= 500:
            log.exception("unhandled error", exc_info=exc)
            message = str(exc) if code != "internal_error" else "internal error"
        else:
            message = getattr(exc, "message", None) or str(exc)
        details = getattr(exc, "details", None) or []
        if not details and isinstance(exc, UnknownCompetencyError):
            details = [{"field": "competency_id", "value": i,
                        "reason": "not a competency of the framework"} for i in exc.ids]
        return _json(status, error_body(status, code, message, details),
                     headers=getattr(exc, "headers", None))

    # one handler per row (Starlette matches handlers by class, most derived first); the catch-all
    # Exception handler turns anything else into a 500 with the same body
    for cls, _status, _code in ERROR_TABLE:
        app.add_exception_handler(cls, _mapped)
    app.add_exception_handler(Exception, _mapped)
