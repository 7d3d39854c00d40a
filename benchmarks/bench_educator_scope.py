"""What an educator key's reach check (api/educator_scope.py, docs/educators.md) costs a request.

Prints medians and ratios against reference runs in the same process:

- :func:`api.educator_scope.educator_scope_error` alone, per request, on a mix of paths (its own
  educator, another one, the framework, a batch endpoint), against one compiled-regex match of a
  path (the floor of any route-template check);
- a whole request through the app (in-process ``TestClient``), ``GET /v1/educators/{id}`` and
  ``GET /v1/educators/{id}/mastery``, with an educator key against the same request with a
  platform key (which skips the check): the overhead a signed-in educator pays.

Run: ``python benchmarks/bench_educator_scope.py [--requests 200]`` (``make bench`` runs it).
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
from pathlib import Path

from fastapi.testclient import TestClient
from timing import median_time  # benchmarks/timing.py (scripts run from this folder)

from api.app import create_app
from api.educator_scope import EducatorRoutes, educator_scope_error
from api.settings import Settings

PATHS = [("GET", "/v1/educators/T1/recommendations"), ("GET", "/v1/educators/T2/mastery"),
         ("GET", "/v1/framework"), ("POST", "/v1/recommendations:batch")]


def bench_check(app, n: int) -> None:
    routes = EducatorRoutes.of(app)
    scopes = [{"type": "http", "method": m, "path": p} for m, p in PATHS]
    floor = re.compile(r"^/v1/educators/(?P<educator_id>[^/]+)/recommendations$")

    def check() -> None:
        for _ in range(n // len(scopes)):
            for scope in scopes:
                educator_scope_error(routes, scope, "T1")

    def one_match() -> None:
        for _ in range(n // len(scopes)):
            for scope in scopes:
                floor.match(scope["path"])

    t_check, _ = median_time(check, runs=5)
    t_floor, _ = median_time(one_match, runs=5)
    per = n // len(scopes) * len(scopes)
    print(f"educator_scope_error over {len(routes._compiled)} /v1 templates: median "
          f"{t_check / per * 1e6:.1f} µs per request; one regex match {t_floor / per * 1e6:.2f} "
          f"µs, ratio {t_check / t_floor:.0f}")


def bench_requests(client: TestClient, keys: dict[str, str], n: int, runs: int = 7) -> None:
    for path in ("/v1/educators/T1", "/v1/educators/T1/mastery"):
        heads = {who: {"Authorization": f"Bearer {key}"} for who, key in keys.items()}
        for h in heads.values():
            client.get(path, headers=h)  # warm: key cache, compiled templates, answer cache
        times: dict[str, list[float]] = {who: [] for who in heads}
        for _ in range(runs):  # interleaved, so drift on a shared machine hits both alike
            for who, h in heads.items():
                t, _ = median_time(lambda h=h, path=path: [
                    client.get(path, headers=h).raise_for_status() for _ in range(n)], runs=1)
                times[who].append(t)
        med = {who: statistics.median(ts) / n for who, ts in times.items()}
        print(f"GET {path} x{n}, {runs} interleaved runs: platform key {med['platform'] * 1e3:.2f} "
              f"ms per request (median), educator key {med['educator'] * 1e3:.2f} ms, ratio "
              f"{med['educator'] / med['platform']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), load_model=False)
        with TestClient(create_app(settings)) as client:
            store = client.app.state.services.store
            keys = {"platform": store.create_key("acme", "platform")[0]}
            records = [{"evidence_id": f"e{i}", "educator_id": f"T{i % 20 + 1}",
                        "competency_id": "INS.FORMATIVE", "source": "observation",
                        "score": 1 + i % 4, "observed_at": f"2025-03-{i % 28 + 1:02d}T10:00:00Z"}
                       for i in range(200)]
            r = client.post("/v1/evidence", json={"records": records},
                            headers={"Authorization": f"Bearer {keys['platform']}"})
            assert r.status_code == 200 and r.json()["accepted"] == 200, r.text
            keys["educator"] = store.create_key("acme", "educator", educator_id="T1")[0]
            bench_check(client.app, args.requests * 10)
            bench_requests(client, keys, args.requests)


if __name__ == "__main__":
    main()
