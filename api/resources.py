"""The long-lived things one API process holds: settings, the database engine, live state, the lakehouse.

Built once per app (in `create_app`) and kept on `app.state.resources`, so handlers on the hot path (current
location) read Redis or the in-process hub directly without opening a database session.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.locations.services import TagLookup
from core.db.engine import async_session_factory, make_async_engine
from core.live import LiveKeys, MemoryHub
from core.settings import Settings

if TYPE_CHECKING:
    from api.alerts.publishing import AlertPublisher
    from api.gateways.rates import ObservationRates
    from lakehouse.store import Lakehouse


MAX_BATCH_KEYS = 256
"""Most keys one coalesced MGET asks for; a fuller batch is sent at once."""
REDIS_RETRY_AFTER_S = 5.0
"""After Redis fails, reads skip it (and answer from PostgreSQL) for this long before trying it again."""

logger = logging.getLogger(__name__)


def is_memory_url(url: str) -> bool:
    """`memory://`: the embedded, in-process backend rather than a Redis server."""
    return urlsplit(url).scheme.lower() == "memory"


class LiveReader:
    """Reads the live keys the realtime consumer writes: Redis for `redis://`, `MemoryHub.shared()` for `memory://`."""

    def __init__(self, settings: Settings) -> None:
        self.keys = LiveKeys(settings.redis_prefix)
        self.hub: MemoryHub | None = None
        self.redis: Any = None
        self._pending: list[tuple[str, asyncio.Future[bytes | None]]] = []
        self._flushes: set[asyncio.Task[None]] = set()
        if is_memory_url(settings.redis_url):
            self.hub = MemoryHub.shared()
        else:
            import redis.asyncio as aioredis

            # Redis is next door: a connection that takes half a second is not coming.
            self.redis = aioredis.Redis.from_url(
                settings.redis_url, socket_connect_timeout=0.5, socket_timeout=2.0, max_connections=64
            )
        # While Redis is down every read would wait for its timeout first: a failure opens this breaker, and
        # until it closes reads answer "not in the live store" at once, so callers fall back to PostgreSQL.
        self._down_until = 0.0

    @property
    def available(self) -> bool:
        """False while a recent Redis failure holds the breaker open (the in-process hub is always there)."""
        return self.hub is not None or time.monotonic() >= self._down_until

    def _failed(self, error: BaseException) -> None:
        if self.available:
            logger.warning(
                "live store unreachable (%s); reading from PostgreSQL for the next %.0f s",
                str(error) or type(error).__name__,
                REDIS_RETRY_AFTER_S,
            )
        self._down_until = time.monotonic() + REDIS_RETRY_AFTER_S

    async def get(self, key: str) -> bytes | None:
        """One key's value, or None when it is not there or Redis is unreachable (the caller falls back to
        PostgreSQL). Concurrent calls are coalesced into one MGET per event-loop turn: redis-py spends far more
        CPU per command than Redis does, and this is the current-location hot path (one GET each)."""
        if self.hub is not None:
            return self.hub.get(key)
        if not self.available:
            return None
        waiter: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._pending.append((key, waiter))
        if len(self._pending) >= MAX_BATCH_KEYS:
            self._flush()
        elif len(self._pending) == 1:
            asyncio.get_running_loop().call_soon(self._flush)
        return await waiter

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._mget(batch))
            self._flushes.add(task)  # a strong reference until it is done
            task.add_done_callback(self._flushes.discard)

    async def _mget(self, batch: list[tuple[str, asyncio.Future[bytes | None]]]) -> None:
        try:
            values = await self.redis.mget([key for key, _ in batch])
        except (OSError, RedisError) as error:  # unreachable: every waiter answers "not here", none hangs
            self._failed(error)
            values = [None] * len(batch)
        except Exception as error:  # anything else is a bug: every waiter gets it, none hangs
            for _, waiter in batch:
                if not waiter.done():
                    waiter.set_exception(error)
            return
        except BaseException:  # cancelled (shutdown)
            for _, waiter in batch:
                waiter.cancel()
            raise
        for (_, waiter), value in zip(batch, values, strict=True):
            if not waiter.done():  # a cancelled request
                waiter.set_result(value)

    async def get_many(self, keys: list[str]) -> list[bytes | None]:
        if not keys:
            return []
        if self.hub is not None:
            return self.hub.get_many(keys)
        if self.available:
            try:
                return list(await self.redis.mget(keys))
            except (OSError, RedisError) as error:
                self._failed(error)
        return [None] * len(keys)

    async def publish(self, channel: str, data: bytes) -> None:
        """The API's one live write: announcing an alert change it made (see `api.alerts.publishing`)."""
        if self.hub is not None:
            self.hub.publish(channel, data)
        else:
            await self.redis.publish(channel, data)

    async def ping(self) -> None:
        """Raises if Redis cannot be reached (the in-process hub always can)."""
        if self.redis is not None:
            await asyncio.wait_for(self.redis.ping(), timeout=2.0)

    async def aclose(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


class ApiResources:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: AsyncEngine = make_async_engine(settings.database_url)
        self.sessions: async_sessionmaker[AsyncSession] = async_session_factory(self.engine)
        self.live = LiveReader(settings)
        self.tags = TagLookup(self.sessions)

    @functools.cached_property
    def alert_publisher(self) -> AlertPublisher:
        from api.alerts.publishing import AlertPublisher  # it imports this module

        return AlertPublisher(self.live)

    @functools.cached_property
    def observation_rates(self) -> ObservationRates:
        # Imported lazily, like the lakehouse it reads.
        from api.gateways.rates import ObservationRates

        return ObservationRates(self.lakehouse)

    @functools.cached_property
    def lakehouse(self) -> Lakehouse:
        # Imported lazily: pyarrow/duckdb/polars are only needed by the analytics routes.
        from lakehouse.store import Lakehouse

        return Lakehouse.from_settings(self.settings)

    async def aclose(self) -> None:
        await self.tags.aclose()
        await self.live.aclose()
        await self.engine.dispose()
