"""Prometheus metrics: request count and latency per route, evidence outcomes, the model served.

Each app gets its own registry (several apps can live in one test process). With several
uvicorn workers, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory before they start
(``pdrec serve --workers N`` does): every worker then writes its samples there and ``/metrics``
aggregates all of them (prometheus-client's multiprocess mode). Without it, ``/metrics`` shows
only the worker that answered.

Labels are bounded whatever clients send: a method outside :data:`METHODS` is counted as
``OTHER``, and a request is labelled by its route template (``/v1/educators/{educator_id}``),
or ``unmatched`` when it reached no route (an unknown path, or an answer given at the door: 401,
413, 429). Each label set is a new time series for ever, so one per odd method or path would
let anyone grow ``/metrics`` (and every scrape) without bound.
"""

from __future__ import annotations

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = ["METHODS", "Metrics", "MetricsMiddleware"]

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""HTTP methods that get a label of their own; any other is ``OTHER``."""

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The app's metric objects and their exposition."""

    def __init__(self) -> None:
        self.multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("pdrec_http_requests_total", "HTTP requests answered",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("pdrec_http_request_duration_seconds",
                                 "Time to answer an HTTP request", ["method", "route"],
                                 buckets=_BUCKETS, registry=r)
        self.evidence = Counter("pdrec_evidence_records_total",
                                "Evidence records received, by outcome", ["outcome"], registry=r)
        self.feedback = Counter("pdrec_feedback_events_total", "Feedback events stored",
                                ["event"], registry=r)
        self.model = Gauge("pdrec_model_info", "The mastery model served (value 1)",
                           ["name", "version", "fallback"], registry=r,
                           multiprocess_mode="livemax")
        self.mastery_refreshed = Counter("pdrec_mastery_refreshed_total",
                                         "Educators whose stored mastery was recomputed",
                                         ["trigger"], registry=r)
        self.answer_cache = Counter("pdrec_answer_cache_total",
                                    "Recommendation answers looked up (kept: hit; computed: miss)",
                                    ["result"], registry=r)

    def set_model(self, name: str, version: str | None, fallback: bool) -> None:
        self.model.clear()
        self.model.labels(name=name, version=version or "", fallback=str(fallback).lower()).set(1)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        if self.multiprocess_dir:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Pure ASGI middleware: counts and times every HTTP request by method and route template
    (bounded labels, see the module docstring)."""

    def __init__(self, app, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            self.metrics.requests.labels(method, path, str(status)).inc()
            self.metrics.latency.labels(method, path).observe(time.perf_counter() - start)
