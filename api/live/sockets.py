"""The live WebSocket routes: subscribe first, then send the snapshot, then relay the channel until the client
leaves or falls too far behind.

Subscribing before the snapshot means nothing published in between is lost; a fix may then arrive that is older
than the snapshot's, which clients handle by keeping the newest `ts` per tag (the map page does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import WebSocket, websocket
from litestar.channels import ChannelsPlugin

from api.live.channels import BoundedSubscriber
from api.live.protocol import (
    CLOSE_BAD_REQUEST,
    CLOSE_NOT_FOUND,
    CLOSE_TOO_SLOW,
    CLOSE_UNAUTHORIZED,
    locations_frame,
    snapshot_frame,
)
from api.live.snapshot import LiveSnapshots
from core.live import LiveKeys

logger = logging.getLogger(__name__)

# Returns who is calling (anything truthy) or None when the key is missing, unknown, expired or revoked.
Authenticator = Callable[[WebSocket], Awaitable[object | None]]
EventFilter = Callable[[bytes], str | None]

CLOSE_TIMEOUT_S = 2.0
# The sockets authenticate themselves (see `_accept`) instead of via the HTTP middleware, whose refusal would be a
# failed handshake that browsers report without a reason.
SELF_AUTHENTICATED = {"exclude_from_auth": True}


@dataclass
class LiveServices:
    """What the socket handlers need, kept in `app.state.live` by `api.live.plugin.LivePlugin`."""

    channels: ChannelsPlugin
    keys: LiveKeys
    authenticate: Authenticator
    snapshots: LiveSnapshots | None = None  # set at startup, when the database engine exists


def _services(socket: WebSocket) -> LiveServices:
    return socket.app.state.live  # type: ignore[no-any-return]


async def _close(socket: WebSocket, code: int, reason: str) -> None:
    # A client that stopped reading may never take the close frame either; do not hang on it.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(socket.close(code=code, reason=reason), CLOSE_TIMEOUT_S)


async def _accept(socket: WebSocket) -> LiveServices | None:
    """Accept, then authenticate: closing with a code after accepting lets browsers see why (a refused
    handshake only shows as a generic error)."""
    services = _services(socket)
    await socket.accept()
    if await services.authenticate(socket) is None:
        await _close(socket, CLOSE_UNAUTHORIZED, "missing or invalid API key (X-API-Key header or ?api_key=)")
        return None
    return services


async def _wait_disconnect(socket: WebSocket) -> None:
    while (await socket.receive())["type"] != "websocket.disconnect":
        continue  # clients have nothing to say; anything they send is ignored


async def _send_events(socket: WebSocket, subscriber: BoundedSubscriber, keep: EventFilter | None) -> None:
    async for event in subscriber.iter_events():
        text = event.decode() if keep is None else keep(event)
        if text is not None:
            await socket.send_text(text)


async def _relay(
    socket: WebSocket,
    services: LiveServices,
    channel: str,
    snapshot: Callable[[], Awaitable[str]],
    keep: EventFilter | None = None,
) -> None:
    async with services.channels.start_subscription(channel) as subscriber:
        assert isinstance(subscriber, BoundedSubscriber)
        await socket.send_text(await snapshot())
        tasks = {
            asyncio.create_task(_send_events(socket, subscriber, keep), name="send"),
            asyncio.create_task(_wait_disconnect(socket), name="receive"),
            asyncio.create_task(subscriber.overflowed.wait(), name="overflow"),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if subscriber.overflowed.is_set():
            logger.info("dropping slow live client on %s (%d messages behind)", channel, subscriber.qsize)
            await _close(socket, CLOSE_TOO_SLOW, "client too slow: fell behind the live stream; reconnect")
            return
        for task in done:
            if task.get_name() == "send" and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]


def _keep_asset(asset_id: uuid.UUID, tag_id: str | None) -> EventFilter:
    wanted_asset, wanted_tag = str(asset_id), tag_id
    needles = [wanted_asset.encode()] + ([f'"{tag_id}"'.encode()] if tag_id else [])

    def keep(event: bytes) -> str | None:
        # The socket hears every site's fixes: a substring test skips the many messages without this asset
        # for a fraction of the cost of decoding them.
        if not any(needle in event for needle in needles):
            return None
        try:
            body: dict[str, Any] = msgspec.json.decode(event)
        except msgspec.DecodeError:
            return None
        mine = [
            fix
            for fix in body.get("locations") or []
            if isinstance(fix, dict)
            and (
                str(fix.get("asset_id")) == wanted_asset
                or (wanted_tag is not None and fix.get("tag_id") == wanted_tag)
            )
        ]
        return locations_frame(mine) if mine else None

    return keep


@websocket("/ws/sites/{site_id:uuid}/locations", name="live-site-locations", opt=SELF_AUTHENTICATED)
async def site_locations_socket(socket: WebSocket, site_id: uuid.UUID) -> None:
    """Fixes of every tag on a site: a snapshot of current locations, then each fix as it is published."""
    services = await _accept(socket)
    if services is None:
        return
    snapshots = services.snapshots
    assert snapshots is not None
    if not await snapshots.site_exists(site_id):
        await _close(socket, CLOSE_NOT_FOUND, f"site_id: no site {site_id}")
        return

    async def snapshot() -> str:
        return snapshot_frame(locations=await snapshots.site_locations(site_id))

    await _relay(socket, services, services.keys.locations_channel(site_id), snapshot)


@websocket("/ws/assets/{asset_id:uuid}/locations", name="live-asset-locations", opt=SELF_AUTHENTICATED)
async def asset_locations_socket(socket: WebSocket, asset_id: uuid.UUID) -> None:
    """Fixes of one asset: its current location, then each new fix."""
    services = await _accept(socket)
    if services is None:
        return
    snapshots = services.snapshots
    assert snapshots is not None
    asset = await snapshots.asset(asset_id)
    if asset is None:
        await _close(socket, CLOSE_NOT_FOUND, f"asset_id: no asset {asset_id}")
        return
    # A fix is published on the channel of the site whose gateways heard it, and assets travel: a pump lent to
    # another building is still this asset. Listen to every site and keep this asset's fixes.
    channel = services.keys.locations_channel("*")

    async def snapshot() -> str:
        return snapshot_frame(locations=await snapshots.asset_locations(asset))

    await _relay(socket, services, channel, snapshot, keep=_keep_asset(asset.id, asset.tag_id))


@websocket("/ws/alerts", name="live-alerts", opt=SELF_AUTHENTICATED)
async def alerts_socket(socket: WebSocket, site_id: str | None = None) -> None:
    """Alerts as they open, change and resolve — of every site, or of one with `?site_id=`; the snapshot holds
    the alerts still open."""
    # site_id is parsed here rather than by Litestar so a bad value is a close with a reason naming the field.
    services = await _accept(socket)
    if services is None:
        return
    snapshots = services.snapshots
    assert snapshots is not None
    site: uuid.UUID | None = None
    if site_id is not None:
        try:
            site = uuid.UUID(site_id)
        except ValueError:
            await _close(socket, CLOSE_BAD_REQUEST, f"site_id: expected a UUID, got {site_id[:80]!r}")
            return
        if not await snapshots.site_exists(site):
            await _close(socket, CLOSE_NOT_FOUND, f"site_id: no site {site}")
            return
    channel = services.keys.all_alerts_pattern() if site is None else services.keys.alerts_channel(site)

    async def snapshot() -> str:
        return snapshot_frame(alerts=await snapshots.open_alerts(site))

    await _relay(socket, services, channel, snapshot)


LIVE_SOCKETS = [site_locations_socket, asset_locations_socket, alerts_socket]
