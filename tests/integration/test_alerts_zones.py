"""Zones and alerts end to end on the real PostgreSQL, Redis and Kafka: a tag walked from a restricted lab into a
bay produces exactly the expected zone events (rows, `ble.zone_events`, pub/sub) and alerts (rows, `ble.alerts`,
outbox); replaying the same batches after a crash adds nothing; the ticker raises, resolves and escalates the
time-based rules."""

from __future__ import annotations

import datetime
import json
import time
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
import redis
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic
from sqlalchemy import Engine, func, insert, select, update

from core.db.engine import make_engine, upgrade_database
from core.db.models import (
    Alert,
    AlertRule,
    Asset,
    Geofence,
    NotificationChannel,
    NotificationDelivery,
    Site,
    ZoneEvent,
)
from core.live import LiveKeys
from core.settings import Settings
from realtime.alerting.publish import ZONE_EVENTS
from realtime.alerting.ticker import AlertTicker
from realtime.fixes import FixBatch
from realtime.live_store import RedisLiveStore
from realtime.stages import StageContext
from realtime.stream import ALERTS, open_producer
from realtime.zones_stage import ZonesStage

pytestmark = pytest.mark.integration

T0 = datetime.datetime(2026, 5, 4, 9, 0, tzinfo=datetime.UTC).timestamp()
TAG = "AC233FA00001"
SITE, LAB, BAY, ASSET = (uuid.uuid4() for _ in range(4))
RULE_LAB, RULE_BAY, RULE_MISSING, RULE_BATTERY = (uuid.uuid4() for _ in range(4))


def _box(x0: float, x1: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, 0], [x1, 0], [x1, 8], [x0, 8], [x0, 0]]]}


@pytest.fixture(scope="module")
def engine(postgres_url: str) -> Iterator[Engine]:
    upgrade_database(postgres_url)
    engine = make_engine(postgres_url)
    now = datetime.datetime.fromtimestamp(T0, datetime.UTC)
    audit = {"created_at": now, "updated_at": now}
    with engine.begin() as conn:
        conn.execute(insert(Site.__table__).values(id=SITE, name="Plant", origin_lat=52.5, origin_lon=13.4,
                                                   timezone="Europe/Berlin", **audit))  # fmt: skip
        conn.execute(insert(Geofence.__table__), [
            {"id": LAB, "site_id": SITE, "name": "Clean lab", "kind": "restricted", "shape": "polygon",
             "geometry": _box(0, 10), "enabled": True, **audit},
            {"id": BAY, "site_id": SITE, "name": "Bay 1", "kind": "work_area", "shape": "polygon",
             "geometry": _box(10, 20), "enabled": True, **audit},
        ])  # fmt: skip
        conn.execute(insert(Asset.__table__).values(id=ASSET, name="Infusion pump 7", category="pump", tag_id=TAG,
                                                    site_id=SITE, status="active", **audit))  # fmt: skip
        conn.execute(insert(AlertRule.__table__), [
            {"id": RULE_LAB, "name": "Lab intrusion", "kind": "restricted_zone", "severity": "critical",
             "geofence_id": None, "params": {}, "enabled": True, "auto_resolve": True, **audit},
            {"id": RULE_BAY, "name": "Into bay", "kind": "geofence_enter", "geofence_id": BAY, "severity": "info",
             "params": {}, "enabled": True, "auto_resolve": False, **audit},
        ])  # fmt: skip
        conn.execute(insert(NotificationChannel.__table__).values(
            id=uuid.uuid4(), name="ops", kind="webhook", config={"url": "http://127.0.0.1:9/"}, enabled=True, **audit
        ))  # fmt: skip
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def settings(integration_settings: Settings, kafka_bootstrap: str) -> Settings:
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    topics = [NewTopic(integration_settings.topic(name), num_partitions=1, replication_factor=1)
              for name in (ZONE_EVENTS, ALERTS)]  # fmt: skip
    for future in admin.create_topics(topics, operation_timeout=15).values():
        future.result()
    return integration_settings


