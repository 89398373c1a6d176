"""`assettag demo`: the whole platform in one process, no services — the README's "run it" command.

Embedded backends (SQLite under ASSET_TAG_DATA_DIR, the in-process stream and live-state hub), a seeded demo
site, the simulator producing observations in a thread, the realtime loop turning them into fixes in another,
and the API with the live map served by uvicorn. Prints the URLs and a demo API key.

This is the one composition root that wires the realtime path and the API together: `api` must not depend on
`realtime` anywhere else (DESIGN.md's import table), so `realtime` is imported lazily inside the functions here.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from core.errors import CommandError
from core.settings import Settings, get_settings, load_settings

log = logging.getLogger("api.demo")

DEMO_SITE_NAME = "Demo site"
DEMO_KEY_NAME = "demo"
TICK_S = 0.1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port", type=int, default=None, help="HTTP port (default: ASSET_TAG_API_PORT, 8000)"
    )
    parser.add_argument("--host", default=None, help="bind address (default: ASSET_TAG_API_HOST, 127.0.0.1)")
    parser.add_argument("--assets", type=int, default=40, help="simulated tagged assets (default: 40)")
    parser.add_argument(
        "--beacon-s", type=float, default=1.0, help="each tag beacons this often (default: 1 s)"
    )
    parser.add_argument(
        "--duration-s",
        type=float,
        default=0.0,
        help="stop after this many seconds (default: 0 = until Ctrl-C)",
    )


def demo_settings(base: Settings) -> Settings:
    """The embedded backends, whatever service URLs the shell has exported: the demo needs no services."""
    return load_settings(
        data_dir=base.data_dir,
        database_url=f"sqlite:///{base.data_dir / 'asset-tag.db'}",
        redis_url="memory://",
        stream_url="memory://",
        api_host=base.api_host,
        api_port=base.api_port,
    )


def _check(args: argparse.Namespace, settings: Settings) -> tuple[str, int]:
    host = args.host or settings.api_host
    port = settings.api_port if args.port is None else args.port
    if not 1 <= port <= 65535:
        raise CommandError(f"--port: must be 1-65535, got {port}")
    if not 1 <= args.assets <= 5000:
        raise CommandError(f"--assets: must be 1-5000 for the demo, got {args.assets}")
    if not 0.1 <= args.beacon_s <= 60:
        raise CommandError(f"--beacon-s: must be 0.1-60 seconds, got {args.beacon_s}")
    if args.duration_s < 0:
        raise CommandError(f"--duration-s: must be 0 (run until Ctrl-C) or positive, got {args.duration_s}")
    try:  # fail before seeding anything if the port is taken (uvicorn would only log and exit)
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise CommandError(f"--port: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return host, port


def create_demo_key(settings: Settings) -> str:
    """An admin key for the demo, issued the way `assettag keys create` does (only its hash is stored)."""
    from api.keys.services import issue_key
    from core.db.engine import async_session_factory, make_async_engine
    from core.db.enums import ApiKeyRole

    async def issue() -> str:
        engine = make_async_engine(settings.database_url)
        try:
            async with async_session_factory(engine)() as session:
                _key, secret = await issue_key(session, DEMO_KEY_NAME, ApiKeyRole.ADMIN)
                await session.commit()
                return secret
        finally:
            await engine.dispose()

    return asyncio.run(issue())


@dataclass
class DemoSite:
    site_id: Any
    simulated: Any  # realtime.simulation.SimulatedSite


def seed_demo_site(settings: Settings, assets: int) -> DemoSite:
    from core.db.engine import make_engine

    # Lazy: the demo is the composition root allowed to use realtime (see the module docstring).
    from realtime.simulation import build_site, seed_database

    simulated = build_site(assets, name=DEMO_SITE_NAME)
    engine = make_engine(settings.database_url)
    try:
        site_id = seed_database(engine, simulated)
        seed_demo_rules(engine, site_id)
    finally:
        engine.dispose()
    return DemoSite(site_id, simulated)


def seed_demo_rules(engine: Any, site_id: Any) -> None:
    """Make alerts happen within a minute or two: the first zone becomes restricted (assets walk through it),
    and rules for restricted zones, missing assets (the simulator carries some off site) and low batteries.
    Only on the first run: a site that already has rules is left as its owner changed it."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from core.db.models import AlertRule, Geofence

    with Session(engine) as session:
        if session.scalars(select(AlertRule.id).where(AlertRule.site_id == site_id)).first() is not None:
            return
        first_zone = session.scalars(
            select(Geofence).where(Geofence.site_id == site_id).order_by(Geofence.name)
        ).first()
        if first_zone is not None:
            first_zone.kind = "restricted"
            first_zone.name = f"{first_zone.name} (restricted)"
        session.add_all(
            [
                AlertRule(
                    name="Restricted zone entered",
                    kind="restricted_zone",
                    site_id=site_id,
                    severity="critical",
                ),
                AlertRule(
                    name="Asset not heard for a minute",
                    kind="asset_missing",
                    site_id=site_id,
                    severity="warning",
                    params={"missing_after_s": 60.0},
                ),
                AlertRule(
                    name="Battery low",
                    kind="battery_low",
                    site_id=site_id,
                    severity="info",
                    params={"threshold_pct": 25.0},
                ),
            ]
        )
        session.commit()


