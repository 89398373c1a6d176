"""The ticker's view of the world, loaded from the embedded database: which zones assets are in and since when,
when they last moved, where they were when after-hours began, which maintenance is due — then the ticker's
decisions on top of it."""

from __future__ import annotations

import datetime
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from core.alerts import rule_from_record
from core.db.engine import make_engine, upgrade_database
from core.db.models import (
    Alert,
    AlertRule,
    Asset,
    CurrentLocation,
    Gateway,
    Geofence,
    LocationHistory,
    MaintenanceSchedule,
    Site,
    ZoneEvent,
)
from core.settings import get_settings
from realtime.alerting.ticker import AlertTicker
from realtime.alerting.world import load_world

pytestmark = pytest.mark.unit

UTC = datetime.UTC
NOW = datetime.datetime(2026, 3, 4, 22, 0, tzinfo=UTC)  # Wednesday 23:00 in Berlin
SITE, ZONE, PUMP, CART = (uuid.uuid4() for _ in range(4))


def ago(**delta: float) -> datetime.datetime:
    return NOW - datetime.timedelta(**delta)


@pytest.fixture()
def engine(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'world.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    audit = {"created_at": ago(days=30), "updated_at": ago(days=30)}
    loc = {"lat": None, "lon": None, "floor": 0, "accuracy_m": 1.0, "confidence": 0.9, "method": "trilateration",
           "gateway_count": 3, "model_version": None}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(Site.__table__).values(id=SITE, name="Plant", origin_lat=52.5, origin_lon=13.4,
                                                   timezone="Europe/Berlin", **audit))  # fmt: skip
        conn.execute(insert(Geofence.__table__).values(
            id=ZONE, site_id=SITE, name="Wash bay", kind="work_area", shape="circle", center_x=5.0, center_y=5.0,
            radius_m=3.0, enabled=True, **audit,
        ))  # fmt: skip
        conn.execute(insert(Asset.__table__), [
            {"id": PUMP, "name": "Pump", "category": "pump", "tag_id": "AA01", "site_id": SITE, "status": "active",
             "last_seen": ago(minutes=1), "battery_pct": 50.0, **audit},
            {"id": CART, "name": "Cart", "category": "cart", "tag_id": "AA02", "site_id": SITE, "status": "active",
             "last_seen": ago(minutes=1), "battery_pct": 50.0, **audit},
        ])  # fmt: skip
        conn.execute(insert(Gateway.__table__).values(id=uuid.uuid4(), gateway_id="GW1", site_id=SITE, x=0.0,
                                                      y=0.0, last_seen=ago(hours=2), **audit))  # fmt: skip
        # Pump: entered the wash bay 3 h ago (after an earlier visit), stood still for 10 days before that.
        conn.execute(insert(ZoneEvent.__table__), [
            {"tag_id": "AA01", "asset_id": PUMP, "geofence_id": ZONE, "site_id": SITE, "kind": "enter", "ts": ago(hours=9)},
            {"tag_id": "AA01", "asset_id": PUMP, "geofence_id": ZONE, "site_id": SITE, "kind": "exit", "ts": ago(hours=8)},
            {"tag_id": "AA01", "asset_id": PUMP, "geofence_id": ZONE, "site_id": SITE, "kind": "enter", "ts": ago(hours=3)},
            {"tag_id": "AA02", "asset_id": CART, "geofence_id": ZONE, "site_id": SITE, "kind": "enter", "ts": ago(hours=5)},
            {"tag_id": "AA02", "asset_id": CART, "geofence_id": ZONE, "site_id": SITE, "kind": "exit", "ts": ago(hours=4)},
        ])  # fmt: skip
        # Cart: at (0, 0) when after-hours began (18:00 Berlin = 17:00 UTC), now 40 m away; moved 2 days ago.
        conn.execute(insert(LocationHistory.__table__), [
            {"tag_id": "AA02", "ts": ago(days=2), "asset_id": CART, "site_id": SITE, "x": 80.0, "y": 0.0, **loc},
            {"tag_id": "AA02", "ts": ago(hours=6), "asset_id": CART, "site_id": SITE, "x": 0.0, "y": 0.0, **loc},
            {"tag_id": "AA02", "ts": ago(minutes=5), "asset_id": CART, "site_id": SITE, "x": 40.0, "y": 0.0, **loc},
            {"tag_id": "AA01", "ts": ago(days=12), "asset_id": PUMP, "site_id": SITE, "x": 30.0, "y": 5.0, **loc},
            {"tag_id": "AA01", "ts": ago(days=9), "asset_id": PUMP, "site_id": SITE, "x": 5.2, "y": 5.0, **loc},
        ])  # fmt: skip
        conn.execute(insert(CurrentLocation.__table__), [
            {"tag_id": "AA01", "ts": ago(minutes=1), "asset_id": PUMP, "site_id": SITE, "x": 5.0, "y": 5.0,
             "zone_ids": [str(ZONE)], **loc},
            {"tag_id": "AA02", "ts": ago(minutes=1), "asset_id": CART, "site_id": SITE, "x": 40.0, "y": 0.0,
             "zone_ids": [], **loc},
        ])  # fmt: skip
        conn.execute(insert(MaintenanceSchedule.__table__).values(
            id=uuid.uuid4(), name="Annual service", category="pump", interval_days=365, next_due_at=ago(days=3),
            enabled=True, **audit,
        ))  # fmt: skip
    return engine


