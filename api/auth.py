"""API keys, roles and tenancy: who calls is settled at the door, what they may do per route.

A request authenticates with ``Authorization: Bearer <key>`` (or ``X-API-Key: <key>``). The key's
SHA-256 is looked up in the store; the key's tenant scopes every query of the request, and its
role decides what the request may do (:data:`ROLE_PERMISSIONS`). Missing or unknown key: 401;
revoked key: 401; a role without the permission: 403. An ``educator`` key is bound to one
educator: it reads that educator and the tenant's content only, another educator is a 404 like
a missing one, anything else a 403 (:mod:`api.educator_scope`, checked by the middleware).
Without a key, the coach page's session
cookie is accepted instead (:mod:`api.coach.session`; writes then need its CSRF header).
:class:`AuthMiddleware` authenticates every ``/v1/`` request before the app reads its body; the
routes' dependencies (:data:`Reader`, :data:`Admin`, ...) then check the role.

Failed authentications are throttled per client address and key id (:func:`lookup_key`):
beyond ``PDREC_AUTH_FAILURES_PER_MINUTE`` (default 20, refilled evenly over a minute) the
client gets 429 with ``Retry-After`` for that key id. The count is kept per worker process (in
memory, :class:`~api.limits.FailureThrottle`), so with N workers a client can fail up to N times
as often before every worker refuses it. Behind a proxy, run uvicorn with ``--proxy-headers``
and ``--forwarded-allow-ips`` so that the client address is the caller's, not the proxy's.

Lookups are cached per process for ``PDREC_KEY_CACHE_TTL`` seconds (default 5) in a
:class:`~api.key_cache.KeyCache` (a bounded ``cachetools.TTLCache``, least recently used out
first), so the hot read path does not hit the database for every request: a cached key is
checked on the event loop without a thread hop, and only a cache miss (or the coach page's
cookie) goes to the database in a worker thread.
The price: a key revoked through another process (the CLI, another worker) keeps working for at
most that many seconds; a key revoked through this process's admin API stops at once (the cache
entry is dropped). Failed lookups are never cached, so a new key works immediately.
``PDREC_KEY_CACHE_TTL=0`` turns the cache off.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from api.coach.session import signed_in_key
from api.educator_scope import EducatorRoutes, educator_scope_error
from api.errors import ApiError, Forbidden, TooManyRequests, Unauthorized, error_response
from recommender.store import ApiKey, hash_key

if TYPE_CHECKING:
    from api.services import Services

__all__ = [
    "ROLE_PERMISSIONS", "Admin", "AuthMiddleware", "EducatorWriter", "EvidenceWriter",
    "FeedbackWriter", "Principal", "Reader", "authenticate", "document_security",
    "lookup_key", "principal", "require",
]

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "platform": frozenset({"read", "evidence:write", "educators:write", "feedback:write"}),
    "coach": frozenset({"read", "feedback:write", "overrides:write"}),
    "admin": frozenset({"read", "evidence:write", "educators:write", "feedback:write",
                        "overrides:write", "admin", "consent:write"}),
    "educator": frozenset({"read", "consent:write"}),
}
"""What each role may do. ``read`` covers every GET under ``/v1`` and batch recommendations;
an ``educator`` key's ``read`` and ``consent:write`` reach its own educator only
(:mod:`api.educator_scope`)."""

@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, tenant and role (and, for an educator key, its educator)."""

    key_id: str
    tenant_id: str
    role: str
    educator_id: str | None = None

    @classmethod
    def of(cls, key: ApiKey) -> Principal:
        """The caller a stored key makes."""
        return cls(key_id=key.key_id, tenant_id=key.tenant_id, role=key.role,
                   educator_id=key.educator_id)

    def can(self, permission: str) -> bool:
        return permission in ROLE_PERMISSIONS.get(self.role, frozenset())


_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_KEY_ID = re.compile(r"pdrec_([0-9A-Za-z]{1,32})_")


def _credential(scope: Scope) -> tuple[str, str] | None:
    """``(header name, key)`` from ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.

    An ``Authorization`` header that is not ``Bearer <key>`` is refused (401) even when an
    ``X-API-Key`` is present, and so are the two headers with different keys: a request whose
    credentials do not agree is not served on whichever part happened to parse.
    """
    bearer = header = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized(
                    "malformed Authorization header: expected 'Bearer <API key>'",
                    headers=_CHALLENGE,
                    details=[{"field": "Authorization", "value": f"{scheme[:20]} …",
                              "reason": "expected the scheme 'Bearer' and an API key"}])
            bearer = token.strip()
        elif name == b"x-api-key":
            header = value.decode("latin-1").strip()
    if bearer and header is not None and header != bearer:
        raise Unauthorized(
            "conflicting credentials: Authorization and X-API-Key carry different keys; send "
            "one of them", headers=_CHALLENGE,
            details=[{"field": "X-API-Key", "value": None,
                      "reason": "absent, or the same key as the Authorization header"}])
    if bearer:
        return "Authorization", bearer
    return ("X-API-Key", header) if header else None


def _client(scope: Scope, key: str) -> tuple[str, str]:
    """The throttling identity of an attempt: the client address and the key's id (``""``
    for a credential that is not a pdrec key)."""
    found = _KEY_ID.match(key)
    return (scope["client"][0] if scope.get("client") else "", found.group(1) if found else "")