def produce_observations(settings: Settings, site: DemoSite, beacon_s: float, stop: threading.Event) -> None:
    """The simulator's beacons, paced in real time and spread evenly over each beacon period."""
    import numpy as np

    from realtime.simulation import SiteSimulator, encode_observation
    from realtime.stream import OBSERVATIONS, ensure_topics, open_producer

    ensure_topics(settings)
    producer = open_producer(settings)
    topic = settings.topic(OBSERVATIONS)
    start = time.time()
    simulator = SiteSimulator(site.simulated, start_s=start, beacon_s=beacon_s)
    buckets = max(1, int(round(beacon_s / TICK_S)))
    bucket_of = np.arange(len(site.simulated.tag_ids)) % buckets
    tick = 0
    try:
        while not stop.is_set():
            t = start + tick * TICK_S
            if stop.wait(max(0.0, t - time.time())):
                break
            for observation in simulator.observations_at(t, np.flatnonzero(bucket_of == tick % buckets)):
                producer.produce(topic, encode_observation(observation), observation.tag_id.encode())
            producer.flush(5.0)
            tick += 1
    finally:
        producer.flush(5.0)


def run_realtime(settings: Settings, stop: threading.Event) -> None:
    from realtime.pipeline import RealtimePipeline

    RealtimePipeline(settings, stages=realtime_stages(settings)).run(stop)


def realtime_stages(settings: Settings) -> list[Any]:
    """The stages `assettag consume` runs: geofence membership, zone events, alert rules and notifications."""
    from realtime.zones_stage import build_stages

    return list(build_stages(settings))


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _say(line: str) -> None:
    """The command's own output (URLs, key) goes to stdout, flushed so a supervising process sees it at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _thread(name: str, target: Any, *args: Any, failures: list[str]) -> threading.Thread:
    def body() -> None:
        try:
            target(*args)
        except Exception as exc:  # noqa: BLE001 - reported and ends the demo instead of dying silently
            log.exception("%s stopped", name)
            failures.append(f"{name}: {exc}")

    thread = threading.Thread(target=body, name=f"demo-{name}", daemon=True)
    thread.start()
    return thread


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from core.db.engine import upgrade_database

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = demo_settings(get_settings())
    host, port = _check(args, settings)
    upgrade_database(settings.database_url)
    site = seed_demo_site(settings, args.assets)
    key = create_demo_key(settings)

    stop = threading.Event()
    failures: list[str] = []
    workers = [
        _thread("realtime", run_realtime, settings, stop, failures=failures),
        _thread("simulator", produce_observations, settings, site, args.beacon_s, stop, failures=failures),
    ]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host=host,
            port=port,
            log_level="warning",
            lifespan="on",
            # Live map frames are small and fanned out to every client: compressing each one per socket costs
            # more CPU than it saves bandwidth on a LAN.
            ws_per_message_deflate=False,
        )
    )

    base = f"http://{host}:{port}"
    _say(
        f"asset-tag demo: site '{DEMO_SITE_NAME}' ({site.site_id}), {args.assets} assets, data in {settings.data_dir}"
    )
    _say("starting the API…")

    def announce() -> None:
        _say(f"  live map   {base}/map?api_key={key}")
        _say(f"  API docs   {base}/docs")
        _say(f"  health     {base}/health")
        _say(f"  API key    {key}   (admin; send as X-API-Key)")
        _say("Ctrl-C to stop." if not args.duration_s else f"Stopping after {args.duration_s:g} s.")

    def watch() -> None:
        deadline = time.monotonic() + args.duration_s if args.duration_s else None
        announced = False
        while not stop.wait(0.2):
            if server.started and not announced:
                announce()
                announced = True
            if failures or (deadline is not None and time.monotonic() >= deadline):
                server.should_exit = True
                return

    watcher = threading.Thread(target=watch, name="demo-watch", daemon=True)
    watcher.start()
    # Ctrl-C (or SIGTERM) is how the demo is meant to end: uvicorn shuts down gracefully, then re-raises the
    # signal; it ends here as a clean exit once the realtime loop and the simulator have stopped too.
    previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=10)
        signal.signal(signal.SIGTERM, previous_sigterm)
    _say("demo stopped.")
    if failures:
        raise CommandError("; ".join(failures))
    return 0
