"""Landing an hour from the real Kafka into the real MinIO: exactly that hour's records, identical files twice."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from assets_dag.ingest.assets import raw_observations, zone_events
from assets_dag.resources import KafkaResource, LakehouseResource
from core.settings import Settings
from lakehouse import RAW_OBSERVATIONS, ZONE_EVENTS, Lakehouse, Partition
from tests.integration.conftest import service_settings

pytestmark = pytest.mark.integration

HOUR = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
PARTITION = Partition(HOUR.date(), HOUR.hour)


@pytest.fixture(scope="module")
def settings(services: dict[str, str], topic_prefix: str, lakehouse_s3_url: str) -> Settings:
    return service_settings(services, topic_prefix=topic_prefix, lakehouse_url=lakehouse_s3_url)


@pytest.fixture(scope="module")
def resources(settings: Settings) -> dict[str, object]:
    return {
        "lakehouse": LakehouseResource(
            url=settings.lakehouse_url,
            s3_endpoint_url=settings.s3_endpoint_url,
            s3_access_key_id=settings.s3_access_key_id,
            s3_secret_access_key=settings.s3_secret_access_key,
        ),
        "kafka": KafkaResource(
            stream_url=settings.stream_url, topic_prefix=settings.topic_prefix, slack_s=120
        ),
    }


def _produce(settings: Settings, topic: str, records: list[tuple[dt.datetime, dict[str, object]]]) -> None:
    admin = AdminClient(settings.kafka_config())
    for future in admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)]).values():
        future.result()
    producer = Producer(settings.kafka_config())
    for stamp, record in records:
        producer.produce(
            topic,
            key=str(record["tag_id"]).encode(),
            value=json.dumps(record).encode(),
            timestamp=int(stamp.timestamp() * 1000),
        )
    assert producer.flush(30) == 0


def test_landing_an_hour_twice_gives_identical_files_with_only_that_hours_records(
    settings: Settings, resources: dict[str, object]
) -> None:
    records = []
    # 600 observations in the hour (one repeated), plus records of the neighbouring hours that must stay out.
    for i in range(600):
        stamp = HOUR + dt.timedelta(seconds=i * 6)
        records.append(
            (
                stamp,
                {
                    "tag_id": f"AC{i % 7:04X}",
                    "gateway_id": f"GW{i % 3}",
                    "rssi": -40 - i % 50,
                    "ts": stamp.isoformat().replace("+00:00", "Z"),
                    "battery": 90.0,
                },
            )
        )
    records.append(records[10])
    for offset in (-dt.timedelta(seconds=30), dt.timedelta(hours=1, seconds=1)):
        stamp = HOUR + offset
        records.append(
            (
                stamp,
                {
                    "tag_id": "ACFFFF",
                    "gateway_id": "GW9",
                    "rssi": -70,
                    "ts": stamp.isoformat().replace("+00:00", "Z"),
                },
            )
        )
    _produce(settings, settings.topic("ble.observations"), records)

    lakehouse = Lakehouse.from_settings(settings)
    key = RAW_OBSERVATIONS.partition_key(PARTITION)
    files = []
    for _ in range(2):
        result = dg.materialize([raw_observations], resources=resources, partition_key=PARTITION.dagster_key)
        assert result.success
        files.append(lakehouse.read_bytes(key))
    assert files[0] == files[1]

    table = lakehouse.read_partition(RAW_OBSERVATIONS, PARTITION)
    assert table.num_rows == 600
    assert "ACFFFF" not in set(table["tag_id"].to_pylist())
    materialization = result.asset_materializations_for_node("raw_observations")[0]
    assert materialization.metadata["topic_records"].value == 601
    assert materialization.metadata["duplicates_dropped"].value == 1
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 4 and all(e.passed for e in evaluations)


def test_zone_events_land_from_their_topic(settings: Settings, resources: dict[str, object]) -> None:
    enter = HOUR + dt.timedelta(minutes=5)
    events = [
        (enter, {"tag_id": "AC0001", "zone_id": "dock", "kind": "enter", "ts": enter.isoformat()}),
        (
            enter + dt.timedelta(minutes=9),
            {
                "tag_id": "AC0001",
                "zone_id": "dock",
                "kind": "exit",
                "ts": (enter + dt.timedelta(minutes=9)).isoformat(),
                "dwell_s": 540,
                "reason": "outside_margin",
                "depth_m": -1.3,
                "accuracy_m": 1.1,
                "margin_m": 1.1,
            },
        ),
    ]
    _produce(settings, settings.topic("ble.zone_events"), events)
    result = dg.materialize([zone_events], resources=resources, partition_key=PARTITION.dagster_key)
    assert result.success
    table = Lakehouse.from_settings(settings).read_partition(ZONE_EVENTS, PARTITION)
    assert table.select(["kind", "dwell_s", "reason", "depth_m"]).to_pylist() == [
        {
            "kind": "enter",
            "dwell_s": None,
            "reason": None,
            "depth_m": None,
        },  # published before events said why
        {"kind": "exit", "dwell_s": 540.0, "reason": "outside_margin", "depth_m": -1.3},
    ]
