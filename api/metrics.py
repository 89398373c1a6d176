"""Prometheus metrics of the API: requests and latency per route template (not per raw path, which would
explode label cardinality with ids). Metrics are module-level so several apps in one process (tests) share them."""

from __future__ import annotations

import time
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

REQUESTS = Counter(
    "assettag_api_requests_total", "HTTP requests handled by the API", ["method", "route", "status"]
)
LATENCY = Histogram(
    "assettag_api_request_duration_seconds",
    "Time from request to the start of the response",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


def metrics_middleware(app: ASGIApp) -> ASGIApp:
    # `labels()` hashes and locks on every call; the per-route children are few, so keep them.
    latency_children: dict[tuple[str, str], Any] = {}
    request_children: dict[tuple[str, str, int], Any] = {}

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                key = (scope["method"], scope.get("path_template", "unmatched"))
                child = latency_children.get(key)
                if child is None:
                    child = latency_children[key] = LATENCY.labels(*key)
                child.observe(time.perf_counter() - started)
            await send(message)

        try:
            await app(scope, receive, send_wrapper)
        finally:
            key = (scope["method"], scope.get("path_template", "unmatched"), status)
            counter = request_children.get(key)
            if counter is None:
                counter = request_children[key] = REQUESTS.labels(key[0], key[1], str(status))
            counter.inc()

    return middleware


def exposition() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
