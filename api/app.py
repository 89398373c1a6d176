"""The API's app factory: `create_app()` for uvicorn (`assettag api`), tests and `assettag demo`.

uvicorn --factory api.app:create_app
"""

from __future__ import annotations

from litestar import Litestar

from api.live.auth import authenticate_socket
from api.live.plugin import LivePlugin
from api.map.routes import MAP_ROUTES
from api.plugin import ApiInitPlugin
from api.resources import ApiResources
from core.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> Litestar:
    """A Litestar app over the given settings (default: the environment's)."""
    resources = ApiResources(settings or get_settings())
    # Live sockets share the app's database sessions and live-state reader, and accept the same API keys.
    live = LivePlugin(
        resources.settings, authenticate_socket, sessions=resources.sessions, state=resources.live
    )
    return Litestar(route_handlers=MAP_ROUTES, plugins=[ApiInitPlugin(resources), live])
