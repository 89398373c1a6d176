"""The live stream behind the WebSocket sockets survives a Redis restart: after Redis comes back, messages on
exact channels and on patterns flow again without restarting the API.

Runs its own `redis-server` (the one `scripts/services.sh` installs) on a free port, because restarting the
shared one would disturb the other tests."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis

from api.live.backends import LiveRedisBackend

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: run `scripts/services.sh up` (it installs it)")
        self.binary, self.port = binary, _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        pytest.fail(f"private redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


async def _until(condition, timeout_s: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_live_stream_resumes_after_redis_restarts(private_redis: PrivateRedis) -> None:
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    backend = LiveRedisBackend(redis=aioredis.Redis.from_url(url), poll_timeout_s=0.2)
    publisher = aioredis.Redis.from_url(url)
    received: list[tuple[str, bytes]] = []

    async def read() -> None:
        async for name, data in backend.stream_events():
            received.append((name, data))

    await backend.subscribe(["locations.site-1", "alerts.*"])
    reader = asyncio.create_task(read())
    try:
        await asyncio.sleep(0.3)
        await publisher.publish("locations.site-1", b"before")
        await _until(lambda: ("locations.site-1", b"before") in received)

        private_redis.stop()
        await asyncio.sleep(1.5)  # the stream notices and backs off; it must not end
        assert not reader.done()
        private_redis.start()

        # published repeatedly until seen: the stream re-subscribes on its next reconnect attempt
        async def seen_after_restart() -> None:
            while ("alerts.*", b"after") not in received or ("locations.site-1", b"after") not in received:
                try:
                    await publisher.publish("locations.site-1", b"after")
                    await publisher.publish("alerts.site-1", b"after")
                except (OSError, aioredis.ConnectionError):
                    pass
                await asyncio.sleep(0.2)

        await asyncio.wait_for(seen_after_restart(), timeout=20)
        assert not reader.done()
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await publisher.aclose()
        await backend.on_shutdown()
