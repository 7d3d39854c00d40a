"""Bounded metric labels (issue 14, item 5): no request, however odd its method or path, adds a
label value of its own to ``/metrics``."""

from __future__ import annotations

import random
import re
import string


def _labels(text: str, name: str) -> set[str]:
    return set(re.findall(rf'{name}="([^"]*)"', text))


def test_random_methods_and_paths_leave_the_metrics_bounded(api):
    rng = random.Random(0)
    for i in range(100):  # the known routes, to reach the steady size
        api.client.get("/healthz")
        api.get("/v1/framework")
        api.client.get(f"/v1/educators/E{i}", headers=api.h())
    before = len(api.client.get("/metrics").content)
    for _ in range(3000):
        method = "".join(rng.choices(string.ascii_uppercase, k=rng.randint(3, 12)))
        path = "/" + "/".join("".join(rng.choices(string.ascii_lowercase + string.digits, k=6))
                              for _ in range(rng.randint(1, 4)))
        if rng.random() < 0.5:
            path = "/v1/educators/" + path.strip("/").replace("/", "-")
        api.client.request(method, path, headers=api.h() if rng.random() < 0.5 else {})
    text = api.client.get("/metrics").text
    methods = _labels(text, "method")
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"}
    assert "OTHER" in methods
    routes = _labels(text, "route")
    assert all(r == "unmatched" or r.startswith("/") and len(r) < 80 for r in routes)
    assert len(routes) <= 12, routes
    assert len(text.encode()) < before + 40_000, (before, len(text))
