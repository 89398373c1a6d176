"""The lakehouse on the real MinIO: the same writes and reads as on file://, through s3://."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pyarrow as pa
import pytest

from lakehouse import RAW_OBSERVATIONS, Lakehouse, Partition, connect, duckdb_source, report_key, scan
from tests.integration.conftest import service_settings

pytestmark = pytest.mark.integration

DAY = dt.date(2024, 5, 1)


def _table(n: int, hour: int) -> pa.Table:
    start = dt.datetime(2024, 5, 1, hour, tzinfo=dt.UTC)
    return pa.table(
        {
            "tag_id": [f"T{i % 4}" for i in range(n)],
            "gateway_id": [f"G{i % 2}" for i in range(n)],
            "ts": pa.array([start + dt.timedelta(seconds=i) for i in range(n)], pa.timestamp("us", tz="UTC")),
            "rssi": pa.array([-50 - i % 40 for i in range(n)], pa.int16()),
        }
    )


@pytest.fixture(scope="module")
def lakehouse(services: dict[str, str], lakehouse_s3_url: str) -> Lakehouse:
    return Lakehouse.from_settings(service_settings(services, lakehouse_url=lakehouse_s3_url))


def test_partition_round_trip_and_idempotent_rewrite_on_minio(lakehouse: Lakehouse) -> None:
    partition = Partition(DAY, 6)
    written = lakehouse.write_partition(
        RAW_OBSERVATIONS, partition, _table(1000, 6), sort_by=["tag_id", "ts"]
    )
    assert written.uri.startswith("s3://") and written.rows == 1000
    first = lakehouse.read_bytes(RAW_OBSERVATIONS.partition_key(partition))
    lakehouse.write_partition(RAW_OBSERVATIONS, partition, _table(1000, 6), sort_by=["tag_id", "ts"])
    assert lakehouse.read_bytes(RAW_OBSERVATIONS.partition_key(partition)) == first
    assert lakehouse.read_partition(RAW_OBSERVATIONS, partition).num_rows == 1000


def test_duckdb_httpfs_and_polars_read_the_same_rows_from_minio(lakehouse: Lakehouse) -> None:
    lakehouse.write_partition(RAW_OBSERVATIONS, Partition(DAY, 7), _table(300, 7))
    source = duckdb_source(lakehouse, RAW_OBSERVATIONS, DAY)
    assert source is not None and "s3://" in source
    by_duckdb = connect(lakehouse).execute(
        f"SELECT hour, count(*) AS n, sum(rssi) AS s FROM {source} GROUP BY hour ORDER BY hour"
    )
    frame = scan(lakehouse, RAW_OBSERVATIONS, DAY)
    assert frame is not None
    by_polars = frame.group_by("hour").agg(n=pl.len(), s=pl.col("rssi").sum())
    assert by_duckdb.fetchall() == [tuple(row) for row in by_polars.sort("hour").collect().rows()]
    assert [p.hour for p in lakehouse.partitions(RAW_OBSERVATIONS)] == [6, 7]


def test_report_files_are_stored_and_listed(lakehouse: Lakehouse) -> None:
    key = report_key("site_daily", DAY, "report.html")
    lakehouse.write_bytes(key, b"<html>ok</html>")
    assert lakehouse.read_bytes(key) == b"<html>ok</html>"
    assert key in lakehouse.list_keys("reports")
