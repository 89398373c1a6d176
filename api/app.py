"""The API's app factory: `create_app()` for uvicorn (`assettag api`), tests and `assettag demo`.

uvicorn --factory api.app:create_app
"""

from __future__ import annotations

from litestar import Litestar

from api.plugin import ApiInitPlugin
from api.resources import ApiResources
from core.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> Litestar:
    """A Litestar app over the given settings (default: the environment's)."""
    resources = ApiResources(settings or get_settings())
    return Litestar(plugins=[ApiInitPlugin(resources)])
