"""Test harness: a whole platform in the test process — the API (uvicorn: real HTTP and WebSockets on a free
port) and the realtime loop fed with observations the test makes up, so a test decides where a tag is.

On the embedded backends (browser tests) or the real services (integration tests). What is process-wide
(MemoryHub, the memory stream broker, Redis) is kept apart per test by a key prefix and a topic prefix.
"""

from __future__ import annotations

import asyncio
import math
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pytest

from core.db.engine import async_session_factory, make_async_engine, make_engine, upgrade_database
from core.db.models import AlertRule, Asset, Gateway, Geofence, Site
from core.live import LiveKeys
from core.settings import Settings, load_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SITE_W, SITE_H = 40.0, 30.0
GATEWAYS = {
    "GWA": (0.0, 0.0),
    "GWB": (40.0, 0.0),
    "GWC": (40.0, 30.0),
    "GWD": (0.0, 30.0),
    "GWE": (20.0, 15.0),
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LivePlatform:
    settings: Settings
    base_url: str
    api_key: str
    site_id: uuid.UUID
    assets: dict[str, uuid.UUID]  # tag_id -> asset id
    _positions: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def keys(self) -> LiveKeys:
        return LiveKeys(self.settings.redis_prefix)

    def place(self, tag_id: str, x: float, y: float) -> None:
        """From now on the tag beacons from (x, y): the gateways hear it there (noise-free path loss)."""
        with self._lock:
            self._positions[tag_id] = (x, y)

    def _beacon_forever(self, stop: threading.Event, every_s: float = 0.25) -> None:
        """Every tag placed so far beacons every `every_s`, in real time, like a tag on a ward would; the
        realtime loop windows by event time, so observations must keep coming for fixes to keep coming."""
        from realtime.stream import OBSERVATIONS, open_producer

        producer = open_producer(self.settings)
        a, n = self.settings.ref_rssi_1m_dbm, self.settings.path_loss_exponent
        topic = self.settings.topic(OBSERVATIONS)
        while not stop.wait(every_s):
            with self._lock:
                positions = dict(self._positions)
            ts_ms = int(time.time() * 1000)
            for tag_id, (x, y) in positions.items():
                for gateway_id, (gx, gy) in GATEWAYS.items():
                    rssi = round(a - 10 * n * math.log10(max(0.5, math.hypot(x - gx, y - gy))))
                    body = {"tag_id": tag_id, "gateway_id": gateway_id, "rssi": rssi, "ts": ts_ms}
                    producer.produce(topic, msgspec.json.encode(body), tag_id.encode())
            producer.flush(5.0)


def _seed(settings: Settings) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
    from sqlalchemy.orm import Session

    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        site = Site(name="E2E ward", origin_lat=52.52, origin_lon=13.405, width_m=SITE_W, height_m=SITE_H)
        session.add(site)
        session.flush()
        session.add_all(
            Gateway(gateway_id=g, site_id=site.id, name=g, x=x, y=y) for g, (x, y) in GATEWAYS.items()
        )
        pharmacy = Geofence(
            site_id=site.id,
            name="Pharmacy",
            kind="restricted",
            shape="polygon",
            enter_dwell_s=1.0,
            geometry={"type": "Polygon", "coordinates": [[[28, 18], [38, 18], [38, 28], [28, 28], [28, 18]]]},
        )
        session.add(pharmacy)
        session.flush()
        session.add(
            AlertRule(
                name="Nothing leaves with the pharmacy's stock",
                kind="restricted_zone",
                site_id=site.id,
                geofence_id=pharmacy.id,
                severity="critical",
            )
        )
        assets = [
            Asset(name="Infusion pump 7", tag_id="AC0000000007", site_id=site.id),
            Asset(name="Infusion pump 8", tag_id="AC0000000008", site_id=site.id),
        ]
        session.add_all(assets)
        session.commit()
        result = site.id, {asset.tag_id: asset.id for asset in assets if asset.tag_id}
    engine.dispose()
    return result


def _issue_key(settings: Settings) -> str:
    from api.keys.services import issue_key
    from core.db.enums import ApiKeyRole

    async def issue() -> str:
        engine = make_async_engine(settings.database_url)
        async with async_session_factory(engine)() as session:
            _, secret = await issue_key(session, "e2e", ApiKeyRole.VIEWER)
            await session.commit()
        await engine.dispose()
        return secret

    return asyncio.run(issue())


@contextmanager
def running_platform(settings: Settings) -> Iterator[LivePlatform]:
    """Migrate and seed `settings.database_url`, then run the realtime loop, the API (uvicorn) and the tag
    beacons in threads until the block ends. Works on the embedded backends and on the real services alike."""
    import uvicorn

    from api.app import create_app
    from realtime.pipeline import PipelineOptions, RealtimePipeline
    from realtime.stream import ensure_topics
    from realtime.zones_stage import ZonesStage

    upgrade_database(settings.database_url)
    site_id, assets = _seed(settings)
    api_key = _issue_key(settings)
    ensure_topics(settings)

    stop = threading.Event()
    # The geofence + alert stage as `assettag consume` runs it (minus its notification workers, not needed here).
    pipeline = RealtimePipeline(
        settings, [ZonesStage(settings)], options=PipelineOptions(current_write_s=0.5)
    )
    crashes: list[BaseException] = []

    def run_realtime() -> None:
        try:
            pipeline.run(stop)
        except BaseException as exc:  # surfaced at the end: a dead loop otherwise only looks like a timeout
            crashes.append(exc)
            raise

    realtime = threading.Thread(target=run_realtime, name="e2e-realtime", daemon=True)
    realtime.start()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    serving = threading.Thread(target=server.run, name="e2e-api", daemon=True)
    serving.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not serving.is_alive():
            stop.set()
            pytest.fail("the API did not start within 60 s")
        time.sleep(0.05)
    platform = LivePlatform(settings, f"http://127.0.0.1:{port}", api_key, site_id, assets)
    beacons = threading.Thread(target=platform._beacon_forever, args=(stop,), name="e2e-beacons", daemon=True)
    beacons.start()
    try:
        yield platform
    finally:
        server.should_exit = True
        stop.set()
        serving.join(timeout=10)
        realtime.join(timeout=10)
        beacons.join(timeout=10)
    assert not crashes, f"the realtime loop crashed: {crashes[0]!r}"


def embedded_settings_for(tmp_path: Path) -> Settings:
    """Embedded backends, with a key prefix and topic prefix of their own on the process-wide hub and broker."""
    run = uuid.uuid4().hex[:8]
    return load_settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'e2e.db'}",
        redis_url="memory://",
        stream_url="memory://",
        redis_prefix=f"{run}:",
        topic_prefix=f"{run}.",
        consumer_group=f"e2e-{run}",
    )


@pytest.fixture
def live_platform(tmp_path: Path) -> Iterator[LivePlatform]:
    with running_platform(embedded_settings_for(tmp_path)) as platform:
        yield platform
