"""Limits at the door: request body size, and failed authentications per client.

:class:`BodyLimitMiddleware` bounds every request body, per path: the evidence and xAPI
endpoints accept ``PDREC_MAX_BODY_BYTES`` (default 32 MiB), every other path
``PDREC_MAX_REQUEST_BYTES`` (default 1 MiB). A declared ``Content-Length`` over the limit is
answered 413 before the app runs; a body of unknown length (chunked) is counted as the app reads
it, and the read that crosses the limit raises :class:`BodyTooLarge` (413), so at most the limit
plus one chunk is ever held. The rest of a refused body is never read by the app: uvicorn
discards it as it arrives (memory stays bounded) and keeps the connection, so the client reads
the answer; closing instead would reset the connection under a client still sending, which
loses the answer.

:class:`FailureThrottle` counts failed authentications per client in token buckets; see
:mod:`api.auth` for how it is applied.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Mapping

from cachetools import LRUCache
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response

__all__ = ["BodyLimit", "BodyLimitMiddleware", "BodyTooLarge", "FailureThrottle"]


class BodyTooLarge(HTTPException):
    """413: a request body exceeds its path's limit.

    An ``HTTPException`` so that FastAPI lets it through its body parsing unchanged (it turns any
    other exception raised while reading a body into a 400) and the error table renders it.
    """

    def __init__(self, size: int, limit: BodyLimit, *, declared: bool):
        what = (f"request body of {size} bytes (Content-Length) exceeds" if declared else
                f"request body exceeds (refused after {size} bytes)")
        super().__init__(413, f"{what} the limit of {limit.bytes} bytes of this endpoint "
                              f"({limit.setting}); split the request")
        self.details = [{"field": "body", "value": size,
                         "reason": f"at most {limit.bytes} bytes"}]


class BodyLimit:
    """A byte limit and the setting that changes it (named in the 413)."""

    __slots__ = ("bytes", "setting")

    def __init__(self, limit: int, setting: str):
        self.bytes = limit
        self.setting = setting


class BodyLimitMiddleware:
    """Pure ASGI middleware: 413 for a request body over its path's limit, while it streams.

    Parameters
    ----------
    app : ASGI app
    default : BodyLimit
        The limit of every path not in ``paths``.
    paths : mapping of str to BodyLimit
        Exact request paths with their own limit.
    """

    def __init__(self, app: ASGIApp, *, default: BodyLimit, paths: Mapping[str, BodyLimit]):
        self.app = app
        self.default = default
        self.paths = dict(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.paths.get(scope["path"], self.default)
        declared = _content_length(scope)
        if declared is not None:
            if declared > limit.bytes:
                await error_response(BodyTooLarge(declared, limit, declared=True), scope)(
                    scope, receive, send)
                return
            # the server delivers exactly the declared length: nothing to count
            await self.app(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.bytes:
                    raise BodyTooLarge(received, limit, declared=False)
            return message

        await self.app(scope, counting_receive, send)


def _content_length(scope: Scope) -> int | None:
    """The declared body length; None without one (a chunked body, or none). The server refuses
    a malformed ``Content-Length`` itself (400) before the app sees the request."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class FailureThrottle:
    """Failed attempts per client, as token buckets with an injectable clock.

    Each client (any hashable) has a bucket of ``limit`` attempts, refilled at ``limit`` per
    ``period`` seconds; every failure takes one. While a bucket holds less than one attempt,
    :meth:`retry_after` gives the whole seconds until it holds one again. Buckets live in an LRU
    of ``maxsize`` clients, so memory is bounded however many clients fail; a bucket pushed out
    starts full again. ``limit=0`` turns throttling off. Not thread-safe: the API calls it from
    the event loop only.
    """

    def __init__(self, limit: int, period: float = 60.0, *,
                 clock: Callable[[], float] = time.monotonic, maxsize: int = 10_000):
        if limit < 0 or period <= 0:
            raise ValueError(f"limit must be >= 0 and period > 0; got limit={limit!r}, "
                             f"period={period!r}")
        self.limit = limit
        self.period = period
        self.clock = clock
        self._buckets: LRUCache = LRUCache(maxsize)

    def __len__(self) -> int:
        return len(self._buckets)

    def _tokens(self, client: Hashable, now: float) -> float:
        tokens, stamp = self._buckets.get(client, (self.limit, now))
        return min(self.limit, tokens + (now - stamp) * self.limit / self.period)

    def retry_after(self, client: Hashable) -> int:
        """Seconds before ``client`` may try again; 0 when it may try now."""
        if not self.limit or client not in self._buckets:
            return 0
        tokens = self._tokens(client, self.clock())
        return 0 if tokens >= 1 else math.ceil((1 - tokens) * self.period / self.limit)

    def failed(self, client: Hashable) -> None:
        """Record one failed attempt of ``client``."""
        if not self.limit:
            return
        now = self.clock()
        self._buckets[client] = (self._tokens(client, now) - 1, now)
