"""One re-read at a time of a value a process keeps and checks against the store now and then.

When such a value is due (an API key's record after ``PDREC_KEY_CACHE_TTL``, a tenant's active
content versions after a second), the first request re-reads it and the requests that arrive
meanwhile keep the value known so far, instead of all reading the store at once: with one
request per open connection in flight, every expiry otherwise sent dozens of them to worker
threads for the same row, a latency spike on every route. A re-read that never finishes (its
caller failed before reading) holds nobody for longer than ``patience`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

__all__ = ["Rereads"]


class Rereads:
    """Which caller re-reads a due value (:meth:`claim`), until it is back (:meth:`done`).

    >>> rereads = Rereads(patience=5.0)
    >>> rereads.claim("k"), rereads.claim("k")  # the first re-reads, the second keeps the value
    (True, False)
    >>> rereads.done("k"); rereads.claim("k")
    True
    """

    def __init__(self, patience: float, clock: Callable[[], float] = time.monotonic):
        self.patience = patience
        self._clock = clock
        self._began: dict[Hashable, float] = {}
        self._lock = threading.Lock()

    def claim(self, key: Hashable) -> bool:
        """True: this caller re-reads ``key`` (and calls :meth:`done` after); False: another
        caller began re-reading it less than ``patience`` seconds ago."""
        now = self._clock()
        with self._lock:
            began = self._began.get(key)
            if began is not None and now - began < self.patience:
                return False
            self._began[key] = now
            return True

    def done(self, key: Hashable) -> None:
        """The re-read of ``key`` is over (whether or not it succeeded)."""
        with self._lock:
            self._began.pop(key, None)
