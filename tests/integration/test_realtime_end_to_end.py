"""End to end on the real services: simulated observations in -> correct fixes in Postgres, Redis, ble.locations."""

from __future__ import annotations

import threading
import time

import msgspec
import numpy as np
import pytest
import redis
from sqlalchemy import text

from core.live import LiveKeys
from realtime.pipeline import RealtimePipeline
from realtime.simulation import SiteSimulator
from realtime.stream import LOCATIONS
from tests.integration.test_realtime_support import (
    expected_fixes,
    history,
    prepare,
    produce,
    read_topic,
    wait_for,
)

pytestmark = pytest.mark.integration


def test_simulated_site_ends_up_located_everywhere(integration_settings) -> None:
    settings = integration_settings.model_copy(update={"history_heartbeat_s": 0.5})  # every fix is history
    engine, site = prepare(settings)
    start = float(int(time.time()) - 40)
    times = produce(settings, site, start, 30)
    expected = expected_fixes(times, settings.window_s, settings.fix_interval_s)

    pipeline = RealtimePipeline(settings)
    stop = threading.Event()
    worker = threading.Thread(target=pipeline.run, args=(stop,))
    worker.start()
    try:
        wait_for(lambda: len(history(engine)) >= len(expected), 40, "every fix in location_history")
    finally:
        stop.set()
        worker.join(30)

    rows = history(engine)
    assert len(rows) == len(set(rows))
    assert set(rows) == expected

    # Current location per tag is its newest fix, close to where the simulated asset really was.
    sim = SiteSimulator(site, start_s=start, seed=3, beacon_s=1.0)
    index = {tag: i for i, tag in enumerate(site.tag_ids)}
    with engine.connect() as conn:
        current = conn.execute(
            text("SELECT tag_id, ts, x, y, accuracy_m, method FROM current_locations")
        ).all()
        online = conn.execute(text("SELECT count(*) FROM gateways WHERE status = 'online'")).scalar_one()
        seen = conn.execute(text("SELECT count(*) FROM assets WHERE last_seen IS NOT NULL")).scalar_one()
        battery = dict(conn.execute(text("SELECT tag_id, battery_pct FROM assets")).tuples().all())
    newest = {}
    for tag, ts_ms in expected:
        newest[tag] = max(newest.get(tag, 0), ts_ms)
    errors = []
    for tag, ts, x, y, _accuracy, method in current:
        assert int(round(ts.timestamp() * 1000)) == newest[tag]
        assert method in {"proximity", "midpoint", "centroid", "trilateration"}
        truth, _ = sim.positions(ts.timestamp())
        errors.append(np.hypot(x - truth[index[tag], 0], y - truth[index[tag], 1]))
    assert {row.tag_id for row in current} == set(times)
    assert np.median(errors) < 3.0
    assert online > 0 and seen == len(times)
    # Each asset's battery is one its tag reported (draining, so a reading from the run, not a stale one).
    assert times.battery and set(times.battery) <= set(battery)
    assert all(battery[tag] in readings for tag, readings in times.battery.items())

    # Redis holds the same newest fix as contract JSON.
    client = redis.Redis.from_url(settings.redis_url)
    keys = LiveKeys(settings.redis_prefix)
    tag = sorted(times)[0]
    fix = msgspec.json.decode(client.get(keys.current_location(tag)))
    assert fix["tag_id"] == tag and fix["site_id"] and fix["asset_id"]
    assert set(fix) >= {
        "ts",
        "x",
        "y",
        "lat",
        "lon",
        "floor",
        "accuracy_m",
        "confidence",
        "method",
        "gateway_count",
        "zone_ids",
    }
    assert abs(fix["lat"] - site.origin[0]) < 0.01

    # Every fix went to ble.locations (at least once).
    published = {
        (f["tag_id"], f["ts"])
        for f in map(msgspec.json.decode, read_topic(settings, settings.topic(LOCATIONS)))
    }
    assert len(published) == len(expected)
