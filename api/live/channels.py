"""Litestar `ChannelsPlugin` set up for the live sockets: backend by `ASSET_TAG_REDIS_URL`, bounded per-client
queues, and a subscriber that notices when its client has fallen behind.

A slow client must never slow the others: the plugin's fan-out uses `put_nowait`, so a full queue costs the
publisher nothing; `BoundedSubscriber` records the overflow and the socket handler then closes that client with
`CLOSE_TOO_SLOW` (it can reconnect and get a fresh snapshot).
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar.channels import ChannelsPlugin, Subscriber
from litestar.channels.backends.base import ChannelsBackend

from api.live.backends import LiveRedisBackend, MemoryHubBackend
from api.live.protocol import Framer
from api.resources import is_memory_url
from core.live import LiveKeys, MemoryHub

# Messages a client may have queued before it is dropped. The consumer publishes about one message per site per
# batch (a few per second), so 256 is a minute or more of slack for a healthy client.
DEFAULT_MAX_BACKLOG = 256


class BoundedSubscriber(Subscriber):
    """A subscriber with a bounded queue that remembers whether a message had to be refused."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.overflowed = asyncio.Event()

    def put_nowait(self, item: bytes | None) -> bool:
        accepted = super().put_nowait(item)
        if not accepted and item is not None:
            self.overflowed.set()
        return accepted

    async def put(self, item: bytes | None) -> None:
        if item is None:
            # The end-of-stream marker must not wait behind a full queue (the plugin awaits it on unsubscribe,
            # and a stuck client never drains): throw the backlog away instead.
            queue = self._queue
            while not queue.empty():
                queue.get_nowait()
                queue.task_done()
            queue.put_nowait(None)
            return
        await super().put(item)


def create_channels_backend(redis_url: str, keys: LiveKeys, redis: Any = None) -> ChannelsBackend:
    framer = Framer(keys)
    if is_memory_url(redis_url):
        return MemoryHubBackend(MemoryHub.shared(), frame=framer)
    if redis is None:
        from redis.asyncio import Redis

        redis = Redis.from_url(redis_url)
    return LiveRedisBackend(redis=redis, frame=framer)


def create_channels_plugin(
    backend: ChannelsBackend, max_backlog: int = DEFAULT_MAX_BACKLOG
) -> ChannelsPlugin:
    return ChannelsPlugin(
        backend=backend,
        arbitrary_channels_allowed=True,  # one channel per site, created as sites appear
        subscriber_max_backlog=max_backlog,
        subscriber_backlog_strategy="backoff",
        subscriber_class=BoundedSubscriber,
    )
