"""Live WebSockets on the embedded backends: snapshot on connect, live fixes and alerts, auth, unknown ids,
and slow clients dropped without holding up the others."""

from __future__ import annotations

import asyncio
import datetime
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar, WebSocket
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from api.live.plugin import LivePlugin
from api.live.protocol import CLOSE_BAD_REQUEST, CLOSE_NOT_FOUND, CLOSE_TOO_SLOW, CLOSE_UNAUTHORIZED
from api.live.sockets import LiveServices, _relay
from core.db.engine import make_engine, session_factory, upgrade_database
from core.db.models import Alert, Asset, CurrentLocation, Site
from core.live import LiveKeys, MemoryHub
from core.settings import Settings, load_settings

pytestmark = pytest.mark.unit

GOOD_KEY = "good-key"
T0 = datetime.datetime(2025, 3, 1, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.db"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture
def settings(migrated_template: Path, tmp_path: Path) -> Settings:
    path = tmp_path / "live.db"
    shutil.copy(migrated_template, path)
    # A prefix of its own keeps this test's keys and channels apart on the process-wide MemoryHub.
    return load_settings(database_url=f"sqlite:///{path}", redis_prefix=f"{uuid.uuid4().hex[:8]}:")


class Seed(msgspec.Struct):
    site_id: uuid.UUID
    other_site_id: uuid.UUID
    asset_id: uuid.UUID
    other_asset_id: uuid.UUID


@pytest.fixture
def seed(settings: Settings) -> Seed:
    engine = make_engine(settings.database_url)
    with session_factory(engine)() as session:
        site, other_site = (
            Site(name="Plant", origin_lat=52.0, origin_lon=13.0),
            Site(name="Depot", origin_lat=1, origin_lon=1),
        )
        session.add_all([site, other_site])
        session.flush()
        pump = Asset(name="Pump", tag_id="AA01", site_id=site.id)
        cart = Asset(name="Cart", tag_id="AA02", site_id=site.id)
        session.add_all([pump, cart])
        session.flush()
        session.add(
            CurrentLocation(
                tag_id="AA02",
                asset_id=cart.id,
                site_id=site.id,
                ts=T0,
                x=3.0,
                y=4.0,
                floor=0,
                accuracy_m=2.0,
                confidence=0.8,
                method="centroid",
                gateway_count=3,
                zone_ids=[],
            )
        )
        session.add(
            Alert(
                kind="zone_exit",
                subject_type="asset",
                subject_id=str(pump.id),
                asset_id=pump.id,
                site_id=site.id,
                severity="critical",
                message="Pump left the ward",
            )
        )
        session.add(
            Alert(
                kind="zone_exit",
                subject_type="asset",
                subject_id=str(cart.id),
                asset_id=cart.id,
                site_id=site.id,
                severity="info",
                message="old",
                status="resolved",
                resolved_at=T0,
            )
        )
        session.commit()
        result = Seed(site.id, other_site.id, pump.id, cart.id)
    engine.dispose()
    return result


async def _authenticate(socket: WebSocket) -> object | None:
    given = socket.query_params.get("api_key") or socket.headers.get("x-api-key")
    return "tester" if given == GOOD_KEY else None


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient[Litestar]]:
    app = Litestar(plugins=[LivePlugin(settings, _authenticate)])
    with TestClient(app) as test_client:
        yield test_client


def _fix(tag: str, asset_id: uuid.UUID, site_id: uuid.UUID, x: float) -> dict[str, Any]:
    return {
        "tag_id": tag,
        "asset_id": str(asset_id),
        "site_id": str(site_id),
        "ts": "2025-03-01T12:00:05Z",
        "x": x,
        "y": 1.0,
        "accuracy_m": 1.5,
        "confidence": 0.9,
        "method": "trilateration",
        "gateway_count": 4,
    }


def _publish(channel: str, body: object) -> None:
    MemoryHub.shared().publish(channel, msgspec.json.encode(body))