def _walk(seed: int) -> FixBatch:
    """A tag parked in the lab for 30 s, walking 14 m east into the bay at ~1 m/s, parked there for 30 s;
    fixes every 0.5 s with ~0.4 m of noise left after smoothing and a 1.5 m accuracy radius."""
    rng = np.random.default_rng(seed)
    x = np.r_[np.full(60, 3.0), np.linspace(3.0, 17.0, 28), np.full(60, 17.0)] + rng.normal(0, 0.4, 148)
    y = 4.0 + rng.normal(0, 0.4, 148)
    n = len(x)
    obj = lambda v: np.array([v] * n, dtype=object)  # noqa: E731
    return FixBatch(obj(TAG), obj(ASSET), obj(SITE), T0 + 0.5 * np.arange(n), x, y, np.full(n, np.nan),
                    np.full(n, np.nan), np.zeros(n, np.int64), np.full(n, 1.5), np.full(n, 0.8),
                    obj("trilateration"), np.full(n, 4, np.int64))  # fmt: skip


def _run(
    stage: ZonesStage, engine: Engine, settings: Settings, live: RedisLiveStore, fixes: FixBatch
) -> list:
    """Feed the fixes in batches of 20 the way the realtime loop does (transaction, then after-commit actions)."""
    producer = open_producer(settings)
    zone_ids = []
    for start in range(0, len(fixes), 20):
        batch = fixes.select(np.arange(start, min(start + 20, len(fixes))))
        with engine.begin() as conn:
            ctx = StageContext(
                settings, conn, live, LiveKeys(settings.redis_prefix), producer, float(batch.ts[-1])
            )
            stage.process(batch, ctx)
        for action in ctx._after_commit:
            action()
        zone_ids.extend(batch.zone_ids)
    producer.flush(30.0)
    return zone_ids


def _read_topic(settings: Settings, kafka_bootstrap: str, name: str) -> list[dict]:
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"check-{uuid.uuid4().hex[:6]}",
                         "auto.offset.reset": "earliest"})  # fmt: skip
    consumer.subscribe([settings.topic(name)])
    out: list[dict] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        messages = consumer.consume(100, 1.0)
        out.extend(json.loads(m.value()) for m in messages if m.error() is None)
        if not messages and out:
            break
    consumer.close()
    return out


def _counts(engine: Engine) -> tuple[int, int, int, list[int]]:
    with engine.connect() as conn:
        events = conn.execute(select(func.count()).select_from(ZoneEvent.__table__)).scalar_one()
        alerts = conn.execute(select(func.count()).select_from(Alert.__table__)).scalar_one()
        outbox = conn.execute(select(func.count()).select_from(NotificationDelivery.__table__)).scalar_one()
        counts = list(
            conn.execute(select(Alert.__table__.c.count).order_by(Alert.__table__.c.opened_at)).scalars()
        )
    return events, alerts, outbox, counts


def test_walk_produces_zone_events_and_alerts_and_replay_adds_nothing(
    engine: Engine, settings: Settings, redis_url: str, kafka_bootstrap: str
) -> None:
    keys = LiveKeys(settings.redis_prefix)
    listener = redis.Redis.from_url(redis_url).pubsub()
    listener.psubscribe(keys.alerts_channel("*"))
    live = RedisLiveStore(redis_url)
    fixes = _walk(seed=11)

    zone_ids = _run(ZonesStage(settings), engine, settings, live, fixes)

    with engine.connect() as conn:
        table = ZoneEvent.__table__
        rows = conn.execute(select(table).order_by(table.c.ts, table.c.kind.desc()))  # exit before enter
        events = [(r.kind, r.geofence_id, r.asset_id) for r in rows]
        alerts = {r.rule_id: r for r in conn.execute(select(Alert.__table__))}
    # the rooms are exclusive: it leaves the lab at the moment it is clearly in the bay
    assert events == [("enter", LAB, ASSET), ("exit", LAB, ASSET), ("enter", BAY, ASSET)]
    assert zone_ids[0] == [] and zone_ids[10] == [str(LAB)] and zone_ids[-1] == [str(BAY)]
    lab_alert = alerts[RULE_LAB]
    # auto-resolved when it left the lab
    assert lab_alert.status == "resolved" and lab_alert.resolved_by is None
    assert lab_alert.subject_key == f"asset:{ASSET}@zone:{LAB}" and lab_alert.severity == "critical"
    assert alerts[RULE_BAY].status == "open" and "entered 'Bay 1'" in alerts[RULE_BAY].message
    before = _counts(engine)
    assert before[2] == 3  # outbox: lab opened + lab resolved + bay opened, for the one channel

    zone_messages = _read_topic(settings, kafka_bootstrap, ZONE_EVENTS)
    assert [(m["kind"], m["zone_id"]) for m in zone_messages] == [
        ("enter", str(LAB)), ("exit", str(LAB)), ("enter", str(BAY))
    ]  # fmt: skip
    alert_messages = _read_topic(settings, kafka_bootstrap, ALERTS)
    assert sorted((m["action"], m["rule"]["name"]) for m in alert_messages) == [
        ("opened", "Into bay"), ("opened", "Lab intrusion"), ("resolved", "Lab intrusion")
    ]  # fmt: skip
    published = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(published) < 6:
        message = listener.get_message(timeout=0.5)
        if message and message["type"] == "pmessage":
            published.append(json.loads(message["data"]))
    assert sorted(m["type"] for m in published) == ["alert"] * 3 + ["zone_event"] * 3

    # Crash after the database commit but before the zone states reached Redis: a new process replays the
    # same batches from scratch. Nothing is stored, counted or queued twice.
    redis.Redis.from_url(redis_url).delete(keys.zone_state(TAG))
    _run(ZonesStage(settings), engine, settings, live, fixes)
    assert _counts(engine) == before
    listener.close()
    live.close()


