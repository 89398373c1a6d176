"""Read the live state the realtime consumer keeps (current location per tag) from Redis or the in-process hub.

The API only reads these keys; the consumer owns them. Both backends answer the same two questions so the
WebSocket snapshot (and any fast-path REST read) does not care which one the deployment uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from urllib.parse import urlsplit

from core.live import MemoryHub


class LiveState(Protocol):
    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    async def aclose(self) -> None: ...


class MemoryLiveState:
    """`memory://`: the process-wide `MemoryHub` that the embedded realtime loop writes."""

    def __init__(self, hub: MemoryHub | None = None) -> None:
        self.hub = hub or MemoryHub.shared()

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return self.hub.get_many(keys) if keys else []

    async def aclose(self) -> None:
        return None


class RedisLiveState:
    """`redis://`: one MGET per snapshot, on the connection pool shared with the channels backend."""

    def __init__(self, redis: object) -> None:
        self.redis = redis

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        return list(await self.redis.mget(list(keys)))  # type: ignore[attr-defined]

    async def aclose(self) -> None:
        return None  # the client belongs to whoever made it (LivePlugin closes its own)


def is_memory_url(url: str) -> bool:
    return urlsplit(url).scheme.lower() == "memory"
