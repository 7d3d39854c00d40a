"""Huge bodies against the served API: every body endpoint, with and without a key, chunked and
with a Content-Length, and what each costs the server in memory and the client in time.

What it does: serves the API with ``pdrec serve`` (one worker, SQLite, graph rule) on
127.0.0.1, then sends each endpoint a 300 MB body (made 64 KiB at a time, never held) with no
key, a wrong key and a valid admin key, chunked and with ``Content-Length``, and prints the
status, the seconds until the answer and the server's peak resident memory above its level
before the request (``/proc/<pid>/status``, peak reset through ``/proc/<pid>/clear_refs``).
Goal (issue 14): every answer 401 or 413, every growth under 50 MB.

Then it measures what the door middlewares (request id, body limit, authentication) cost a
request in process: the median time of ``GET /healthz`` through the whole app, against the
same app with those three layers taken out of its middleware stack.

Run: ``python benchmarks/bench_body_limits.py [--size-mb 300]`` (``make bench`` runs it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.api.bigbody import PeakRss, served_api, upload  # noqa: E402

ENDPOINTS = [("POST", "/v1/feedback"), ("POST", "/v1/recommendations:batch"),
             ("POST", "/v1/admin/keys"), ("POST", "/v1/evidence"), ("POST", "/v1/evidence/xapi"),
             ("PUT", "/v1/educators/T1")]
MIB = 1024 * 1024


def matrix(size: int) -> bool:
    """Print one line per case; True when every case met the goal."""
    ok = True
    with tempfile.TemporaryDirectory(prefix="pdrec-bigbody-") as tmp, \
            served_api(Path(tmp)) as (base, pid, keys), httpx.Client(timeout=300) as client:
        rss = PeakRss(pid)
        keyings = {"no key": {}, "wrong key": {"Authorization": "Bearer pdrec_0123456789ab_x"},
                   "admin key": {"Authorization": f"Bearer {keys['admin']}"}}
        print(f"{size / MIB:.0f} MiB bodies; server pid {pid}")
        print(f"{'endpoint':34} {'key':10} {'framing':15} {'status':>6} {'seconds':>8} "
              f"{'peak RSS growth':>16}")
        for method, path in ENDPOINTS:
            for keying, headers in keyings.items():
                for chunked in (True, False):
                    rss.reset()
                    start = time.perf_counter()
                    r = upload(client, method, base + path, size, chunked=chunked,
                               headers=headers)
                    seconds = time.perf_counter() - start
                    grown = rss.growth()
                    good = r.status_code in (401, 413) and grown < 50 * MIB
                    ok &= good
                    print(f"{method + ' ' + path:34} {keying:10} "
                          f"{'chunked' if chunked else 'Content-Length':15} {r.status_code:>6} "
                          f"{seconds:>8.2f} {grown / MIB:>13.1f} MB{'' if good else '  MISSED'}")
    return ok


def middleware_cost(n: int = 4000, rounds: int = 7) -> None:
    """Median in-process time of ``GET /healthz`` with and without the door middlewares."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.auth import AuthMiddleware
    from api.errors import RequestIdMiddleware
    from api.limits import BodyLimitMiddleware
    from api.settings import Settings

    door = (RequestIdMiddleware, BodyLimitMiddleware, AuthMiddleware)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": "/healthz", "raw_path": b"/healthz", "root_path": "",
             "query_string": b"", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
             "headers": [(b"host", b"127.0.0.1"), (b"user-agent", b"bench")]}

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: dict) -> None:
        return None

    medians = {}
    with tempfile.TemporaryDirectory(prefix="pdrec-door-") as tmp:
        for variant in ("with the door", "without it"):
            app = create_app(Settings(data_dir=Path(tmp), load_model=False))
            if variant == "without it":
                app.user_middleware = [m for m in app.user_middleware if m.cls not in door]

            async def run(app=app) -> list[float]:
                out = []
                for _ in range(rounds):
                    start = time.perf_counter()
                    for _ in range(n):
                        await app({**scope, "state": {}}, receive, send)
                    out.append((time.perf_counter() - start) / n)
                return out

            with TestClient(app) as client:  # runs the lifespan
                medians[variant] = statistics.median(client.portal.call(run)) * 1e6
    print(f"GET /healthz in process: {medians['with the door']:.1f} us with the door "
          f"(request id, body limit, authentication), {medians['without it']:.1f} us without: "
          f"+{medians['with the door'] - medians['without it']:.1f} us per request "
          f"(median of {rounds} x {n})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=300)
    args = parser.parse_args()
    ok = matrix(args.size_mb * MIB)
    middleware_cost()
    print("goal met: every answer 401 or 413, every growth < 50 MB" if ok else "GOAL MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
