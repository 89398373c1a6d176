"""A simulated site through the whole realtime loop with the geofence/alert stage, on the real services: parked
assets are found in the zone they are parked in (one enter, no exit), every enter becomes exactly one
open alert per (asset, zone) counting its repeats, and a replay from scratch after losing all live state adds
nothing."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import numpy as np
import pytest
import redis
from sqlalchemy import Engine, insert, select

from core.db.models import Alert, AlertRule, Geofence, ZoneEvent
from core.settings import Settings
from realtime.pipeline import RealtimePipeline
from realtime.simulation import SiteSimulator
from realtime.stream import OBSERVATIONS
from realtime.zones_stage import ZonesStage
from tests.integration.test_realtime_support import committed_offsets, end_offsets, prepare, produce, wait_for

pytestmark = pytest.mark.integration

SECONDS = 60


def _run(settings: Settings) -> None:
    """Run the realtime loop with the zones stage until it has committed every observation."""
    pipeline = RealtimePipeline(settings, [ZonesStage(settings)])
    stop = threading.Event()
    worker = threading.Thread(target=pipeline.run, args=(stop,))
    worker.start()
    ends = end_offsets(settings, settings.topic(OBSERVATIONS))
    try:
        wait_for(lambda: committed_offsets(settings) == ends, 120, "every observation to be processed")
    finally:
        stop.set()
        worker.join(30)


def _state(engine: Engine) -> tuple[list, list]:
    with engine.connect() as conn:
        events = sorted(
            (r.tag_id, str(r.geofence_id), r.kind, r.ts) for r in conn.execute(select(ZoneEvent.__table__))
        )
        alerts = sorted((r.subject_key, r.count, r.status) for r in conn.execute(select(Alert.__table__)))
    return events, alerts


def test_simulated_site_zone_events_and_alerts(integration_settings: Settings) -> None:
    settings = integration_settings
    engine, site = prepare(settings)
    with engine.begin() as conn:
        conn.execute(insert(AlertRule.__table__).values(
            id=uuid.uuid4(), name="Zone entry log", kind="geofence_enter", severity="info", params={},
            enabled=True, auto_resolve=False,
        ))  # fmt: skip
        zone_ids = {r.name: str(r.id) for r in conn.execute(select(Geofence.__table__))}
    start = float(int(time.time()) - SECONDS - 5)
    produce(settings, site, start, SECONDS)
    _run(settings)
    events, alerts = _state(engine)
    assert events, "the simulated walk produced no zone events"

    # Parked assets well inside their zone (>= 1.5 m from the rim): exactly one enter, into that zone.
    sim = SiteSimulator(site, start_s=start, seed=3, beacon_s=1.0)
    by_tag: dict[str, list[tuple[str, str]]] = {}
    for tag, zone, kind, _ts in events:
        by_tag.setdefault(tag, []).append((zone, kind))
    checked = 0
    for i, tag in enumerate(site.tag_ids):
        if sim.kind[i] != 1:
            continue
        gap = np.hypot(*(site.zone_xy - sim.from_xy[i]).T)
        home = int(np.argmin(gap))
        if gap[home] > site.zone_radius_m - 1.5:
            continue
        assert by_tag.get(tag) == [(zone_ids[site.zone_names[home]], "enter")], tag
        checked += 1
    assert checked >= 3

    # Every event says why, on evidence a person can check: stored in Postgres with the event.
    with engine.connect() as conn:
        evidence = [
            (r.kind, r.reason, r.depth_m, r.accuracy_m, r.margin_m)
            for r in conn.execute(select(ZoneEvent.__table__))
        ]
    enter_reasons = {"inside_margin", "dwelled", "lingered", "settled", "first_room"}
    assert all(reason in (enter_reasons if kind == "enter" else {"outside_margin", "entered_other"})
               for kind, reason, *_ in evidence)  # fmt: skip
    assert all(accuracy > 0 and margin > 0 and abs(depth) <= 3.0 for *_, depth, accuracy, margin in evidence)
    assert all(depth >= margin for kind, reason, depth, _, margin in evidence if reason == "inside_margin")

    # One alert per (asset, zone) entered, its count the number of enters.
    enters = Counter((tag, zone) for tag, zone, kind, _ in events if kind == "enter")
    assert len(alerts) == len(enters)
    assert sorted(count for _, count, _ in alerts) == sorted(enters.values())
    assert all(status == "open" for _, _, status in alerts)

    # Lose every piece of live state (tracks, zone states) and replay the whole topic with a new group.
    client = redis.Redis.from_url(settings.redis_url)
    for key in client.scan_iter(f"{settings.redis_prefix}*"):
        client.delete(key)
    replay = settings.model_copy(update={"consumer_group": f"{settings.consumer_group}-replay"})
    _run(replay)
    replay_events, replay_alerts = _state(engine)
    assert sorted(set(replay_events) - set(events)) == [], "the replay added zone events"
    assert replay_alerts == alerts
