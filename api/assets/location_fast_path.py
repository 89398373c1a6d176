"""A raw-ASGI fast path for the API's hottest read, `GET /api/v1/assets/{id}/location`, in front of Litestar.

The read itself (a cached key check, an in-memory asset -> tag map, one coalesced Redis GET, bytes passed
through) costs a few microseconds; Litestar's routing, middleware stack, connection objects, signature parsing
and response conversion cost far more per request. This path answers only the common case (a valid key, a
tagged asset with a fix in the live store) with exactly the bytes the Litestar handler would send. Everything
else (a missing, bad or revoked key, an unknown asset, a fix only in PostgreSQL, CORS, HEAD, any error) is
handed to Litestar untouched, so auth, RFC 9457 errors and the OpenAPI document come from the one registered
route (`AssetController.get_asset_location`) and cannot drift from it.
"""

from __future__ import annotations

import time
import uuid

from litestar.types import ASGIApp, Receive, Scope, Send

from api.metrics import observe
from api.resources import ApiResources
from api.security import KeyStore, scope_key

PREFIX = "/api/v1/assets/"
SUFFIX = "/location"
ROUTE_TEMPLATE = "/api/v1/assets/{id}/location"
"""The route's label in the metrics, as Litestar's router names it."""
_UUID_LENGTH = 36
_HEADERS = [(b"content-type", b"application/json")]


class CurrentLocationFastPath:
    """ASGI app: serves a live current-location hit itself, passes every other request to `app`."""

    def __init__(self, app: ASGIApp, resources: ApiResources, key_store: KeyStore) -> None:
        self.app = app
        self.resources = resources
        self.key_store = key_store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        body = await self._live_fix(scope) if scope["type"] == "http" else None
        if body is None:
            await self.app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*_HEADERS, (b"content-length", str(len(body)).encode())],
            }
        )
        observe("GET", ROUTE_TEMPLATE, 200, time.perf_counter() - started)
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _live_fix(self, scope: Scope) -> bytes | None:
        """The fix's JSON if this request is a plain, authorised hit; None to let Litestar answer it."""
        path: str = scope["path"]
        if (
            scope["method"] != "GET"
            or len(path) != len(PREFIX) + _UUID_LENGTH + len(SUFFIX)
            or not path.startswith(PREFIX)
            or not path.endswith(SUFFIX)
        ):
            return None
        for name, _ in scope["headers"]:
            if name == b"origin":  # CORS headers are Litestar's business
                return None
        try:
            asset_id = uuid.UUID(path[len(PREFIX) : -len(SUFFIX)])
            key = scope_key(scope)
            if not key:
                return None
            await self.key_store.verify(key)
            tag_id = await self.resources.tags.tag_of(asset_id)
            if tag_id is None:
                return None
            live = self.resources.live
            return await live.get(live.keys.current_location(tag_id))
        except Exception:  # noqa: BLE001 - Litestar answers it again, with its error handling
            return None
