"""Lakehouse benchmark: Kafka -> Parquet landing rate into MinIO, and the time to build all daily marts.

    uv run python bench/lakehouse.py [--landing-sizes 1000000,3000000] [--mart-sizes 1000000,3000000,10000000]

Uses the services started by `scripts/services.sh up` (read from ~/.cache/asset-tag/services.env unless the
ASSET_TAG_* variables are set). Landing: N observations are produced into a fresh topic (3 partitions) with
timestamps inside one hour, then `land_hour` reads exactly that hour, decodes, de-duplicates, writes one zstd
Parquet file to MinIO and reads it back for the checks — the rate counts all of that. `land_hour` runs the
native sink (`make landing`); at sizes up to --python-max the Python path and a bare confluent-kafka consume
of the same topic are measured too, for contrast. Marts: a synthetic day of
N observations (and a fix per tag every 10 s) is written to the lakehouse, then every mart is built from it.
The last line is JSON: {"landing_obs_per_s", "marts_10m_s"} (the largest sizes measured).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sys
import time
import uuid
from pathlib import Path

# This file is named like the `lakehouse` package it measures: keep its folder from shadowing the package.
if Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import pyarrow.fs as pafs  # noqa: E402
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from assets_dag.analytics import sources  # noqa: E402
from assets_dag.analytics.build import MARTS, build_all, build_mart  # noqa: E402
from assets_dag.ingest import native_landing  # noqa: E402
from assets_dag.ingest.landing import Landed, land_hour  # noqa: E402
from assets_dag.ingest.records import OBSERVATIONS  # noqa: E402
from core.settings import Settings, load_settings  # noqa: E402
from lakehouse import RAW_OBSERVATIONS, Lakehouse, Partition, connect, demo  # noqa: E402

SERVICES_ENV = Path(os.environ.get("ASSET_TAG_SERVICES_ENV", Path.home() / ".cache/asset-tag/services.env"))


def _settings(run: str) -> Settings:
    values: dict[str, object] = {}
    if SERVICES_ENV.exists():
        for line in SERVICES_ENV.read_text().splitlines():
            key, _, value = line.removeprefix("export ").strip().partition("=")
            if key.startswith("ASSET_TAG_") and key not in os.environ and hasattr(Settings, "model_fields"):
                field = key.removeprefix("ASSET_TAG_").lower()
                if field in Settings.model_fields:
                    values[field] = value
    settings = load_settings(**values)
    return load_settings(**(values | {"lakehouse_url": f"{settings.lakehouse_url.rstrip('/')}/bench-{run}"}))


def _produce(settings: Settings, topic: str, count: int, hour: dt.datetime) -> float:
    admin = AdminClient(settings.kafka_config())  # keep a reference: the future needs the client alive
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result()
    producer = Producer(
        settings.kafka_config()
        | {
            "linger.ms": "50",
            "batch.size": str(1 << 20),
            "compression.type": "lz4",
            "queue.buffering.max.messages": "1000000",
        }
    )
    started = time.perf_counter()
    base_ms = int(hour.timestamp() * 1000)
    span_ms = 3_600_000 - 1
    for i in range(count):
        stamp = base_ms + i * span_ms // count
        seconds, millis = divmod(stamp, 1000)
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"
        tag = f"AC233F{i % 5000:06X}"
        value = f'{{"tag_id":"{tag}","gateway_id":"GW{i % 40:02d}","rssi":{-40 - i % 60},"ts":"{ts}","battery":{90 - i % 7}}}'
        while True:
            try:
                producer.produce(topic, value.encode(), tag.encode(), timestamp=stamp)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(120)
    return time.perf_counter() - started


def bare_consume(settings: Settings, topic: str, count: int) -> tuple[float, float]:
    """Wall and CPU seconds for confluent-kafka alone to hand over `count` messages (one consumer, batches of
    100k, nothing read from the messages): the ceiling of any landing built on its Python API."""
    consumer = Consumer(
        settings.kafka_config()
        | {"group.id": "asset-tag-bench", "enable.auto.commit": False, "enable.partition.eof": False}
    )
    partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    started, cpu = time.perf_counter(), time.process_time()
    received = 0
    while received < count:
        received += len(consumer.consume(num_messages=100_000, timeout=1.0))
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    consumer.close()
    return seconds, cpu_seconds


def _land(settings: Settings, lakehouse: Lakehouse, topic: str, hour: dt.datetime, native: bool) -> Landed:
    return land_hour(
        lakehouse,
        settings.kafka_config(),
        topic,
        RAW_OBSERVATIONS,
        OBSERVATIONS,
        Partition(hour.date(), hour.hour),
        native=native,
    )


def bench_landing(settings: Settings, lakehouse: Lakehouse, count: int, python_max: int) -> float:
    hour = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    topic = settings.topic(f"bench.observations.{uuid.uuid4().hex[:6]}")
    produced_s = _produce(settings, topic, count, hour)
    contrast = ""
    try:
        started, cpu = time.perf_counter(), _children_cpu_s()
        landed = _land(settings, lakehouse, topic, hour, native=True)
        seconds, sink_cpu_s = time.perf_counter() - started, _children_cpu_s() - cpu
        if count <= python_max:
            bare_s, bare_cpu_s = bare_consume(settings, topic, count)
            started = time.perf_counter()
            by_python = _land(settings, lakehouse, topic, hour, native=False)
            python_s = time.perf_counter() - started
            assert by_python.written.rows == count, (
                f"the Python path landed {by_python.written.rows} of {count}"
            )
            contrast = (
                f"\n        Python path: {python_s:6.2f} s = {count / python_s:>10,.0f} obs/s; bare confluent-kafka "
                f"consume: {count / bare_s:,.0f} msg/s, {bare_cpu_s / count * 1e6:.2f} CPU us/msg"
            )
    finally:
        admin = AdminClient(settings.kafka_config())
        admin.delete_topics([topic])[topic].result()
    assert landed.native, "the native sink did not run (is Go installed? `make landing`)"
    assert landed.written.rows == count, f"landed {landed.written.rows} of {count}"
    rate = count / seconds
    print(
        f"landing {count:>10,} obs: {seconds:6.2f} s = {rate:>10,.0f} obs/s native sink "
        f"({sink_cpu_s / count * 1e6:.2f} CPU us/obs in the sink; produce took {produced_s:.1f} s; "
        f"file {landed.written.bytes / 1e6:.1f} MB, checks "
        f"{'pass' if all(c.passed for c in landed.check_results) else 'FAIL'}; load {os.getloadavg()[0]:.1f})"
        f"{contrast}"
    )
    return rate


def _children_cpu_s() -> float:
    """CPU seconds used by finished child processes (the sink runs as one)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_marts(lakehouse: Lakehouse, count: int) -> float:
    day = dt.date(2024, 5, 1) + dt.timedelta(days=count // 1_000_000)
    tags = max(40, count // 25_000)
    started = time.perf_counter()
    demo.write_day(lakehouse, day, demo.generate(day, observations=count, tags=tags, fix_interval_s=10))
    prepared = time.perf_counter() - started
    timings = {}
    started = time.perf_counter()
    build_all(lakehouse, day)  # what the daily job's work amounts to: read each source once, build every mart
    seconds = time.perf_counter() - started
    # The same again, step by step, to show where the time goes.
    connection = connect(lakehouse)
    step = time.perf_counter()
    sources.register(connection, lakehouse, day, ["observations", "alerts", "locations"], materialise=True)
    sources.register(connection, lakehouse, day, ["zone_events"], days_before=1, materialise=True)
    timings["read sources"] = time.perf_counter() - step
    for name in MARTS:
        step = time.perf_counter()
        build_mart(lakehouse, name, day, connection=connection, sources_ready=True)
        timings[name] = time.perf_counter() - step
    slowest = ", ".join(f"{n} {s:.2f}" for n, s in sorted(timings.items(), key=lambda kv: -kv[1])[:4])
    print(
        f"marts   {count:>10,} obs ({tags} tags): {seconds:6.2f} s (slowest: {slowest}; data prep {prepared:.0f} s; "
        f"load {os.getloadavg()[0]:.1f})"
    )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing-sizes", default="1000000,3000000")
    parser.add_argument("--mart-sizes", default="1000000,3000000,10000000")
    parser.add_argument(
        "--python-max", type=int, default=1_000_000, help="largest size to land in Python too"
    )
    args = parser.parse_args()
    run = uuid.uuid4().hex[:8]
    settings = _settings(run)
    lakehouse = Lakehouse.from_settings(settings)
    print(f"lakehouse {settings.lakehouse_url}, kafka {settings.stream_url}, {os.cpu_count()} cpus")
    import pandas  # noqa: F401  pyarrow imports it on first use; uncached bytecode would be timed as landing

    native_landing.binary()  # (re)build the sink now if its sources changed: a build is not landing time

    try:
        rates = [
            bench_landing(settings, lakehouse, int(n), args.python_max)
            for n in args.landing_sizes.split(",")
            if n
        ]
        mart_seconds = [bench_marts(lakehouse, int(n)) for n in args.mart_sizes.split(",") if n]
    finally:
        for key in lakehouse.list_keys(""):
            lakehouse.fs.delete_file(lakehouse.path(key))
        if lakehouse.fs.get_file_info(lakehouse.path("")).type == pafs.FileType.Directory:
            lakehouse.fs.delete_dir(lakehouse.path(""))  # the empty folders the files left behind
    print(json.dumps({"landing_obs_per_s": round(rates[-1]) if rates else None,
                      "marts_10m_s": round(mart_seconds[-1], 2) if mart_seconds else None}))  # fmt: skip


if __name__ == "__main__":
    main()
