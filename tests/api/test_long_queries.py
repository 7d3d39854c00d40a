"""A query as long as the API documents as valid reaches the app through ``pdrec serve``: 1,000
``available`` activity ids of 128 characters (about 140 kB of request line) get the app's answer
(a 404 naming the unknown ids), not a 400 from the HTTP parser, whose default limit (16 KiB
for a request head arriving in more than one read) uvicorn applies unless told otherwise
(:data:`pipelines.serve.MAX_REQUEST_HEAD_BYTES`). Sent over a raw socket: HTTP clients such as
httpx refuse a query over 64 kB themselves."""

import socket
from urllib.parse import urlencode

from tests.api.server import ServerProcess, store_url


def _get(port: int, target: str, key: str) -> tuple[int, bytes]:
    head = (f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            "Connection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        for i in range(0, len(head), 8192):  # in pieces, as a slow network delivers it
            sock.sendall(head[i:i + 8192])
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1]), answer


def test_a_thousand_long_available_ids_reach_the_app(tmp_path):
    server = ServerProcess(tmp_path, store_url("sqlite", tmp_path))
    key = server.create_key("acme")
    server.start()
    try:
        ids = [f"ACT-{i:04d}-" + "x" * 119 for i in range(1000)]
        target = "/v1/educators/T1/recommendations?" + urlencode({"available": ids}, doseq=True)
        assert len(target) > 130_000
        status, answer = _get(server.port, target, key)
        assert status == 404, answer[:500]
        assert b'"field":"available' in answer
    finally:
        server.stop()
