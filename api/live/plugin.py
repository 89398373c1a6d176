"""`LivePlugin`: one plugin the app factory registers to get the live WebSockets.

It owns the Litestar `ChannelsPlugin` (backend chosen by `ASSET_TAG_REDIS_URL`), the live-state reader and a small
database pool for snapshots, and registers the socket routes. Authentication is handed in by the app factory, so
sockets accept exactly the API keys REST accepts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.plugins import InitPlugin
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.live.channels import DEFAULT_MAX_BACKLOG, create_channels_backend, create_channels_plugin
from api.live.snapshot import LiveSnapshots
from api.live.sockets import LIVE_SOCKETS, Authenticator, LiveServices
from api.resources import LiveReader, is_memory_url
from core.db.engine import async_session_factory, make_async_engine
from core.live import LiveKeys
from core.settings import Settings

# Snapshots are short reads; a few connections are plenty and leave the REST pool alone.
SNAPSHOT_POOL_SIZE = 4


class LivePlugin(InitPlugin):
    def __init__(
        self,
        settings: Settings,
        authenticate: Authenticator,
        *,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        state: LiveReader | None = None,
        max_backlog: int = DEFAULT_MAX_BACKLOG,
    ) -> None:
        """`sessions`/`state`: the app's own database sessions and live-state reader, shared rather than
        duplicated (the app closes them); without them the plugin opens and closes its own."""
        self.settings = settings
        self._shared_sessions = sessions
        self._shared_state = state
        self.keys = LiveKeys(settings.redis_prefix)
        self._redis: Any = None
        if not is_memory_url(settings.redis_url):
            from redis.asyncio import Redis

            self._redis = Redis.from_url(settings.redis_url)
        backend = create_channels_backend(settings.redis_url, self.keys, redis=self._redis)
        self.channels = create_channels_plugin(backend, max_backlog=max_backlog)
        self.services = LiveServices(channels=self.channels, keys=self.keys, authenticate=authenticate)

    @asynccontextmanager
    async def _lifespan(self, _app: Litestar) -> AsyncIterator[None]:
        engine = own_state = None
        sessions, state = self._shared_sessions, self._shared_state
        if sessions is None:
            options: dict[str, Any] = {}
            if self.settings.uses_postgres:
                options = {"pool_size": SNAPSHOT_POOL_SIZE, "max_overflow": SNAPSHOT_POOL_SIZE}
            engine = make_async_engine(self.settings.database_url, **options)
            sessions = async_session_factory(engine)
        if state is None:
            state = own_state = LiveReader(self.settings)
        self.services.snapshots = LiveSnapshots(sessions, state, self.keys)
        try:
            yield
        finally:
            self.services.snapshots = None
            if engine is not None:
                await engine.dispose()
            if own_state is not None:
                await own_state.aclose()
            if self._redis is not None:
                await self._redis.aclose()

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        # Registered before the channels plugin so it wraps it: the Redis client outlives the pub/sub connection.
        app_config.lifespan.append(self._lifespan)
        app_config = self.channels.on_app_init(app_config)
        app_config.state["live"] = self.services
        app_config.route_handlers.extend(LIVE_SOCKETS)
        return app_config