def test_site_socket_sends_snapshot_from_live_state_and_database_then_live_fixes(
    client: TestClient[Litestar], settings: Settings, seed: Seed
) -> None:
    keys = LiveKeys(settings.redis_prefix)
    # The pump is only in the live state (fresh fix not yet in the table); the cart only in the table.
    MemoryHub.shared().set_many(
        [(keys.current_location("AA01"), msgspec.json.encode(_fix("AA01", seed.asset_id, seed.site_id, 7.0)))]
    )
    with client.websocket_connect(f"/ws/sites/{seed.site_id}/locations?api_key={GOOD_KEY}") as ws:
        snapshot = ws.receive_json(timeout=5)
        assert snapshot["type"] == "snapshot"
        by_tag = {fix["tag_id"]: fix for fix in snapshot["locations"]}
        assert by_tag["AA01"]["x"] == 7.0
        assert (by_tag["AA02"]["x"], by_tag["AA02"]["accuracy_m"]) == (3.0, 2.0)

        # The realtime loop publishes a batch (a list) per site; another site's fixes never arrive here.
        _publish(
            keys.locations_channel(seed.other_site_id), [_fix("BB01", seed.asset_id, seed.other_site_id, 1.0)]
        )
        _publish(keys.locations_channel(seed.site_id), [_fix("AA01", seed.asset_id, seed.site_id, 8.5)])
        message = ws.receive_json(timeout=5)
        assert message["type"] == "locations"
        assert [(fix["tag_id"], fix["x"]) for fix in message["locations"]] == [("AA01", 8.5)]


def test_asset_socket_only_relays_that_assets_fixes(
    client: TestClient[Litestar], settings: Settings, seed: Seed
) -> None:
    keys = LiveKeys(settings.redis_prefix)
    with client.websocket_connect(
        f"/ws/assets/{seed.other_asset_id}/locations", headers={"X-API-Key": GOOD_KEY}
    ) as ws:
        snapshot = ws.receive_json(timeout=5)
        assert [fix["tag_id"] for fix in snapshot["locations"]] == ["AA02"]
        _publish(keys.locations_channel(seed.site_id), _fix("AA01", seed.asset_id, seed.site_id, 1.0))
        _publish(
            keys.locations_channel(seed.site_id),
            [
                _fix("AA01", seed.asset_id, seed.site_id, 2.0),
                _fix("AA02", seed.other_asset_id, seed.site_id, 9.0),
            ],
        )
        message = ws.receive_json(timeout=5)
        assert [(fix["tag_id"], fix["x"]) for fix in message["locations"]] == [("AA02", 9.0)]


def test_asset_socket_follows_the_asset_to_another_site(
    client: TestClient[Litestar], settings: Settings, seed: Seed
) -> None:
    # The asset belongs to one site; carried to another, it is heard (and published) on that site's channel.
    keys = LiveKeys(settings.redis_prefix)
    with client.websocket_connect(
        f"/ws/assets/{seed.asset_id}/locations", headers={"X-API-Key": GOOD_KEY}
    ) as ws:
        ws.receive_json(timeout=5)  # snapshot
        _publish(
            keys.locations_channel(seed.other_site_id),
            [
                _fix("AA02", seed.other_asset_id, seed.other_site_id, 4.0),
                _fix("AA01", seed.asset_id, seed.other_site_id, 6.5),
            ],
        )
        message = ws.receive_json(timeout=5)
        assert [(fix["tag_id"], fix["site_id"], fix["x"]) for fix in message["locations"]] == [
            ("AA01", str(seed.other_site_id), 6.5)
        ]


def test_alerts_socket_snapshots_open_alerts_and_relays_new_ones_from_every_site(
    client: TestClient[Litestar], settings: Settings, seed: Seed
) -> None:
    keys = LiveKeys(settings.redis_prefix)
    with client.websocket_connect(f"/ws/alerts?api_key={GOOD_KEY}") as ws:
        snapshot = ws.receive_json(timeout=5)
        assert [alert["message"] for alert in snapshot["alerts"]] == ["Pump left the ward"]
        _publish(
            keys.alerts_channel(seed.other_site_id),
            {"id": "a1", "message": "Gateway down", "severity": "warning"},
        )
        message = ws.receive_json(timeout=5)
        assert message == {
            "type": "alerts",
            "alerts": [{"id": "a1", "message": "Gateway down", "severity": "warning"}],
        }


