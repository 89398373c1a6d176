"""The geofence/alert stage on the embedded backends (SQLite, in-process live store and stream), as `assettag demo`
runs it: a tag walked into a restricted room gives zone events, an alert, messages on the in-process topics and
pub/sub, and zone ids on the fixes; the zone state survives a new stage (restart)."""

from __future__ import annotations

import datetime
import json
import uuid

import numpy as np
import pytest
from sqlalchemy import insert, select

from core.db.engine import make_engine, upgrade_database
from core.db.models import Alert, AlertRule, Asset, Geofence, Site, ZoneEvent
from core.geofence import decode_state
from core.live import LiveKeys, MemoryHub
from core.settings import get_settings
from realtime.alerting.publish import ZONE_EVENTS
from realtime.fixes import FixBatch
from realtime.live_store import MemoryLiveStore
from realtime.memory_stream import MemoryBroker
from realtime.stages import StageContext
from realtime.stream import ALERTS
from realtime.zones_stage import ZonesStage

pytestmark = pytest.mark.unit

T0 = datetime.datetime(2026, 5, 4, 9, 0, tzinfo=datetime.UTC).timestamp()
TAG = "AC0000000042"


def _fixes(xs: np.ndarray, site: uuid.UUID, asset: uuid.UUID, t0: float) -> FixBatch:
    n = len(xs)
    obj = lambda v: np.array([v] * n, dtype=object)  # noqa: E731
    return FixBatch(obj(TAG), obj(asset), obj(site), t0 + 0.5 * np.arange(n), xs, np.full(n, 4.0),
                    np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, np.int64), np.full(n, 1.0),
                    np.full(n, 0.9), obj("trilateration"), np.full(n, 4, np.int64))  # fmt: skip


def _site(name: str):  # type: ignore[no-untyped-def]
    """Settings, the embedded database migrated, a site called `name` in it, and audit columns for more rows."""
    settings = get_settings()
    upgrade_database(settings.database_url)
    engine = make_engine(settings.database_url)
    site = uuid.uuid4()
    now = datetime.datetime.fromtimestamp(T0, datetime.UTC)
    audit = {"created_at": now, "updated_at": now}
    with engine.begin() as conn:
        conn.execute(
            insert(Site.__table__).values(id=site, name=name, origin_lat=48.1, origin_lon=11.6, **audit)
        )
    return settings, engine, site, audit