async def lookup_key(services: Services, scope: Scope, key: str, field: str = "Authorization"
                     ) -> ApiKey | None:
    """The stored record of ``key`` (revoked ones included), or None when it is unknown.

    A key verified within ``PDREC_KEY_CACHE_TTL`` is answered from the cache, on the event loop;
    otherwise the attempt is throttled first: while its client address and key id have used up
    ``PDREC_AUTH_FAILURES_PER_MINUTE`` failures, :class:`~api.errors.TooManyRequests` (429
    with ``Retry-After``) is raised without a look-up. An unknown or revoked key counts as one
    failure.

    Why per address and key id: the id is part of the hashed secret, so a guess can only match
    a key under that key's own id, and every guess at one key shares one bucket; failures on
    other ids, or from other addresses, never throttle a valid key. A guess with a made-up id
    cannot match anything, and costs one indexed look-up, like any request.
    """
    key_hash = hash_key(key)
    record = services.key_cache.cached(key_hash)
    if record is not None:
        return record
    client = _client(scope, key)
    throttle = services.auth_throttle
    wait = throttle.retry_after(client)
    if wait:
        shown = f"pdrec_{client[1]}_…" if client[1] else None
        raise TooManyRequests(
            f"too many failed authentications from this client with this key id: retry in "
            f"{wait} s", headers={"Retry-After": str(wait)},
            details=[{"field": field, "value": shown,
                      "reason": f"at most {throttle.limit} failed authentications a minute per "
                                "client and key id (PDREC_AUTH_FAILURES_PER_MINUTE)"}])
    record = await run_in_threadpool(services.key_cache.lookup, services.store, key_hash)
    if record is None or not record.active:
        throttle.failed(client)
    return record


async def authenticate(scope: Scope) -> Principal:
    """The caller of a request; 401 without a valid, unrevoked key (or coach session), 429
    while its failures are throttled (:func:`lookup_key`)."""
    services = scope["app"].state.services
    found = _credential(scope)
    if found is None:
        key = await run_in_threadpool(signed_in_key, Request(scope))  # the coach page's cookie
        if key is not None:
            return Principal.of(key)
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>' or "
                           "'X-API-Key: <key>'", headers=_CHALLENGE)
    field, key = found
    record = await lookup_key(services, scope, key, field)
    if record is None:
        raise Unauthorized("invalid API key", headers=_CHALLENGE)
    if not record.active:
        raise Unauthorized(f"API key {record.key_id} was revoked", headers=_CHALLENGE)
    return Principal.of(record)


class AuthMiddleware:
    """Pure ASGI middleware: authenticates every ``/v1/`` request before it is routed.

    FastAPI reads and parses a request body before it runs any dependency, so a key checked in
    a dependency comes too late: a caller without a key could make the server read (and hold) a
    whole body. Here the caller is known before the app reads a byte; a refusal (401, 403 for
    a coach session without its CSRF header, 429) is answered at once, and the rest of the body
    is never read. The :class:`Principal` is left in ``scope["state"]`` for :func:`principal`.
    An unknown ``/v1/`` path without a key is a 401 too: routes are not shown to strangers.
    An educator key's reach (:func:`~api.educator_scope.educator_scope_error`) is checked here
    too, in this one place for every route.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        try:
            who = await authenticate(scope)
            if who.role == "educator":
                refusal = educator_scope_error(EducatorRoutes.of(scope["app"]), scope,
                                               who.educator_id)
                if refusal is not None:
                    raise refusal
        except ApiError as exc:
            await error_response(exc, scope)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = who
        await self.app(scope, receive, send)


async def principal(request: Request) -> Principal:
    """The authenticated caller (a dependency): the one :class:`AuthMiddleware` found."""
    return request.state.principal


_SECURITY_SCHEMES = {
    "HTTPBearer": {"type": "http", "scheme": "bearer",
                   "description": "`Authorization: Bearer <API key>`"},
    "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                     "description": "alternative to the Authorization header"},
}


def document_security(schema: dict) -> dict:
    """Add the API-key schemes to an OpenAPI ``schema`` (in place), required by every ``/v1/``
    operation (the middleware checks them, so no dependency declares them)."""
    schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(
        _SECURITY_SCHEMES)
    for path, operations in schema.get("paths", {}).items():
        if path.startswith("/v1/"):
            for op in operations.values():
                op["security"] = [{name: []} for name in _SECURITY_SCHEMES]
    return schema


def permitted(who: Principal, permission: str) -> Principal:
    """``who`` when they hold ``permission``; else a 403 naming the roles that do."""
    if not who.can(permission):
        allowed = sorted(r for r, perms in ROLE_PERMISSIONS.items() if permission in perms)
        raise Forbidden(
            f"role {who.role!r} may not do this ({permission}); roles allowed: {allowed}",
            details=[{"field": "role", "value": who.role,
                      "reason": f"expected one of {allowed}"}])
    return who


def require(permission: str) -> Callable[..., Principal]:
    """A dependency: the caller, who must hold ``permission`` (else 403)."""

    async def dependency(who: Principal = Depends(principal)) -> Principal:
        return permitted(who, permission)

    dependency.__name__ = f"require_{permission.replace(':', '_')}"
    return dependency


# The callers each endpoint may have, as ``Annotated`` aliases (``who: Reader``).
Reader = Annotated[Principal, Depends(require("read"))]
EducatorWriter = Annotated[Principal, Depends(require("educators:write"))]
EvidenceWriter = Annotated[Principal, Depends(require("evidence:write"))]
FeedbackWriter = Annotated[Principal, Depends(require("feedback:write"))]
Admin = Annotated[Principal, Depends(require("admin"))]
