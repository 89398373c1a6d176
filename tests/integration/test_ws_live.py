"""Live WebSockets on the real Redis and PostgreSQL: a socket receives the fixes the realtime loop publishes, the
all-sites alert socket receives alerts through a Redis pattern subscription, and a bad key is refused with a
close code a browser can read."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator

import pytest
import websockets

from core.settings import Settings
from tests.e2e.harness import LivePlatform, running_platform
from tests.integration.conftest import service_settings

pytestmark = pytest.mark.integration

TAG = "AC0000000007"


@pytest.fixture(scope="module")
def platform(services: dict[str, str], postgres_url: str, run_id: str) -> Iterator[LivePlatform]:
    # Real PostgreSQL and Redis; the in-process stream stands in for Kafka, which these sockets never touch.
    settings: Settings = service_settings(
        services,
        database_url=postgres_url,
        redis_prefix=f"{run_id}:",
        stream_url="memory://",
        topic_prefix=f"{run_id}.",
        consumer_group=f"{run_id}-ws",
    )
    with running_platform(settings) as running:
        yield running


def _ws_url(platform: LivePlatform, path: str, key: str | None = None) -> str:
    return f"{platform.base_url.replace('http', 'ws', 1)}{path}?api_key={key or platform.api_key}"


async def _until(socket: websockets.ClientConnection, wanted, timeout_s: float = 30.0) -> dict:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout_s):
        while True:
            message = json.loads(await socket.recv())
            if wanted(message):
                return message


def _near(fix: dict, x: float, y: float) -> bool:
    return fix["tag_id"] == TAG and math.hypot(fix["x"] - x, fix["y"] - y) < 4


async def test_site_socket_gets_the_snapshot_then_fixes_published_by_the_realtime_loop(
    platform: LivePlatform,
) -> None:
    platform.place(TAG, 8.0, 7.0)
    async with websockets.connect(_ws_url(platform, f"/ws/sites/{platform.site_id}/locations")) as socket:
        await _until(socket, lambda m: any(_near(f, 8.0, 7.0) for f in m["locations"]))
    # A new connection starts from the snapshot (Redis current location), not from nothing.
    async with websockets.connect(_ws_url(platform, f"/ws/sites/{platform.site_id}/locations")) as socket:
        snapshot = json.loads(await socket.recv())
        assert snapshot["type"] == "snapshot"
        assert TAG in [fix["tag_id"] for fix in snapshot["locations"]]
        assert {f["tag_id"]: f["asset_id"] for f in snapshot["locations"]}[TAG] == str(platform.assets[TAG])

        platform.place(TAG, 33.0, 23.0)
        moved = await _until(
            socket, lambda m: m["type"] == "locations" and any(_near(f, 33.0, 23.0) for f in m["locations"])
        )
        fix = next(f for f in moved["locations"] if f["tag_id"] == TAG)
        assert fix["site_id"] == str(platform.site_id) and fix["accuracy_m"] > 0 and fix["method"]


async def test_alert_socket_for_all_sites_receives_alerts_through_a_redis_pattern(
    platform: LivePlatform,
) -> None:
    other = "AC0000000008"  # a tag of its own: the other test may have walked TAG into the pharmacy already
    async with websockets.connect(_ws_url(platform, "/ws/alerts")) as socket:
        assert json.loads(await socket.recv())["type"] == "snapshot"
        platform.place(other, 33.0, 23.0)  # into the restricted pharmacy: the alert stage opens an alert
        asset_id = str(platform.assets[other])

        def opened_for_other(event: dict) -> bool:
            return event.get("type") == "alert" and event["alert"]["asset_id"] == asset_id

        message = await _until(
            socket, lambda m: m["type"] == "alerts" and any(map(opened_for_other, m["alerts"]))
        )
        event = next(e for e in message["alerts"] if opened_for_other(e))
        assert event["action"] == "opened" and event["alert"]["status"] == "open"
        assert "Pharmacy" in event["alert"]["message"]
    async with websockets.connect(_ws_url(platform, "/ws/alerts")) as socket:
        snapshot = json.loads(await socket.recv())
        assert event["alert"]["id"] in [alert["id"] for alert in snapshot["alerts"]]


async def test_socket_with_a_revoked_or_unknown_key_is_closed_with_4401(platform: LivePlatform) -> None:
    bogus = "atk_AAAAAAAA_" + "B" * 32
    async with websockets.connect(_ws_url(platform, "/ws/alerts", key=bogus)) as socket:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
