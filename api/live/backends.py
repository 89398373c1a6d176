"""Channels backends that carry the realtime consumer's pub/sub messages into Litestar's `ChannelsPlugin`.

- `redis://`: `LiveRedisBackend`, Litestar's Redis pub/sub backend plus glob *pattern* subscriptions
  (`alerts.*` for the all-sites alert stream), because the stock backend only knows exact channel names.
- `memory://`: `MemoryHubBackend` bridges `core.live.MemoryHub.shared()` — the hub the embedded realtime loop
  publishes to from its own thread — onto the event loop, so `assettag demo` needs no Redis.

Both hand every message to `frame` once, as it arrives, so the JSON envelope the clients see is built once per
message rather than once per connected client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import Any

from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.live import MemoryHub

Framer = Callable[[str, bytes], bytes]
RECONNECT_FIRST_S, RECONNECT_MAX_S = 0.5, 5.0  # backoff while Redis is away

logger = logging.getLogger(__name__)
_GLOB_CHARS = frozenset("*?[")


def is_pattern(channel: str) -> bool:
    """Channel names from `core.live.LiveKeys` never contain glob characters; patterns always do."""
    return not _GLOB_CHARS.isdisjoint(channel)


def _unframed(_channel: str, data: bytes) -> bytes:
    return data


class LiveRedisBackend(RedisChannelsPubSubBackend):
    """Redis pub/sub with SUBSCRIBE for channel names and PSUBSCRIBE for glob patterns.

    A pattern subscription is delivered under the pattern's own name, which is the name the plugin's
    subscribers registered for.
    """

    def __init__(self, *, redis: Any, frame: Framer = _unframed, poll_timeout_s: float = 1.0) -> None:
        super().__init__(redis=redis)
        self._frame = frame
        self._poll_timeout_s = poll_timeout_s

    async def subscribe(self, channels: Iterable[str]) -> None:
        names = list(channels)
        patterns = [name for name in names if is_pattern(name)]
        exact = [name for name in names if not is_pattern(name)]
        if exact:
            await self._pub_sub.subscribe(*exact)
        if patterns:
            await self._pub_sub.psubscribe(*patterns)
        self._has_subscribed.set()

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        names = list(channels)
        patterns = [name for name in names if is_pattern(name)]
        exact = [name for name in names if not is_pattern(name)]
        if exact:
            await self._pub_sub.unsubscribe(*exact)
        if patterns:
            await self._pub_sub.punsubscribe(*patterns)
        pubsub = self._pub_sub
        live_channels = pubsub.channels.keys() - pubsub.pending_unsubscribe_channels
        live_patterns = pubsub.patterns.keys() - pubsub.pending_unsubscribe_patterns
        if not live_channels and not live_patterns:
            self._has_subscribed.clear()

    async def stream_events(self) -> AsyncGenerator[tuple[str, Any], None]:
        outage_s = 0.0
        while True:
            await self._has_subscribed.wait()
            pubsub = self._pub_sub
            try:
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=self._poll_timeout_s
                )
            except (OSError, RedisConnectionError, RedisTimeoutError) as error:
                # Redis restarted or is unreachable. Without this the stream would end and every socket would
                # go quiet until the API restarts; instead keep trying: redis-py reconnects on the next read
                # and subscribes again to every channel and pattern it had.
                outage_s = min(max(2 * outage_s, RECONNECT_FIRST_S), RECONNECT_MAX_S)
                logger.warning("live stream lost Redis (%s); retrying in %.1f s", error, outage_s)
                await asyncio.sleep(outage_s)
                continue
            if outage_s:
                logger.warning("live stream back on Redis; messages published during the outage were missed")
                outage_s = 0.0
            if message is None:
                continue
            channel: bytes = message["channel"]
            if message["type"] == "pmessage":
                name: bytes = message["pattern"]
                if name not in pubsub.patterns.keys() - pubsub.pending_unsubscribe_patterns:
                    continue
            else:
                name = channel
                if name not in pubsub.channels.keys() - pubsub.pending_unsubscribe_channels:
                    continue
            yield name.decode(), self._frame(channel.decode(), message["data"])

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        # Plain PUBLISH, the same command the realtime consumer uses, so API-side publishes look identical.
        async with self._redis.pipeline(transaction=False) as pipe:
            for channel in set(channels):
                pipe.publish(channel, data)
            await pipe.execute()


class MemoryHubBackend(ChannelsBackend):
    """The `memory://` backend: subscriptions on the in-process `MemoryHub`, delivered onto the event loop.

    The hub calls subscribers synchronously in the publishing thread (the embedded realtime loop), so the
    callback only hands the message to the loop; it never blocks the publisher.
    """

    def __init__(self, hub: MemoryHub | None = None, *, frame: Framer = _unframed) -> None:
        self.hub = hub or MemoryHub.shared()
        self._frame = frame
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[str, bytes]] | None = None
        self._unsubscribers: dict[str, Callable[[], None]] = {}

    async def on_startup(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()

    async def on_shutdown(self) -> None:
        for unsubscribe in self._unsubscribers.values():
            unsubscribe()
        self._unsubscribers.clear()
        self._queue = None

    def _deliver_to(self, name: str) -> Callable[[str, bytes], None]:
        def deliver(channel: str, data: bytes) -> None:
            loop, queue = self._loop, self._queue
            if loop is None or queue is None or loop.is_closed():
                return
            loop.call_soon_threadsafe(queue.put_nowait, (name, self._frame(channel, data)))

        return deliver

    async def subscribe(self, channels: Iterable[str]) -> None:
        for name in channels:
            if name not in self._unsubscribers:
                self._unsubscribers[name] = self.hub.subscribe(name, self._deliver_to(name))

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        for name in channels:
            unsubscribe = self._unsubscribers.pop(name, None)
            if unsubscribe is not None:
                unsubscribe()

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        for channel in set(channels):
            self.hub.publish(channel, data)

    async def stream_events(self) -> AsyncGenerator[tuple[str, Any], None]:
        if self._queue is None:
            raise RuntimeError("MemoryHubBackend used before on_startup")
        queue = self._queue
        while True:
            name, data = await queue.get()
            if name in self._unsubscribers:  # a message can be in flight while its channel is dropped
                yield name, data

    async def get_history(self, channel: str, limit: int | None = None) -> list[bytes]:
        return []
