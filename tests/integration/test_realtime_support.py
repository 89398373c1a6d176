"""Helpers shared by the realtime integration tests (no tests here): a seeded simulated site, observations
produced to the real Kafka, and the set of fixes the pipeline must end up with."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable

import numpy as np
from confluent_kafka import Consumer, Producer, TopicPartition
from sqlalchemy import Engine, text

from core.db.engine import make_engine, upgrade_database
from core.settings import Settings
from realtime.simulation import SimulatedSite, SiteSimulator, build_site, encode_observation, seed_database
from realtime.stream import OBSERVATIONS, ensure_topics


def prepare(settings: Settings, assets: int = 24) -> tuple[Engine, SimulatedSite]:
    upgrade_database(settings.database_url)
    engine = make_engine(settings.database_url)
    site = build_site(assets, seed=11)
    seed_database(engine, site)
    ensure_topics(settings)
    return engine, site


class Produced(dict[str, list[float]]):
    """Each tag's observation times (epoch s), plus the partition each tag's messages went to and the battery
    readings it reported."""

    def __init__(self) -> None:
        super().__init__()
        self.partition: dict[str, int] = {}
        self.battery: dict[str, list[float]] = {}


def produce(
    settings: Settings,
    site: SimulatedSite,
    start_s: float,
    seconds: float,
    extra: list[tuple[bytes | None, bytes]] | None = None,
    seed: int = 3,
    pace_s: float = 0.0,
) -> Produced:
    """Beacons every second for `seconds` from `start_s` (event time); returns each tag's observation times.
    `pace_s` > 0 sleeps that long (wall clock) after each beacon round, so consumers see a live stream."""
    sim = SiteSimulator(site, start_s=start_s, seed=seed, beacon_s=1.0)
    # librdkafka directly (same default partitioner as ingest) for its delivery reports: they name the partition.
    producer = Producer({**settings.kafka_config(), "enable.idempotence": True, "linger.ms": 5})
    topic = settings.topic(OBSERVATIONS)
    times = Produced()

    def delivered(err, msg) -> None:  # type: ignore[no-untyped-def]
        if err is None and msg.key() is not None:
            times.partition[msg.key().decode()] = msg.partition()

    for i, t in enumerate(sim.beacon_times(start_s, start_s + seconds)):
        for obs in sim.observations_at(t):
            producer.produce(topic, encode_observation(obs), obs.tag_id.encode(), on_delivery=delivered)
            times.setdefault(obs.tag_id, []).append(obs.ts / 1000.0)
            if obs.battery is not None:
                times.battery.setdefault(obs.tag_id, []).append(obs.battery)
        if extra and i < len(extra):
            key, value = extra[i]
            producer.produce(topic, value, key)
        producer.poll(0)
        if pace_s:
            producer.flush(30)
            time.sleep(pace_s)
    producer.flush(30)
    return times


def expected_fixes(times: Produced, window_s: float, interval_s: float) -> set[tuple[str, int]]:
    """(tag, fix time in ms) for every grid time the tag's observations reached with a non-empty window and
    its partition has moved past (some observation in the partition is newer)."""
    newest: dict[int, float] = defaultdict(lambda: float("-inf"))
    for tag, ts in times.items():
        newest[times.partition[tag]] = max(newest[times.partition[tag]], max(ts))
    out = set()
    for tag, ts in times.items():
        ts_a = np.unique(np.array(ts))
        passed = newest[times.partition[tag]]
        first, last = np.ceil(ts_a.min() / interval_s - 1e-9), np.floor(ts_a.max() / interval_s + 1e-9)
        for k in np.arange(first, last + 1):
            t = k * interval_s
            if t < passed - 1e-9 and ((ts_a > t - window_s) & (ts_a <= t + 1e-9)).any():
                out.add((tag, int(round(t * 1000))))
    return out


def history(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT tag_id, ts FROM location_history")).all()
    return [(tag, int(round(ts.timestamp() * 1000))) for tag, ts in rows]


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def committed_offsets(settings: Settings, partitions: int = 6) -> dict[int, int]:
    consumer = Consumer(
        {**settings.kafka_config(), "group.id": settings.consumer_group, "enable.auto.commit": False}
    )
    try:
        tps = consumer.committed(
            [TopicPartition(settings.topic(OBSERVATIONS), p) for p in range(partitions)], timeout=10
        )
        return {tp.partition: tp.offset for tp in tps}
    finally:
        consumer.close()


def end_offsets(settings: Settings, topic: str, partitions: int = 6) -> dict[int, int]:
    consumer = Consumer({**settings.kafka_config(), "group.id": "offset-probe"})
    try:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
    finally:
        consumer.close()


def read_topic(settings: Settings, topic: str, timeout_s: float = 10.0) -> list[bytes]:
    ends = end_offsets(settings, topic)
    consumer = Consumer(
        {
            **settings.kafka_config(),
            "group.id": f"reader-{time.time_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in ends])
    out: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    while len(out) < sum(ends.values()) and time.monotonic() < deadline:
        for message in consumer.consume(10000, 0.5):
            if message.error() is None:
                out.append(message.value())
    consumer.close()
    return out
