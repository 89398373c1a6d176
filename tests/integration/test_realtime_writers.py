"""The loop's batched touches on the real PostgreSQL: last_seen only moves forward, a battery reading replaces the
stored one and a batch without one keeps it, a heard gateway is online."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from realtime.writers import touch_assets, touch_gateways
from tests.integration.test_realtime_support import prepare

pytestmark = pytest.mark.integration

T0 = 1_800_000_000.0


def _asset(conn, tag: str) -> tuple[float, float | None]:  # type: ignore[no-untyped-def]
    seen, battery = conn.execute(
        text("SELECT last_seen, battery_pct FROM assets WHERE tag_id = :t"), {"t": tag}
    ).one()
    return seen.timestamp(), battery


def test_touches_move_forward_and_keep_the_last_battery_reading(integration_settings) -> None:
    engine, site = prepare(integration_settings, assets=4)
    a, b = site.tag_ids[:2]
    gateway = site.gateway_ids[0]
    with engine.begin() as conn:
        touch_assets(conn, [(a, T0 + 10, 80.0), (b, T0 + 10, None)])
        touch_gateways(conn, [(gateway, T0 + 10)])
        conn.execute(text("UPDATE gateways SET status = 'offline' WHERE gateway_id = :g"), {"g": gateway})
    with engine.begin() as conn:
        touch_assets(conn, [(a, T0 + 5, 10.0)])  # older than what is stored: ignored
        touch_gateways(conn, [(gateway, T0 + 5)])
    with engine.connect() as conn:
        assert _asset(conn, a) == (T0 + 10, 80.0)
        assert _asset(conn, b)[0] == T0 + 10
        status = conn.execute(
            text("SELECT status FROM gateways WHERE gateway_id = :g"), {"g": gateway}
        ).scalar()
        assert status == "offline"  # the stale report did not bring it back
    with engine.begin() as conn:
        touch_assets(conn, [(a, T0 + 20, None), (b, T0 + 20, 55.5)])
        touch_gateways(conn, [(gateway, T0 + 20)])
    with engine.connect() as conn:
        assert _asset(conn, a) == (T0 + 20, 80.0)  # no reading this time: the last one stays
        assert _asset(conn, b) == (T0 + 20, 55.5)
        seen, status = conn.execute(
            text("SELECT last_seen, status FROM gateways WHERE gateway_id = :g"), {"g": gateway}
        ).one()
        assert (seen, status) == (dt.datetime.fromtimestamp(T0 + 20, dt.UTC), "online")
