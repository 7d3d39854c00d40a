"""The per-process cache of verified API keys (:class:`KeyCache`).

Its own module because both the authentication (:mod:`api.auth`, which reads it) and the
process's services (:mod:`api.services`, which own one) need it, and neither should import
the other for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cachetools import LRUCache, TTLCache

from api.rereads import Rereads
from recommender.store import ApiKey, Store

__all__ = ["KeyCache"]


class KeyCache:
    """API-key hash -> :class:`ApiKey`, for ``ttl`` seconds (positive lookups only).

    A ``cachetools.TTLCache`` behind a lock (cachetools caches are not thread-safe); ``ttl=0``
    turns caching off. ``clock`` gives the time in seconds (``time.monotonic``; tests pass a
    fake one).

    When an entry expires, the first request re-reads the key from the store and the requests
    that arrive while it does keep the record known so far (for at most ``ttl`` more seconds),
    instead of all reading the store at once: every ``ttl`` seconds, up to as many requests as
    there were connections went to worker threads for the same key, a latency spike on every
    API route. A key revoked in another process therefore stops working within ``ttl`` seconds
    plus one store read (:class:`api.rereads.Rereads`).
    """

    def __init__(self, ttl: float, maxsize: int = 4096, *,
                 clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self._items: TTLCache | None = (TTLCache(maxsize, ttl, timer=clock)
                                        if ttl > 0 else None)
        self._known: LRUCache = LRUCache(maxsize)  # the last active record of each key
        self._rereads = Rereads(ttl, clock)
        self._lock = threading.Lock()

    def cached(self, key_hash: str) -> ApiKey | None:
        """The cached record, or None (not cached, expired, or caching off); no database."""
        if self._items is None:
            return None
        with self._lock:
            found = self._items.get(key_hash)
            if found is not None:
                return found
            known = self._known.get(key_hash)
        if known is None or self._rereads.claim(key_hash):
            return None  # this caller re-reads it (lookup)
        return known  # another request is re-reading it

    def lookup(self, store: Store, key_hash: str) -> ApiKey | None:
        """The cached record while fresh, else the store's (cached when it is active)."""
        if self._items is not None:
            with self._lock:
                hit = self._items.get(key_hash)
            if hit is not None:
                return hit
        try:
            record = store.key_by_hash(key_hash)
        finally:
            self._rereads.done(key_hash)
        if self._items is not None:
            with self._lock:
                if record is not None and record.active:
                    self._items[key_hash] = self._known[key_hash] = record
                else:
                    self._known.pop(key_hash, None)
        return record

    def forget(self, key_id: str) -> None:
        """Drop every cached entry of this key (called when it is revoked here)."""
        if self._items is None:
            return
        with self._lock:
            for cache in (self._items, self._known):
                for h in [h for h, r in cache.items() if r.key_id == key_id]:
                    del cache[h]
