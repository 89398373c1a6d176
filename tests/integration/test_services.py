"""The four services the platform runs on answer real requests over real connections.

These are the foundation's smoke tests: if one fails, the message says which service and how to start it.
"""

from __future__ import annotations

import time
import uuid

import pytest

from core.settings import Settings
from tests.integration.conftest import service_settings

pytestmark = pytest.mark.integration


def test_redis_set_get_and_pubsub(services: dict[str, str], run_id: str) -> None:
    import redis

    client = redis.Redis.from_url(services["ASSET_TAG_REDIS_URL"])
    key = f"{run_id}:asset:1"
    client.set(key, b"here", ex=60)
    assert client.get(key) == b"here"

    pubsub = client.pubsub()
    channel = f"{run_id}:locations.site-1"
    pubsub.subscribe(channel)
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    assert client.publish(channel, b'{"tag_id":"AB12"}') == 1
    message = pubsub.get_message(timeout=5)
    assert message is not None and message["data"] == b'{"tag_id":"AB12"}'
    pubsub.close()
    client.delete(key)


def test_kafka_produce_consume_round_trip(kafka_bootstrap: str, topic_prefix: str) -> None:
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"{topic_prefix}ble.observations"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(timeout=30)

    producer = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True})
    sent = {
        f"TAG{i:04X}": f'{{"tag_id":"TAG{i:04X}","gateway_id":"gw-1","rssi":-60}}'.encode() for i in range(50)
    }
    for key, value in sent.items():
        producer.produce(topic, key=key.encode(), value=value)
    assert producer.flush(30) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"{topic_prefix}round-trip",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    received: dict[str, bytes] = {}
    deadline = time.monotonic() + 60
    while len(received) < len(sent) and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=100, timeout=1.0):
            assert message.error() is None, message.error()
            received[message.key().decode()] = message.value()
    consumer.close()
    assert received == sent


def test_parquet_on_minio_read_back_with_duckdb_and_polars(
    services: dict[str, str], lakehouse_s3_url: str
) -> None:
    import duckdb
    import polars as pl
    import pyarrow as pa
    import pyarrow.parquet as pq
    import s3fs

    settings: Settings = service_settings(services, lakehouse_url=lakehouse_s3_url)
    fs = s3fs.S3FileSystem(**settings.s3_storage_options())
    table = pa.table({"tag_id": ["A1", "B2", "C3"], "rssi": [-61, -72, -80]})
    path = f"{lakehouse_s3_url.removeprefix('s3://')}/smoke/{uuid.uuid4().hex}.parquet"
    with fs.open(path, "wb") as handle:
        pq.write_table(table, handle, compression="zstd")

    frame = pl.read_parquet(
        f"s3://{path}",
        storage_options={
            "aws_endpoint_url": settings.s3_endpoint_url,
            "aws_access_key_id": settings.s3_access_key_id,
            "aws_secret_access_key": settings.s3_secret_access_key,
            "aws_region": settings.s3_region,
            "aws_allow_http": "true",
        },
    )
    assert frame.sort("tag_id")["rssi"].to_list() == [-61, -72, -80]

    import pathlib

    import duckdb_ext

    con = duckdb.connect()
    con.execute(f"SET extension_directory='{pathlib.Path(duckdb_ext.__path__[0]) / 'extensions'}'")
    con.execute("LOAD httpfs")
    endpoint = settings.s3_endpoint_url.removeprefix("http://")
    con.execute(
        f"CREATE SECRET minio (TYPE s3, KEY_ID '{settings.s3_access_key_id}', SECRET '{settings.s3_secret_access_key}', "
        f"ENDPOINT '{endpoint}', URL_STYLE 'path', USE_SSL false, REGION '{settings.s3_region}')"
    )
    rows = con.execute(f"SELECT tag_id, rssi FROM read_parquet('s3://{path}') ORDER BY tag_id").fetchall()
    assert rows == [("A1", -61), ("B2", -72), ("C3", -80)]
