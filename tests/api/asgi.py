"""One request straight into the app's ASGI interface, with a body fed chunk by chunk.

The test client reads a request body whole before the app sees it; this helper instead hands the
app one chunk per ``receive()`` call and counts the calls, so a test can tell how much of a body
the app read before it answered (none, for a caller without a key).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

__all__ = ["Answer", "call"]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    chunks_read: int = 0
    bytes_read: int = 0
    messages: list[dict] = field(default_factory=list)

    def json(self):
        return orjson.loads(self.body)


def call(api, method: str, path: str, *, headers: dict[str, str] | None = None,
         chunks: Iterable[bytes] = (), client: tuple[str, int] = ("127.0.0.1", 40000)
         ) -> Answer:
    """Send one request to ``api``'s app (its lifespan running) and return the answer.

    ``chunks`` is consumed lazily, one chunk per ``receive()``; it may be endless. Without a
    ``content-length`` header the body is of unknown length, as a chunked upload is.
    """
    app = api.client.app
    path_only, _, query = path.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path_only, "raw_path": path_only.encode(), "root_path": "",
        "query_string": query.encode(), "client": client, "server": ("127.0.0.1", 8000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "state": {},
    }
    answer = Answer(0, {}, b"")
    source = iter(chunks)

    async def receive() -> dict:
        chunk = next(source, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        answer.chunks_read += 1
        answer.bytes_read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict) -> None:
        answer.messages.append(message)
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    async def run() -> None:
        await app(scope, receive, send)

    api.client.portal.call(run)
    return answer
