"""WebSockets accept the same API keys as REST (any role may watch: viewers read).

The API's authentication middleware normally has already put the caller's `Principal` in the scope; when a
socket path is left out of the middleware (so the refusal can be a close code the browser can read, rather than a
failed handshake), the key from `X-API-Key`, `Authorization: Bearer` or `?api_key=` is verified here instead.
"""

from __future__ import annotations

from litestar import WebSocket
from litestar.exceptions import NotAuthorizedException


async def authenticate_socket(socket: WebSocket) -> object | None:
    from api.security import presented_key  # the app's own key handling, not a second copy of it

    user = socket.scope.get("user")
    if user is not None:
        return user
    key = presented_key(socket)
    key_store = socket.app.state.get("key_store")
    if not key or key_store is None:
        return None
    try:
        return await key_store.verify(key)
    except NotAuthorizedException:
        return None
