"""API keys, roles and tenancy, as FastAPI dependencies.

A request authenticates with ``Authorization: Bearer <key>`` (or ``X-API-Key: <key>``). The key's
SHA-256 is looked up in the store; the key's tenant scopes every query of the request, and its
role decides what the request may do (:data:`ROLE_PERMISSIONS`). Missing or unknown key: 401;
revoked key: 401; a role without the permission: 403. Without a key, the coach page's session
cookie is accepted instead (:mod:`api.coach.session`; writes then need its CSRF header).

Lookups are cached per process for ``PDREC_KEY_CACHE_TTL`` seconds (default 5) in a
``cachetools.TTLCache`` (bounded, least recently used out first), so the hot read path does not
hit the database for every request: a cached key is checked on the event loop without a thread
hop, and only a cache miss (or the coach page's cookie) goes to the database in a worker thread.
The price: a key revoked through another process (the CLI, another worker) keeps working for at
most that many seconds; a key revoked through this process's admin API stops at once (the cache
entry is dropped). Failed lookups are never cached, so a new key works immediately.
``PDREC_KEY_CACHE_TTL=0`` turns the cache off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from cachetools import TTLCache
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.errors import Forbidden, Unauthorized
from recommender.store import ApiKey, Store, hash_key

__all__ = [
    "ROLE_PERMISSIONS", "Admin", "EducatorWriter", "EvidenceWriter", "FeedbackWriter",
    "KeyCache", "Principal", "Reader", "principal", "require",
]

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "platform": frozenset({"read", "evidence:write", "educators:write", "feedback:write"}),
    "coach": frozenset({"read", "feedback:write", "overrides:write"}),
    "admin": frozenset({"read", "evidence:write", "educators:write", "feedback:write",
                        "overrides:write", "admin"}),
}
"""What each role may do. ``read`` covers every GET under ``/v1`` and batch recommendations."""

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <API key>`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                       description="alternative to the Authorization header")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, tenant and role."""

    key_id: str
    tenant_id: str
    role: str

    def can(self, permission: str) -> bool:
        return permission in ROLE_PERMISSIONS.get(self.role, frozenset())


class KeyCache:
    """API-key hash -> :class:`ApiKey`, for ``ttl`` seconds (positive lookups only).

    A ``cachetools.TTLCache`` behind a lock (cachetools caches are not thread-safe); ``ttl=0``
    turns caching off.
    """

    def __init__(self, ttl: float, maxsize: int = 4096):
        self.ttl = ttl
        self._items: TTLCache | None = (TTLCache(maxsize, ttl, timer=time.monotonic)
                                        if ttl > 0 else None)
        self._lock = threading.Lock()

    def cached(self, key_hash: str) -> ApiKey | None:
        """The cached record, or None (not cached, expired, or caching off); no database."""
        if self._items is None:
            return None
        with self._lock:
            return self._items.get(key_hash)

    def lookup(self, store: Store, key_hash: str) -> ApiKey | None:
        """The cached record, else the store's (cached when it is active)."""
        hit = self.cached(key_hash)
        if hit is not None:
            return hit
        record = store.key_by_hash(key_hash)
        if record is not None and record.active and self._items is not None:
            with self._lock:
                self._items[key_hash] = record
        return record

    def forget(self, key_id: str) -> None:
        """Drop every cached entry of this key (called when it is revoked here)."""
        if self._items is None:
            return
        with self._lock:
            for h in [h for h, r in self._items.items() if r.key_id == key_id]:
                del self._items[h]


_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def principal(
    request: Request,
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
    header_key: str | None = Depends(_header),
) -> Principal:
    """The authenticated caller; 401 without a valid, unrevoked key (or coach session).

    Async so that a cached key costs no thread hop; database lookups run in a worker thread.
    """
    key = bearer.credentials if bearer is not None else header_key
    if not key:
        from api.coach.session import session_principal  # the coach page's cookie

        p = await run_in_threadpool(session_principal, request)
        if p is not None:
            request.state.principal = p
            return p
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>' or "
                           "'X-API-Key: <key>'", headers=_CHALLENGE)
    services = request.app.state.services
    key_hash = hash_key(key.strip())
    record = services.key_cache.cached(key_hash)
    if record is None:
        record = await run_in_threadpool(services.key_cache.lookup, services.store, key_hash)
    if record is None:
        raise Unauthorized("invalid API key", headers=_CHALLENGE)
    if not record.active:
        raise Unauthorized(f"API key {record.key_id} was revoked", headers=_CHALLENGE)
    p = Principal(key_id=record.key_id, tenant_id=record.tenant_id, role=record.role)
    request.state.principal = p
    return p


def require(permission: str) -> Callable[..., Principal]:
    """A dependency: the caller, who must hold ``permission`` (else 403)."""

    async def dependency(who: Principal = Depends(principal)) -> Principal:
        if not who.can(permission):
            allowed = sorted(r for r, perms in ROLE_PERMISSIONS.items() if permission in perms)
            raise Forbidden(
                f"role {who.role!r} may not do this ({permission}); roles allowed: {allowed}",
                details=[{"field": "role", "value": who.role,
                          "reason": f"expected one of {allowed}"}])
        return who

    dependency.__name__ = f"require_{permission.replace(':', '_')}"
    return dependency


# The callers each endpoint may have, as ``Annotated`` aliases (``who: Reader``).
Reader = Annotated[Principal, Depends(require("read"))]
EducatorWriter = Annotated[Principal, Depends(require("educators:write"))]
EvidenceWriter = Annotated[Principal, Depends(require("evidence:write"))]
FeedbackWriter = Annotated[Principal, Depends(require("feedback:write"))]
Admin = Annotated[Principal, Depends(require("admin"))]
