"""The native landing sink (Go) against the real Kafka and MinIO: the same rows as the Python path for the same
hour — duplicates, bad records and records just outside the hour included — identical bytes when landed twice,
and bad records rejected with a reason rather than failing the hour."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from assets_dag.ingest import native_landing
from assets_dag.ingest.landing import Landed, land_hour
from assets_dag.ingest.records import OBSERVATIONS
from core.settings import Settings
from lakehouse import RAW_OBSERVATIONS, Lakehouse, Partition
from tests.integration.conftest import service_settings

pytestmark = pytest.mark.integration

HOUR = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=4)).replace(minute=0, second=0, microsecond=0)
PARTITION = Partition(HOUR.date(), HOUR.hour)
MS = dt.timedelta(milliseconds=1)


@pytest.fixture(scope="module")
def settings(services: dict[str, str], topic_prefix: str, lakehouse_s3_url: str) -> Settings:
    return service_settings(services, topic_prefix=topic_prefix, lakehouse_url=lakehouse_s3_url)


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _produce(settings: Settings, topic: str, records: list[tuple[int, dt.datetime, bytes | None]]) -> None:
    admin = AdminClient(settings.kafka_config())
    for future in admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)]).values():
        future.result()
    producer = Producer(settings.kafka_config())
    for partition, stamp, value in records:
        producer.produce(topic, value=value, partition=partition, timestamp=int(stamp.timestamp() * 1000))
    assert producer.flush(30) == 0


def _observation(stamp: dt.datetime, **fields: object) -> bytes:
    return json.dumps(
        {"tag_id": "AC0001", "gateway_id": "GW1", "rssi": -60, "ts": _iso(stamp)} | fields
    ).encode()


def _mixed_hour() -> list[tuple[int, dt.datetime, bytes | None]]:
    """Clean records on 3 partitions, repeats, bad records, and records a millisecond outside the hour."""
    records: list[tuple[int, dt.datetime, bytes | None]] = []
    for i in range(300):
        stamp = HOUR + dt.timedelta(seconds=i * 11, microseconds=i * 7)
        fields: dict[str, object] = {
            "tag_id": f"AC{i % 9:04X}",
            "gateway_id": f"GW{i % 4}",
            "rssi": -40 - i % 50,
            "battery": 50 + i % 40 if i % 5 else None,
            "temperature": 20.5,
            "seq": i,
        }
        if i % 7 == 0:
            fields["tx_power"] = -59
        if i % 13 == 0:
            fields["ts"] = int(stamp.timestamp() * 1000)  # epoch ms, truncated to the millisecond
        if i % 17 == 0:
            fields["ts"] = stamp.astimezone(
                dt.timezone(dt.timedelta(hours=2))
            ).isoformat()  # the same instant
        records.append((i % 3, stamp, _observation(stamp, **fields)))
    # Repeats of the natural key: the lowest (partition, offset) copy is kept, whatever its other fields say.
    first = HOUR + dt.timedelta(minutes=30)
    records.append((2, first, _observation(first, tag_id="ACDUPE", rssi=-70)))
    records.append((0, first + MS, _observation(first, tag_id="ACDUPE", rssi=-71)))
    records.append((1, first + 2 * MS, _observation(first, tag_id="ACDUPE", rssi=-72)))
    records.append((2, first + 3 * MS, _observation(first, tag_id="ACDUPE", rssi=-73)))
    bad = HOUR + dt.timedelta(minutes=40)
    records += [
        (0, bad, b"not json"),
        (1, bad, b"[1, 2]"),
        (2, bad, _observation(bad, rssi="loud")),
        (0, bad, json.dumps({"tag_id": "AC0001", "gateway_id": "GW1", "ts": _iso(bad)}).encode()),
        (1, bad, _observation(bad, ts="2024-05-01T10:00:00")),  # no time zone
        (2, bad, _observation(bad, rssi=-61.9)),  # a fraction: truncated like Python's int()
    ]
    # A millisecond either side of the hour (by record timestamp): they belong to the neighbouring hours.
    records.append((0, HOUR - MS, _observation(HOUR - MS, tag_id="ACBEFORE")))
    records.append((1, HOUR + dt.timedelta(hours=1), _observation(HOUR, tag_id="ACAFTER")))
    records.append((2, HOUR, _observation(HOUR, tag_id="ACFIRST")))
    return records


def _land(settings: Settings, topic: str, prefix: str, *, native: bool | None) -> tuple[Landed, Lakehouse]:
    url = f"{settings.lakehouse_url}/{prefix}"
    lakehouse = Lakehouse.from_settings(settings.model_copy(update={"lakehouse_url": url}))
    landed = land_hour(
        lakehouse,
        settings.kafka_config(),
        topic,
        RAW_OBSERVATIONS,
        OBSERVATIONS,
        PARTITION,
        slack_s=120,
        native=native,
    )
    return landed, lakehouse


def test_native_sink_lands_the_same_rows_as_the_python_path(settings: Settings) -> None:
    topic = settings.topic("ble.observations.mixed")
    _produce(settings, topic, _mixed_hour())

    by_python, python_lakehouse = _land(settings, topic, "python", native=False)
    by_native, native_lakehouse = _land(settings, topic, "native", native=True)
    assert (by_python.native, by_native.native) == (False, True)

    python_rows = python_lakehouse.read_partition(RAW_OBSERVATIONS, PARTITION)
    native_rows = native_lakehouse.read_partition(RAW_OBSERVATIONS, PARTITION)
    assert native_rows.schema.equals(OBSERVATIONS.schema)  # names, types, UTC microseconds, nullability
    assert native_rows.to_pylist() == python_rows.to_pylist()
    assert native_rows.num_rows == 300 + 1 + 1 + 1  # clean, one ACDUPE, the fractional rssi, ACFIRST
    for counted in ("topic_records", "rejected", "duplicates"):
        assert getattr(by_native, counted) == getattr(by_python, counted), counted
    assert (by_native.rejected, by_native.duplicates) == (5, 3)
    assert all(check.passed for check in by_native.check_results)

    kept = [row for row in native_rows.to_pylist() if row["tag_id"] == "ACDUPE"]
    assert [(row["rssi"], row["kafka_partition"]) for row in kept] == [(-71, 0)]
    tags = set(native_rows["tag_id"].to_pylist())
    assert "ACFIRST" in tags and not {"ACBEFORE", "ACAFTER"} & tags


def test_landing_twice_gives_identical_bytes_and_reasons_name_the_bad_records(settings: Settings) -> None:
    topic = settings.topic("ble.observations.twice")
    stamp = HOUR + dt.timedelta(minutes=5)
    _produce(
        settings,
        topic,
        [(i % 3, stamp + i * MS, _observation(stamp + i * MS, tag_id=f"AC{i % 5:04X}")) for i in range(500)]
        + [
            (1, stamp, None),  # a tombstone
            (1, stamp, _observation(stamp, rssi=99999)),
            (1, stamp, _observation(stamp, ts=True)),
        ],
    )
    files = []
    for _ in range(2):
        landed, lakehouse = _land(settings, topic, "twice", native=True)
        files.append(lakehouse.read_bytes(RAW_OBSERVATIONS.partition_key(PARTITION)))
    assert files[0] == files[1]
    assert (landed.written.rows, landed.rejected, landed.topic_records) == (500, 3, 503)
    reasons = "\n".join(landed.reasons)
    assert "partition 1 offset" in reasons
    assert "empty value" in reasons
    assert "rssi: 99999 is out of range for int16" in reasons
    assert "ts: expected RFC 3339 or epoch ms, got true" in reasons


def test_a_missing_topic_is_one_clear_error(settings: Settings) -> None:
    with pytest.raises(native_landing.NativeLandingError, match="topic .*nope.*: does not exist"):
        _land(settings, settings.topic("nope"), "missing", native=True)


def test_without_the_sink_the_python_path_lands_and_says_why(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    topic = settings.topic("ble.observations.fallback")
    stamp = HOUR + dt.timedelta(minutes=1)
    _produce(settings, topic, [(0, stamp, _observation(stamp))])
    monkeypatch.setattr(native_landing, "binary", lambda: None)
    with caplog.at_level(logging.WARNING):
        landed, _ = _land(settings, topic, "fallback", native=None)
    assert not landed.native and landed.written.rows == 1
    assert "slower Python path" in caplog.text and "make landing" in caplog.text
