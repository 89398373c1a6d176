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


# `labels()` hashes and locks on every call; the per-route children are few, so keep them.
_latency_children: dict[tuple[str, str], Any] = {}
_request_children: dict[tuple[str, str, int], Any] = {}


def _latency(method: str, route: str) -> Any:
    child = _latency_children.get((method, route))
    if child is None:
        child = _latency_children[(method, route)] = LATENCY.labels(method, route)
    return child


def _requests(method: str, route: str, status: int) -> Any:
    child = _request_children.get((method, route, status))
    if child is None:
        child = _request_children[(method, route, status)] = REQUESTS.labels(method, route, str(status))
    return child


def observe(method: str, route: str, status: int, seconds: float) -> None:
    """One request answered outside the middleware (the current-location fast path), counted the same way."""
    _latency(method, route).observe(seconds)
    _requests(method, route, status).inc()


def metrics_middleware(app: ASGIApp) -> ASGIApp:
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
                _latency(scope["method"], scope.get("path_template", "unmatched")).observe(
                    time.perf_counter() - started
                )
            await send(message)

        try:
            await app(scope, receive, send_wrapper)
        except Exception as error:
            # Raised before a response started (e.g. a 401 from the authentication middleware): the exception
            # handlers outside this middleware answer with the error's status, not a 500.
            status = getattr(error, "status_code", 500)
            raise
        finally:
            _requests(scope["method"], scope.get("path_template", "unmatched"), status).inc()

    return middleware


def exposition() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