def test_ticker_raises_resolves_and_escalates_time_based_rules(engine: Engine, settings: Settings) -> None:
    now = T0 + 3 * 3600
    at = lambda s: datetime.datetime.fromtimestamp(s, datetime.UTC)  # noqa: E731
    audit = {"created_at": at(T0), "updated_at": at(T0)}
    with engine.begin() as conn:
        conn.execute(insert(AlertRule.__table__), [
            {"id": RULE_MISSING, "name": "Pump missing", "kind": "asset_missing", "severity": "warning",
             "params": {"missing_after_s": 3600}, "category": "pump", "enabled": True, "auto_resolve": True,
             "escalate_after_s": 600, **audit},
            {"id": RULE_BATTERY, "name": "Battery", "kind": "battery_low", "severity": "info",
             "params": {"threshold_pct": 20}, "category": None, "enabled": True, "auto_resolve": True,
             "escalate_after_s": None, **audit},
        ])  # fmt: skip
        conn.execute(update(Asset.__table__).where(Asset.__table__.c.id == ASSET)
                     .values(last_seen=at(T0 + 60), battery_pct=12.0))  # fmt: skip
    clock = [now]
    ticker = AlertTicker(settings, engine=engine, clock=lambda: clock[0])

    first = ticker.tick()
    assert (first.opened, first.resolved) == (2, 0)
    assert ticker.tick() == type(first)()  # nothing changes while the conditions merely continue

    clock[0] += 601  # nobody acknowledged the missing alert within escalate_after_s
    assert ticker.tick().escalated == 1
    assert ticker.tick().escalated == 0

    with engine.begin() as conn:  # heard again, battery replaced
        conn.execute(update(Asset.__table__).where(Asset.__table__.c.id == ASSET)
                     .values(last_seen=at(clock[0]), battery_pct=100.0))  # fmt: skip
    assert ticker.tick().resolved == 2
    with engine.connect() as conn:
        rows = list(
            conn.execute(
                select(Alert.__table__).where(Alert.__table__.c.rule_id.in_([RULE_MISSING, RULE_BATTERY]))
            )
        )
    assert sorted((r.kind, r.status, r.escalated_at is not None) for r in rows) == [
        ("asset_missing", "resolved", True), ("battery_low", "resolved", False)
    ]  # fmt: skip


def test_repeats_keep_counting_after_psycopg_prepares_the_upsert(engine: Engine) -> None:
    """psycopg prepares a statement after 5 executions; the partial-index upsert must still find its index."""
    from core.alerts import Condition, rule_from_record
    from realtime.alerting.store import upsert_alert

    rule = rule_from_record({"id": str(RULE_LAB), "name": "Lab intrusion", "kind": "restricted_zone"})
    at = datetime.datetime.fromtimestamp(T0, datetime.UTC)
    condition = Condition(
        rule, "tag", "FEED", "tag:FEED@zone:x", True, at, "FEED entered the lab", repeat=True
    )
    with engine.begin() as conn:
        changes = [upsert_alert(conn, condition, at, repeat=True) for _ in range(12)]
    assert [c.action for c in changes] == ["opened"] + ["repeated"] * 11
    assert changes[-1].alert["count"] == 12
