"""The per-process cache of verified API keys (:class:`KeyCache`).

Its own module because both the authentication (:mod:`api.auth`, which reads it) and the
process's services (:mod:`api.services`, which own one) need it, and neither should import
the other for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cachetools import TTLCache

from recommender.store import ApiKey, Store

__all__ = ["KeyCache"]


class KeyCache:
    """API-key hash -> :class:`ApiKey`, for ``ttl`` seconds (positive lookups only).

    A ``cachetools.TTLCache`` behind a lock (cachetools caches are not thread-safe); ``ttl=0``
    turns caching off. ``clock`` gives the time in seconds (``time.monotonic``; tests pass a
    fake one).
    """

    def __init__(self, ttl: float, maxsize: int = 4096, *,
                 clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self._items: TTLCache | None = (TTLCache(maxsize, ttl, timer=clock)
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
