"""Gateway ingest over HTTP: POST one observation or a gateway batch; good rows go to `ble.observations` keyed by
tag id, bad rows are reported back by index with a reason naming the field.

Only what Kafka acknowledged is acknowledged: the request's messages are flushed before the response, and a
broker that does not take them within the timeout turns the request into a 503 the gateway should retry.
(Flushes are serialised so one request can never be answered with another request's delivery outcome.)

POST /observations   -> 202 {"accepted": n, "rejected": [{"index", "reason"}]}  (some or all rows good)
                     -> 422 {"accepted": 0, "rejected": [...]}                    (nothing usable)
GET  /health         -> 200 {"status": "ok"}
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

import msgspec
from litestar import Litestar, MediaType, Request, Response, get, post
from litestar.concurrency import sync_to_thread

from core.settings import Settings, get_settings
from realtime.observations import decode_message
from realtime.stream import OBSERVATIONS, StreamError, StreamProducer, ensure_topics, open_producer

MAX_BODY_BYTES = 8 * 1024 * 1024
FLUSH_TIMEOUT_S = 10.0
_encode = msgspec.json.Encoder().encode


def create_ingest_app(settings: Settings | None = None, producer: StreamProducer | None = None) -> Litestar:
    settings = settings or get_settings()
    topic = settings.topic(OBSERVATIONS)
    state: dict[str, Any] = {"producer": producer}
    flush_lock = threading.Lock()

    def get_producer() -> StreamProducer:
        if state["producer"] is None:
            ensure_topics(settings)
            state["producer"] = open_producer(settings)
        return state["producer"]

    def deliver(rows: list[tuple[bytes, bytes]]) -> None:
        sink = get_producer()
        with flush_lock:
            for key, value in rows:
                sink.produce(topic, value, key)
            sink.flush(FLUSH_TIMEOUT_S)

    @post(
        "/observations",
        status_code=202,
        media_type=MediaType.JSON,
        operation_id="IngestObservations",
        request_max_body_size=MAX_BODY_BYTES,
    )
    async def ingest(request: Request) -> Response[dict[str, Any]]:
        body = await request.body()
        good, bad = decode_message(
            body, time.time(), settings.max_clock_skew_s, settings.max_observation_age_s
        )
        rejected = [
            {"index": r.index, "reason": r.reason} if r.index is not None else {"reason": r.reason}
            for r in bad
        ]
        if not good:
            return Response({"accepted": 0, "rejected": rejected}, status_code=422)
        rows = [(obs.tag_id.encode(), _encode(obs)) for obs, _ in good]
        try:
            await sync_to_thread(deliver, rows)
        except StreamError as exc:
            return Response(
                {
                    "accepted": 0,
                    "rejected": rejected,
                    "detail": f"the stream did not accept the observations, retry: {exc}",
                },
                status_code=503,
                headers={"Retry-After": "1"},
            )
        return Response({"accepted": len(rows), "rejected": rejected}, status_code=202)

    @get("/health", operation_id="IngestHealth")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    async def close_producer() -> None:
        if state["producer"] is not None:
            state["producer"].close()

    return Litestar(route_handlers=[ingest, health], on_shutdown=[close_producer])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run(create_ingest_app(), host=args.host, port=args.port, log_level="info")
    return 0