def test_alerts_socket_for_one_site_ignores_other_sites(
    client: TestClient[Litestar], settings: Settings, seed: Seed
) -> None:
    keys = LiveKeys(settings.redis_prefix)
    with client.websocket_connect(f"/ws/alerts?site_id={seed.other_site_id}&api_key={GOOD_KEY}") as ws:
        assert ws.receive_json(timeout=5)["alerts"] == []
        _publish(keys.alerts_channel(seed.site_id), {"id": "x", "message": "elsewhere"})
        _publish(keys.alerts_channel(seed.other_site_id), {"id": "y", "message": "here"})
        assert [alert["id"] for alert in ws.receive_json(timeout=5)["alerts"]] == ["y"]


@pytest.mark.parametrize("query", ["", "?api_key=wrong"])
def test_socket_without_a_valid_key_is_closed_with_4401(
    client: TestClient[Litestar], seed: Seed, query: str
) -> None:
    with client.websocket_connect(f"/ws/sites/{seed.site_id}/locations{query}") as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json(timeout=5)
    assert closed.value.code == CLOSE_UNAUTHORIZED


def test_unknown_site_or_asset_is_closed_with_4404_naming_the_field(
    client: TestClient[Litestar], seed: Seed
) -> None:
    for path, field in [
        (f"/ws/sites/{uuid.uuid4()}/locations", "site_id"),
        (f"/ws/assets/{uuid.uuid4()}/locations", "asset_id"),
    ]:
        with client.websocket_connect(f"{path}?api_key={GOOD_KEY}") as ws:
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json(timeout=5)
        assert closed.value.code == CLOSE_NOT_FOUND
        assert field in (closed.value.detail or "")


class _FakeSocket:
    """A socket whose client reads only when told to (`stuck=True` never reads)."""

    def __init__(self, stuck: bool) -> None:
        self.stuck = stuck
        self.sent: list[str] = []
        self.closed_with: int | None = None
        self._never = asyncio.Event()

    async def send_text(self, text: str) -> None:
        if self.stuck and self.sent:  # the snapshot goes out, then the client's TCP window is full
            await self._never.wait()
        self.sent.append(text)

    async def receive(self) -> dict[str, str]:
        await self._never.wait()
        return {"type": "websocket.disconnect"}

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed_with = code


async def test_slow_client_is_dropped_with_1013_while_a_healthy_client_gets_every_message() -> None:
    from api.live.backends import MemoryHubBackend
    from api.live.channels import create_channels_plugin
    from api.live.protocol import Framer

    keys = LiveKeys(f"{uuid.uuid4().hex[:8]}:")
    hub = MemoryHub()
    plugin = create_channels_plugin(MemoryHubBackend(hub, frame=Framer(keys)), max_backlog=4)
    services = LiveServices(channels=plugin, keys=keys, authenticate=_authenticate)
    channel = keys.locations_channel("s1")

    async def snapshot() -> str:
        return '{"type":"snapshot","locations":[]}'

    async with plugin:
        slow, healthy = _FakeSocket(stuck=True), _FakeSocket(stuck=False)
        slow_task = asyncio.create_task(_relay(slow, services, channel, snapshot))  # type: ignore[arg-type]
        healthy_task = asyncio.create_task(_relay(healthy, services, channel, snapshot))  # type: ignore[arg-type]
        while len(healthy.sent) < 1 or len(slow.sent) < 1:
            await asyncio.sleep(0.01)
        for x in range(20):
            hub.publish(channel, msgspec.json.encode({"tag_id": "AA01", "x": x}))
            await asyncio.sleep(0.005)
        await asyncio.wait_for(slow_task, 5)
        assert slow.closed_with == CLOSE_TOO_SLOW
        while len(healthy.sent) < 21:
            await asyncio.sleep(0.01)
        assert [msgspec.json.decode(text)["locations"][0]["x"] for text in healthy.sent[1:]] == list(
            range(20)
        )
        assert not healthy_task.done()
        healthy_task.cancel()
        await asyncio.gather(healthy_task, return_exceptions=True)


def test_malformed_site_id_is_refused_naming_the_field(client: TestClient[Litestar], seed: Seed) -> None:
    with client.websocket_connect(f"/ws/alerts?site_id=not-a-uuid&api_key={GOOD_KEY}") as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json(timeout=5)
    assert closed.value.code == CLOSE_BAD_REQUEST
    assert closed.value.detail == "site_id: expected a UUID, got 'not-a-uuid'"
