"""Prometheus metrics of the realtime loop and the small HTTP server that exposes them with a /health probe."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

CONSUMED = Counter("assettag_realtime_consumed_messages", "Messages read from ble.observations")
OBSERVATIONS = Counter("assettag_realtime_observations", "Valid observations processed")
DLQ = Counter("assettag_realtime_dlq_records", "Rejected observations sent to the DLQ", ["reason"])
UNKNOWN_TAGS = Counter("assettag_realtime_unknown_tag_observations", "Observations from unregistered tags")
FIXES = Counter("assettag_realtime_fixes", "Location fixes computed")
HISTORY_ROWS = Counter("assettag_realtime_history_rows", "Significant fixes written to location_history")
RETRIES = Counter("assettag_realtime_retries", "Batch write attempts that failed transiently", ["backend"])
BATCH_SECONDS = Histogram(
    "assettag_realtime_batch_seconds",
    "Time to process and write one batch",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
END_TO_END_SECONDS = Histogram(
    "assettag_realtime_produce_to_write_seconds",
    "Kafka produce time to batch written (newest message)",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
LAG = Gauge("assettag_realtime_consumer_lag", "Messages behind the end of the assigned partitions")
TAGS_TRACKED = Gauge("assettag_realtime_tags_tracked", "Tags with state in this process")


class MetricsServer:
    """GET /metrics (Prometheus text) and GET /health (JSON from `health()`, 503 when not healthy)."""

    def __init__(self, host: str, port: int, health: Callable[[], dict[str, object]]) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path.startswith("/metrics"):
                    body, status, kind = generate_latest(), 200, CONTENT_TYPE_LATEST
                elif self.path.startswith("/health"):
                    report = outer.health()
                    body = json.dumps(report).encode()
                    status, kind = (200 if report.get("status") == "ok" else 503), "application/json"
                else:
                    body, status, kind = b"not found\n", 404, "text/plain"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - silence access logs
                return None

        self.health = health
        self.server = ThreadingHTTPServer((host, port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="metrics-http", daemon=True)

    def start(self) -> MetricsServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def monotonic_age(since: float) -> float:
    return time.monotonic() - since
