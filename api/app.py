"""The API's app factory: `create_app()` for uvicorn (`assettag api`), tests and `assettag demo`.

uvicorn --factory api.app:create_app
"""

from __future__ import annotations

from litestar import Litestar

from api.assets.location_fast_path import CurrentLocationFastPath
from api.live.auth import authenticate_socket
from api.live.plugin import LivePlugin
from api.map.routes import MAP_ROUTES
from api.plugin import ApiInitPlugin
from api.resources import ApiResources
from core.settings import Settings, get_settings


def create_app(settings: Settings | None = None, *, fast_path: bool = True) -> Litestar:
    """A Litestar app over the given settings (default: the environment's).

    `fast_path`: answer live current-location reads before Litestar's router (`api.assets.location_fast_path`);
    off only to compare the two in tests."""
    resources = ApiResources(settings or get_settings())
    # Live sockets share the app's database sessions and live-state reader, and accept the same API keys.
    live = LivePlugin(
        resources.settings, authenticate_socket, sessions=resources.sessions, state=resources.live
    )
    app = Litestar(route_handlers=MAP_ROUTES, plugins=[ApiInitPlugin(resources), live])
    if fast_path:
        app.asgi_handler = CurrentLocationFastPath(app.asgi_handler, resources, app.state.key_store)
    return app
