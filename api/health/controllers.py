"""Liveness, readiness and Prometheus metrics.

`/health` answers as long as the process serves requests (no dependencies checked, no key needed);
`/ready` checks what the API needs to do its job — the database, Redis and the stream — and answers 503
naming what is down; `/metrics` is the Prometheus exposition.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from sqlalchemy import text

from api.metrics import exposition
from api.resources import ApiResources
from api.schemas import Base

CHECK_TIMEOUT_S = 2.0


class Health(Base):
    status: str


class Check(Base):
    name: str
    ok: bool
    detail: str
    latency_ms: float


class Readiness(Base):
    status: str
    checks: list[Check]


async def _timed(name: str, probe: asyncio.Future[object] | object) -> Check:
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(probe, timeout=CHECK_TIMEOUT_S)  # type: ignore[arg-type]
        ok = True
    except TimeoutError:
        ok, detail = False, f"no answer within {CHECK_TIMEOUT_S:.0f} s"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", reported with its reason
        ok, detail = False, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return Check(
        name=name, ok=ok, detail=str(detail), latency_ms=round((time.perf_counter() - started) * 1000, 2)
    )


async def _database(resources: ApiResources) -> str:
    async with resources.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return resources.engine.dialect.name


async def _redis(resources: ApiResources) -> str:
    await resources.live.ping()
    return "in-process hub" if resources.live.hub is not None else "redis"


async def _stream(resources: ApiResources) -> str:
    url = resources.settings.stream_url
    if urlsplit(url).scheme == "memory":
        return "in-process queue"
    errors = []
    for broker in resources.settings.kafka_bootstrap_servers.split(","):
        host, _, port = broker.rpartition(":")
        try:
            _, writer = await asyncio.open_connection(host or broker, int(port or 9092))
        except (OSError, ValueError) as exc:
            errors.append(f"{broker}: {exc}")
            continue
        writer.close()
        return f"kafka broker {broker} reachable"
    raise ConnectionError("; ".join(errors) or "no broker configured")


class HealthController(Controller):
    tags = ["health"]

    @get("/health", operation_id="health", summary="Liveness", opt={"exclude_from_auth": True})
    async def health(self) -> Health:
        return Health(status="ok")

    @get("/ready", operation_id="ready", summary="Readiness: database, Redis, stream")
    async def ready(self, state: State) -> Response[Readiness]:
        resources: ApiResources = state.resources
        checks = await asyncio.gather(
            _timed("database", _database(resources)),
            _timed("redis", _redis(resources)),
            _timed("stream", _stream(resources)),
        )
        ready = all(check.ok for check in checks)
        return Response(
            Readiness(status="ready" if ready else "not ready", checks=list(checks)),
            status_code=200 if ready else 503,
        )

    @get(
        "/metrics",
        operation_id="metrics",
        summary="Prometheus metrics",
        include_in_schema=True,
    )
    async def metrics(self, request: Request) -> Response[bytes]:
        body, content_type = exposition()
        return Response(body, media_type=content_type)
