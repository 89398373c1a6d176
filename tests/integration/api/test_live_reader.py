"""LiveReader.get against the real Redis: concurrent reads are coalesced, and each caller still gets its own
key's value (or None), in any number and order."""

from __future__ import annotations

import asyncio
import socket

import pytest

from api.resources import MAX_BATCH_KEYS, LiveReader
from core.settings import Settings

pytestmark = pytest.mark.integration


async def test_concurrent_gets_each_get_their_own_value(api_settings: Settings) -> None:
    reader = LiveReader(api_settings)
    keys = [reader.keys.current_location(f"CAFE{i:08X}") for i in range(MAX_BATCH_KEYS * 2 + 7)]
    stored = {key: f'{{"n":{i}}}'.encode() for i, key in enumerate(keys) if i % 3}
    commands: list[object] = []
    original = reader.redis.mget

    async def counting_mget(batch):  # type: ignore[no-untyped-def]
        commands.append(len(batch))
        return await original(batch)

    try:
        await reader.redis.mset(stored)
        reader.redis.mget = counting_mget
        values = await asyncio.gather(*(reader.get(key) for key in reversed(keys)))
        assert values == [stored.get(key) for key in reversed(keys)]
        assert len(commands) <= 4 and sum(commands) == len(keys)  # batched, not one round trip each
        assert await reader.get(keys[0]) is None and await reader.get(keys[1]) == stored[keys[1]]
    finally:
        await reader.redis.delete(*keys)
        await reader.aclose()


def _closed_port() -> int:
    with socket.socket() as sock:  # bound, never listening: connections are refused at once
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_redis_reads_as_missing_and_is_skipped_until_retry(api_settings: Settings) -> None:
    reader = LiveReader(
        api_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{_closed_port()}/0"})
    )
    attempts: list[int] = []
    original = reader.redis.mget

    async def counting_mget(batch):  # type: ignore[no-untyped-def]
        attempts.append(len(batch))
        return await original(batch)

    reader.redis.mget = counting_mget
    try:
        key = reader.keys.current_location("CAFE0001")
        assert await asyncio.gather(reader.get(key), reader.get(key)) == [None, None]  # no error, no hang
        assert attempts == [2] and not reader.available
        # while the breaker is open, reads do not wait for Redis at all
        assert await reader.get(key) is None and await reader.get_many([key, key]) == [None, None]
        assert attempts == [2]
        reader._down_until = 0.0  # the retry time has come: the next read tries Redis again
        assert await reader.get(key) is None and attempts == [2, 1]
    finally:
        await reader.aclose()
