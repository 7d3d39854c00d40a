"""API keys, roles and tenancy, as FastAPI dependencies.

A request authenticates with ``Authorization: Bearer <key>`` (or ``X-API-Key: <key>``). The key's
SHA-256 is looked up in the store; the key's tenant scopes every query of the request, and its
role decides what the request may do (:data:`ROLE_PERMISSIONS`). Missing or unknown key: 401;
revoked key: 401; a role without the permission: 403. Without a key, the coach page's session
cookie is accepted instead (:mod:`api.coach.session`; writes then need its CSRF header).

Lookups are cached per process for ``PDREC_KEY_CACHE_TTL`` seconds (default 5) in a small LRU
map, so the hot read path does not hit the database for every request. The price: a key revoked
through another process (the CLI, another worker) keeps working for at most that many seconds;
a key revoked through this process's admin API stops at once (the cache entry is dropped).
Failed lookups are never cached, so a new key works immediately. ``PDREC_KEY_CACHE_TTL=0``
turns the cache off.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.errors import Forbidden, Unauthorized
from recommender.store import ApiKey, Store, hash_key

__all__ = ["ROLE_PERMISSIONS", "Principal", "KeyCache", "principal", "require"]

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
    """A small TTL + LRU map from key hash to :class:`ApiKey` (positive lookups only)."""

    def __init__(self, ttl: float, maxsize: int = 4096):
        self.ttl = ttl
        self.maxsize = maxsize
        self._items: OrderedDict[str, tuple[float, ApiKey]] = OrderedDict()
        self._lock = threading.Lock()

    def lookup(self, store: Store, key_hash: str) -> ApiKey | None:
        if self.ttl > 0:
            now = time.monotonic()
            with self._lock:
                hit = self._items.get(key_hash)
                if hit is not None and hit[0] > now:
                    self._items.move_to_end(key_hash)
                    return hit[1]
        record = store.key_by_hash(key_hash)
        if record is not None and record.active and self.ttl > 0:
            with self._lock:
                self._items[key_hash] = (time.monotonic() + self.ttl, record)
                self._items.move_to_end(key_hash)
                while len(self._items) > self.maxsize:
                    self._items.popitem(last=False)
        return record

    def forget(self, key_id: str) -> None:
        """Drop every cached entry of this key (called when it is revoked here)."""
        with self._lock:
            for h in [h for h, (_, r) in self._items.items() if r.key_id == key_id]:
                del self._items[h]


_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def principal(
    request: Request,
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
    header_key: str | None = Depends(_header),
) -> Principal:
    """The authenticated caller; 401 without a valid, unrevoked key (or coach session)."""
    key = bearer.credentials if bearer is not None else header_key
    if not key:
        from api.coach.session import session_principal  # the coach page's cookie

        p = session_principal(request)
        if p is not None:
            request.state.principal = p
            return p
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>' or "
                           "'X-API-Key: <key>'", headers=_CHALLENGE)
    services = request.app.state.services
    record = services.key_cache.lookup(services.store, hash_key(key.strip()))
    if record is None:
        raise Unauthorized("invalid API key", headers=_CHALLENGE)
    if not record.active:
        raise Unauthorized(f"API key {record.key_id} was revoked", headers=_CHALLENGE)
    p = Principal(key_id=record.key_id, tenant_id=record.tenant_id, role=record.role)
    request.state.principal = p
    return p


def require(permission: str) -> Callable[..., Principal]:
    """A dependency: the caller, who must hold ``permission`` (else 403)."""

    def dependency(who: Principal = Depends(principal)) -> Principal:
        if not who.can(permission):
            allowed = sorted(r for r, perms in ROLE_PERMISSIONS.items() if permission in perms)
            raise Forbidden(
                f"role {who.role!r} may not do this ({permission}); roles allowed: {allowed}",
                details=[{"field": "role", "value": who.role,
                          "reason": f"expected one of {allowed}"}])
        return who

    dependency.__name__ = f"require_{permission.replace(':', '_')}"
    return dependency