def test_stage_on_embedded_backends() -> None:
    settings, engine, site, audit = _site("Clinic")
    lab, asset = uuid.uuid4(), uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(insert(Geofence.__table__).values(
            id=lab, site_id=site, name="Pharmacy", kind="restricted", shape="polygon", enabled=True,
            geometry={"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 8], [0, 8], [0, 0]]]}, **audit,
        ))  # fmt: skip
        conn.execute(
            insert(Asset.__table__).values(id=asset, name="Crash cart", tag_id=TAG, site_id=site, **audit)
        )
        conn.execute(insert(AlertRule.__table__).values(
            id=uuid.uuid4(), name="Pharmacy", kind="restricted_zone", severity="critical", params={}, enabled=True,
            auto_resolve=True, **audit,
        ))  # fmt: skip
    hub = MemoryHub()
    live = MemoryLiveStore(hub)
    keys = LiveKeys(settings.redis_prefix)
    heard: list[dict] = []
    hub.subscribe(keys.alerts_channel("*"), lambda _channel, data: heard.append(json.loads(data)))
    broker = MemoryBroker()

    def run(stage: ZonesStage, batch: FixBatch) -> None:
        with engine.begin() as conn:
            ctx = StageContext(settings, conn, live, keys, broker.producer(), float(batch.ts[-1]))
            stage.process(batch, ctx)
        for action in ctx._after_commit:
            action()

    outside_in = _fixes(
        np.r_[np.full(10, 14.0), np.linspace(14.0, 5.0, 10), np.full(20, 5.0)], site, asset, T0
    )
    run(ZonesStage(settings), outside_in)
    assert outside_in.zone_ids[0] == [] and outside_in.zone_ids[-1] == [str(lab)]
    with engine.connect() as conn:
        (enter,) = list(conn.execute(select(ZoneEvent.__table__)))
        (alert,) = list(conn.execute(select(Alert.__table__)))
    assert enter.kind == "enter"
    # why, on what evidence: walked in past the margin its fix's accuracy (and pace) asked
    assert enter.reason == "inside_margin" and enter.accuracy_m == 1.0
    assert enter.depth_m >= enter.margin_m > 0
    assert alert.status == "open" and alert.severity == "critical" and "Crash cart" in alert.message
    # ... and so does the alert it raised, for whoever is notified
    assert (alert.details["reason"], alert.details["depth_m"]) == ("inside_margin", enter.depth_m)
    assert sorted(m["type"] for m in heard) == ["alert", "zone_event"]
    (published,) = [m for m in heard if m["type"] == "zone_event"]
    evidence = ("reason", "depth_m", "accuracy_m", "margin_m")
    assert {k: published[k] for k in evidence} == {k: getattr(enter, k) for k in evidence}
    assert len(broker.messages(settings.topic(ZONE_EVENTS))) == 1
    assert len(broker.messages(settings.topic(ALERTS))) == 1
    assert decode_state(live.get_many([keys.zone_state(TAG)])[0]).inside_zones() == [str(lab)]

    # A restarted process picks the zone state up from the live store: staying inside emits nothing new,
    # walking out resolves the alert.
    out = _fixes(np.r_[np.full(10, 5.0), np.linspace(5.0, 16.0, 10), np.full(20, 16.0)], site, asset, T0 + 60)
    run(ZonesStage(settings), out)
    with engine.connect() as conn:
        assert [
            r.kind for r in conn.execute(select(ZoneEvent.__table__).order_by(ZoneEvent.__table__.c.ts))
        ] == [
            "enter",
            "exit",
        ]
        exit_row = conn.execute(select(ZoneEvent.__table__).where(ZoneEvent.__table__.c.kind == "exit")).one()
        assert conn.execute(select(Alert.__table__.c.status)).scalar_one() == "resolved"
    assert exit_row.reason == "outside_margin" and exit_row.depth_m <= -exit_row.margin_m < 0


def _two_rooms():  # type: ignore[no-untyped-def]
    """(settings, engine, site, room A, room B): rooms A (x 0-10 m) and B (x 10-20 m), 40 m long."""
    settings, engine, site, audit = _site("Ward")
    room_a, room_b = uuid.uuid4(), uuid.uuid4()
    with engine.begin() as conn:
        for zone, x0 in ((room_a, 0.0), (room_b, 10.0)):
            ring = [[x0, 0.0], [x0 + 10.0, 0.0], [x0 + 10.0, 40.0], [x0, 40.0], [x0, 0.0]]
            conn.execute(insert(Geofence.__table__).values(
                id=zone, site_id=site, name=f"Room {x0:.0f}", kind="work_area", shape="polygon", enabled=True,
                geometry={"type": "Polygon", "coordinates": [ring]}, **audit,
            ))  # fmt: skip
    return settings, engine, site, room_a, room_b


def _walk_through_stage(settings, engine, site, tag, xs, accuracy_m, **columns):  # type: ignore[no-untyped-def]
    """Tag `tag` (no asset) along y = 20 at `xs`, one fix every 0.5 s, with the FixBatch `columns` set, through
    a fresh zones stage; returns the batch with its zone ids filled in."""
    batch = _fixes(xs, site, uuid.uuid4(), T0)
    batch.tag_id[:] = tag
    batch.asset_id[:] = None  # a tag not (yet) fixed to an asset
    batch.y[:] = 20.0
    batch.accuracy_m[:] = accuracy_m
    for name, value in columns.items():
        setattr(batch, name, value)
    with engine.begin() as conn:
        ctx = StageContext(
            settings, conn, MemoryLiveStore(MemoryHub()), LiveKeys(settings.redis_prefix),
            MemoryBroker().producer(), float(batch.ts[-1]),
        )  # fmt: skip
        ZonesStage(settings).process(batch, ctx)
    return batch


def test_stage_passes_the_trackers_stationary_flag_to_membership() -> None:
    # Parked in room A, a short walk (8.7 m) into room B, parked 0.2 m past the wall: from the fixes alone the
    # walk is too short to register and A is kept; with the tracker's flag (pinned 4 s after each stop, as
    # realtime.locator fills FixBatch.stationary) the stage shows B.
    settings, engine, site, room_a, room_b = _two_rooms()
    xs = np.r_[np.full(40, 1.5), np.linspace(1.5, 10.2, 18), np.full(120, 10.2)]
    t = 0.5 * np.arange(len(xs))
    pinned = ((t >= 4.0) & (t < 20.0)) | (t >= 29.0 + 4.0)
    alone = _walk_through_stage(settings, engine, site, "AC0000000100", xs, 1.0)
    flagged = _walk_through_stage(settings, engine, site, "AC0000000101", xs, 1.0, stationary=pinned)
    assert alone.zone_ids[-1] == [str(room_a)]
    assert flagged.zone_ids[-1] == [str(room_b)]


def test_stage_passes_the_trackers_learnt_fix_noise_to_membership() -> None:
    # Parked 6 m inside room A, the track swings at 2 m/s to 1 m past the wall into B and straight back: a
    # calibrated tag's quick walk through the door, but a noisy tag's hop (realtime.locator fills
    # FixBatch.noise_ratio from the tracker): that one stays in A.
    settings, engine, site, _, room_b = _two_rooms()
    swing = np.arange(4.0, 11.01, 1.0)
    xs = np.r_[np.full(60, 4.0), swing, swing[::-1], np.full(60, 4.0)]
    in_b = {}
    for ratio in (1.0, 2.0):
        batch = _walk_through_stage(
            settings, engine, site, f"AC000000020{int(ratio)}", xs, 3.0, noise_ratio=np.full(len(xs), ratio)
        )
        in_b[ratio] = sum(1 for zones in batch.zone_ids if zones == [str(room_b)])
    assert in_b[1.0] > 0 and in_b[2.0] == 0