RULES = {
    "dwell_exceeded": {"params": {"max_dwell_s": 7200}},
    "underutilised": {"params": {"idle_days": 7, "min_distance_m": 5}},
    "movement_after_hours": {
        "params": {"min_distance_m": 10},
        "schedule": {"start": "18:00", "end": "06:00"},
    },
    "maintenance_overdue": {},
    "gateway_offline": {"params": {"offline_after_s": 600}},
}


def test_world_from_the_database(engine: Engine) -> None:
    rules = [rule_from_record({"id": str(uuid.uuid4()), "name": k, "kind": k} | v) for k, v in RULES.items()]
    with engine.connect() as conn:
        world = load_world(conn, rules, NOW)
    pump = next(a for a in world.assets if a.id == str(PUMP))
    cart = next(a for a in world.assets if a.id == str(CART))
    assert pump.zone_entered_at == {str(ZONE): ago(hours=3)}  # the latest enter; the earlier visit ended
    assert cart.zone_entered_at == {}  # left again
    # its last real move (12 days ago) is beyond the look-back (idle_days + 1): still for at least 8 days
    assert pump.last_moved_at == ago(days=8)
    assert cart.last_moved_at == ago(hours=6)  # at (0, 0), 40 m from where it is now
    movement = next(r for r in rules if r.kind.value == "movement_after_hours")
    assert cart.anchor_xy == {movement.id: (0.0, 0.0)}  # where it was when after-hours began (17:00 UTC)
    assert [(m.asset_id, m.name) for m in world.maintenance] == [(str(PUMP), "Annual service")]
    assert [g.gateway_id for g in world.gateways] == ["GW1"]
    assert world.site_timezones == {str(SITE): "Europe/Berlin"}


def test_ticker_opens_one_alert_per_rule_and_subject(engine: Engine) -> None:
    with engine.begin() as conn:
        for kind, fields in RULES.items():
            conn.execute(insert(AlertRule.__table__).values(
                id=uuid.uuid4(), name=kind, kind=kind, severity="warning", params=fields.get("params", {}),
                schedule=fields.get("schedule"), enabled=True, auto_resolve=True, created_at=NOW, updated_at=NOW,
            ))  # fmt: skip
    ticker = AlertTicker(get_settings(), engine=engine, clock=lambda: NOW.timestamp())
    assert ticker.tick().opened == 5
    assert ticker.tick().opened == 0
    with engine.connect() as conn:
        alerts = sorted((r.kind, r.subject_key) for r in conn.execute(select(Alert.__table__)))
        schedule_id = conn.execute(select(MaintenanceSchedule.__table__.c.id)).scalar_one()
    assert alerts == sorted([
        ("dwell_exceeded", f"asset:{PUMP}@zone:{ZONE}"),
        ("underutilised", f"asset:{PUMP}"),
        ("movement_after_hours", f"asset:{CART}"),
        ("maintenance_overdue", f"asset:{PUMP}@maintenance:{schedule_id}"),
        ("gateway_offline", "gateway:GW1"),
    ])  # fmt: skip
