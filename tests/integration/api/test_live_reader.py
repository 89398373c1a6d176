"""LiveReader.get against the real Redis: concurrent reads are coalesced, and each caller still gets its own
key's value (or None), in any number and order."""

from __future__ import annotations

import asyncio

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
