"""One table maps every error to an HTTP status, and one body format names the problem.

Every error response has the body::

    {"error": {"status": 422, "code": "unknown_competency",
               "message": "unknown competency id(s) ['X']: not in framework 'educator'",
               "details": [{"field": "goals[0]", "value": "X", "reason": "..."}]}}

``details`` lists the field at fault, the value received and what was expected, when they are
known. :data:`ERROR_TABLE` is the only place a status is chosen for an exception: routes raise
engine or :class:`ApiError` exceptions and never build error responses by hand. Errors answered
before a route runs use the same body: a body that is not JSON (422 ``invalid_json``), an
unknown path or method (404, 405), a body over its limit (413, :mod:`api.limits`), a missing key
or too many failed ones (401, 429, :mod:`api.auth`).

Only the engine's own exceptions are client errors. Anything else (a ``ValueError`` out of
pandas or numpy included) is a bug of the server: a 500 ``internal_error`` whose body says
nothing of the cause and gives the request id, while the log gets the traceback under that id.
Every request has an id (:class:`RequestIdMiddleware`): the caller's ``X-Request-ID`` when it
sends a usable one, else a new one; every answer carries it back in ``X-Request-ID``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recommender.errors import (
    CatalogError,
    FeatureFrameError,
    FrameworkError,
    InvalidEvidenceError,
    InvalidInputError,
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
    "InvalidJson",
    "TooManyRequests",
    "Unavailable",
    "ERROR_TABLE",
    "RequestIdMiddleware",
    "document_errors",
    "error_body",
    "error_response",
    "install_error_handlers",
    "invalid_json",
    "request_id",
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


class InvalidJson(ApiError):
    """The request body is not a JSON document (see :func:`invalid_json`)."""

    code = "invalid_json"


class TooManyRequests(ApiError):
    """Refused for a while; ``headers`` carries ``Retry-After``."""

    code = "too_many_requests"


class Unavailable(ApiError):
    code = "unavailable"


ERROR_TABLE: list[tuple[type[Exception], int, str]] = [
    # (exception class, status, code); the first matching row wins, most specific first
    (NotFound, 404, "not_found"),
    (Unauthorized, 401, "unauthorized"),
    (Forbidden, 403, "forbidden"),
    (PayloadTooLarge, 413, "payload_too_large"),
    (BadRequest, 422, "invalid_request"),
    (InvalidJson, 422, "invalid_json"),
    (TooManyRequests, 429, "too_many_requests"),
    (Unavailable, 503, "unavailable"),
    (UnknownCompetencyError, 422, "unknown_competency"),
    (InvalidInputError, 422, "invalid_value"),
    (InvalidEvidenceError, 422, "invalid_evidence"),
    (CatalogError, 422, "invalid_catalog"),
    (FrameworkError, 422, "invalid_framework"),
    (ModelNotLoadedError, 503, "model_not_loaded"),
    (NotFittedError, 503, "model_not_loaded"),
    (FeatureFrameError, 500, "internal_error"),
]
"""Exception -> (HTTP status, error code). Anything else is a 500 ``internal_error``."""

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
"""Codes of the errors Starlette and :mod:`api.limits` raise as ``HTTPException``."""


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


# ---------------------------------------------------------------------------------- request id

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_STATE = "request_id"


def request_id(scope: Scope) -> str:
    """The id :class:`RequestIdMiddleware` gave this request (a new one outside it)."""
    return scope.get("state", {}).get(_STATE) or _new_id()


def _new_id() -> str:
    """32 random hex digits (``os.urandom``: a quarter of ``uuid4().hex``'s cost, same form)."""
    return os.urandom(16).hex()


class RequestIdMiddleware:
    """Pure ASGI middleware: an id for every request, echoed in ``X-Request-ID``.

    The caller's ``X-Request-ID`` is kept when it is 1-128 characters of letters, digits and
    ``. _ : -`` (it ends up in logs, so nothing else is echoed); otherwise a new one is used (32
    random hex digits). The id is kept in ``scope["state"]["request_id"]`` for the error handlers.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                text = value.decode("latin-1")
                rid = text if _REQUEST_ID.fullmatch(text) else None
                break
        rid = rid or _new_id()
        scope.setdefault("state", {})[_STATE] = rid
        header = (b"x-request-id", rid.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self.app(scope, receive, send_with_id)


# ------------------------------------------------------------------------- rendering an error

def error_response(exc: Exception, scope: Scope) -> Response:
    """The documented answer to ``exc``: its :data:`ERROR_TABLE` row, or a 500 that names only
    the request id (the cause goes to the log, with that id)."""
    if isinstance(exc, StarletteHTTPException):
        status = exc.status_code
        code = _HTTP_CODES.get(status, "http_error")
        return _json(status, error_body(status, code, str(exc.detail),
                                        getattr(exc, "details", None)),
                     headers=exc.headers)
    status, code = _lookup(exc)
    where = f"{scope.get('method', '')} {scope.get('path', '')}"
    if code == "internal_error":
        rid = request_id(scope)
        log.error("internal error on %s (request id %s)", where, rid, exc_info=exc)
        return _json(status, error_body(status, code, f"internal error: the server failed to "
                                                      f"answer; quote request id {rid} when "
                                                      "reporting it"))
    message = getattr(exc, "message", None) or str(exc)
    details = getattr(exc, "details", None) or []
    if isinstance(exc, InvalidInputError):
        details = [{"field": exc.field, "value": _jsonable(exc.value),
                    "reason": f"expected {exc.expected}"}]
    elif not details and isinstance(exc, UnknownCompetencyError):
        details = [{"field": "competency_id", "value": i,
                    "reason": "not a competency of the framework"} for i in exc.ids]
    if status >= 500:
        log.error("%d %s on %s (request id %s): %s", status, code, where, request_id(scope),
                  message, exc_info=exc)
    elif not isinstance(exc, ApiError):  # the engine refused the input: worth a line
        log.info("%d %s on %s (request id %s): %s", status, code, where, request_id(scope),
                 message)
    return _json(status, error_body(status, code, message, details),
                 headers=getattr(exc, "headers", None))


def invalid_json(exc: Exception) -> InvalidJson:
    """The 422 for a body that could not be parsed as JSON, from the parser's exception.

    Says where and what in the client's terms (never a codec's or the interpreter's message).
    """
    value = None
    if isinstance(exc, UnicodeDecodeError):
        what = f"byte {exc.start} is not UTF-8"
        value = exc.object[exc.start:exc.start + 1].hex()
    elif isinstance(exc, RecursionError) or (isinstance(exc, json.JSONDecodeError)
                                              and "depth" in exc.msg):
        what = "arrays or objects nest too deeply"
    elif isinstance(exc, json.JSONDecodeError):
        what = f"{exc.msg} at character {exc.pos}"
        value = exc.doc[exc.pos:exc.pos + 40] if isinstance(exc.doc, str) else None
    else:
        what = "it could not be parsed"
    return InvalidJson(f"request body is not valid JSON: {what}",
                       details=[{"field": "body", "value": value,
                                 "reason": "expected a JSON document encoded in UTF-8"}])


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path.

    Starlette answers 405 from the first route whose path matches, with that route's methods
    in ``Allow``; a path served by two routes (``GET`` and ``PUT /v1/educators/{id}``) would
    name only one of them.
    """
    return [method for method in _METHODS
            if any(route.matches({**request.scope, "method": method})[0] is Match.FULL
                   for route in request.app.router.routes)]


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that apply :data:`ERROR_TABLE` and the body format."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        broken = next((e for e in errors if e.get("type") == "json_invalid"), None)
        if broken is not None:  # FastAPI's own JSON parsing failed
            pos = broken["loc"][-1]
            doc = exc.body if isinstance(exc.body, str) else ""
            cause = json.JSONDecodeError(broken.get("ctx", {}).get("error", "invalid JSON"),
                                         doc, pos if isinstance(pos, int) else 0)
            return error_response(invalid_json(cause), request.scope)
        details = []
        for err in errors:
            loc = tuple(err.get("loc", ()))
            details.append({"field": _field(loc), "location": loc[0] if loc else None,
                            "value": _jsonable(err.get("input")),
                            "reason": err.get("msg", "invalid")})
        summary = "; ".join(f"{d['field']}: {d['reason']}" for d in details[:5])
        return _json(422, error_body(422, "validation_error",
                                     f"request does not match the schema: {summary}", details))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and exc.__cause__ is not None:
            # FastAPI's "There was an error parsing the body": invalid UTF-8, too deep, ...
            return error_response(invalid_json(exc.__cause__), request.scope)
        response = error_response(exc, request.scope)
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(_allowed_methods(request))
        return response

    async def _mapped(request: Request, exc: Exception) -> Response:
        return error_response(exc, request.scope)

    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Called by Starlette's outermost middleware, whose answer bypasses
        # RequestIdMiddleware: the id header is set here.
        response = error_response(exc, request.scope)
        response.headers["X-Request-ID"] = request_id(request.scope)
        return response

    # one handler per row (Starlette matches handlers by class, most derived first); the catch-all
    # Exception handler turns anything else into a 500 with the same body
    for cls, _status, _code in ERROR_TABLE:
        app.add_exception_handler(cls, _mapped)
    app.add_exception_handler(Exception, _unexpected)


# ------------------------------------------------------------------------------------ OpenAPI

_REF = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
_DOOR = {
    "401": "Missing, unknown or revoked API key",
    "413": "Request body over the endpoint's limit (PDREC_MAX_REQUEST_BYTES; evidence and xAPI: "
           "PDREC_MAX_BODY_BYTES)",
    "422": "Invalid input; the body names the field, the value and what was expected",
    "429": "Too many failed authentications from this client; retry after `Retry-After` seconds",
    "500": "Internal error; the message gives the request id (also in `X-Request-ID`)",
}


def document_errors(schema: dict) -> dict:
    """Add the errors every operation can answer to an OpenAPI ``schema`` (in place).

    Every operation: 500 (with ``X-Request-ID``) and 413 (a body it does not expect counts too);
    with a request body also 422 (not JSON); under ``/v1``: 401 and 429 (with ``Retry-After``).
    Entries the routes documented themselves are kept.
    """
    for path, operations in schema.get("paths", {}).items():
        for op in operations.values():
            responses = op.setdefault("responses", {})
            wanted = ["413", "500"]
            if "requestBody" in op:
                wanted.append("422")
            if path.startswith("/v1/"):
                wanted += ["401", "429"]
            for status in wanted:
                responses.setdefault(status, {"description": _DOOR[status], **_REF})
            if "429" in responses:
                responses["429"].setdefault("headers", {})["Retry-After"] = {
                    "description": "Seconds to wait before the next attempt",
                    "schema": {"type": "integer"}}
            responses["500"].setdefault("headers", {})["X-Request-ID"] = {
                "description": "The request id the message names (every answer carries it)",
                "schema": {"type": "string"}}
    return schema
