"""The lakehouse on file://: layout keys, atomic idempotent partition writes, DuckDB and Polars see the same rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from core.settings import Settings
from lakehouse import (
    RAW_OBSERVATIONS,
    Lakehouse,
    LakehouseError,
    Partition,
    connect,
    duckdb_source,
    mart,
    report_key,
    scan,
)

pytestmark = pytest.mark.unit

DAY = dt.date(2024, 5, 1)


def _observations(hour: int, n: int) -> pa.Table:
    start = dt.datetime(2024, 5, 1, hour, tzinfo=dt.UTC)
    return pa.table(
        {
            "tag_id": [f"AA{i % 3:02d}" for i in range(n)],
            "gateway_id": ["GW1"] * n,
            "ts": pa.array(
                [start + dt.timedelta(seconds=n - i) for i in range(n)], pa.timestamp("us", tz="UTC")
            ),
            "rssi": pa.array([-60 - i for i in range(n)], pa.int16()),
        }
    )


@pytest.fixture
def lakehouse(embedded_settings: Settings) -> Lakehouse:
    return Lakehouse.from_settings(embedded_settings)


def test_partition_keys_follow_the_documented_layout() -> None:
    assert (
        RAW_OBSERVATIONS.partition_key(Partition(DAY, 7))
        == "raw/observations/date=2024-05-01/hour=07/part-0.parquet"
    )
    assert (
        mart("zone_dwell").partition_key(Partition(DAY)) == "marts/zone_dwell/date=2024-05-01/part-0.parquet"
    )
    assert report_key("site_daily", DAY, "report.html") == "reports/site_daily/2024-05-01/report.html"


def test_partition_keys_from_dagster_round_trip() -> None:
    assert Partition.parse("2024-05-01-13:00") == Partition(DAY, 13)
    assert Partition.parse("2024-05-01") == Partition(DAY)
    assert Partition.parse(Partition(DAY, 7).dagster_key) == Partition(DAY, 7)
    assert Partition(DAY, 23).end == dt.datetime(2024, 5, 2, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: Partition.parse("May 1st"), "partition key"),
        (lambda: Partition(DAY, 24), "hour"),
        (lambda: RAW_OBSERVATIONS.partition_key(Partition(DAY)), "needs an hourly partition"),
        (lambda: mart("Zone Dwell"), "mart name"),
        (lambda: report_key("site_daily", DAY, "../x"), "report filename"),
        (lambda: Lakehouse("ftp://host/x"), "ASSET_TAG_LAKEHOUSE_URL"),
    ],
)
def test_bad_input_is_named(call, message: str) -> None:
    with pytest.raises((ValueError, LakehouseError), match=message):
        call()


def test_rewriting_a_partition_replaces_it_whole_with_an_identical_file(lakehouse: Lakehouse) -> None:
    partition = Partition(DAY, 10)
    lakehouse.write_partition(RAW_OBSERVATIONS, partition, _observations(10, 50), sort_by=["tag_id", "ts"])
    key = RAW_OBSERVATIONS.partition_key(partition)
    first = lakehouse.read_bytes(key)
    # Same rows in another order: same bytes, because rows are sorted before writing.
    shuffled = _observations(10, 50).take(pa.array(list(range(49, -1, -1))))
    written = lakehouse.write_partition(RAW_OBSERVATIONS, partition, shuffled, sort_by=["tag_id", "ts"])
    assert lakehouse.read_bytes(key) == first
    assert written.rows == 50
    # Fewer rows replace the partition rather than adding to it.
    lakehouse.write_partition(RAW_OBSERVATIONS, partition, _observations(10, 5))
    assert lakehouse.read_partition(RAW_OBSERVATIONS, partition).num_rows == 5
    # No temporary files are left beside the partition.
    assert lakehouse.list_keys("raw") == [key]


def test_partition_file_is_zstd_parquet(lakehouse: Lakehouse) -> None:
    import pyarrow.parquet as pq

    written = lakehouse.write_partition(RAW_OBSERVATIONS, Partition(DAY, 1), _observations(1, 10))
    metadata = pq.ParquetFile(written.uri).metadata
    assert metadata.row_group(0).column(0).compression == "ZSTD"


def test_reading_a_missing_partition_names_it(lakehouse: Lakehouse) -> None:
    with pytest.raises(FileNotFoundError, match="date=2024-05-01/hour=03 has not been written"):
        lakehouse.read_partition(RAW_OBSERVATIONS, Partition(DAY, 3))


def test_duckdb_and_polars_see_the_same_rows_and_hive_columns(lakehouse: Lakehouse) -> None:
    for hour in (9, 10):
        lakehouse.write_partition(RAW_OBSERVATIONS, Partition(DAY, hour), _observations(hour, 20))
    lakehouse.write_partition(RAW_OBSERVATIONS, Partition(DAY + dt.timedelta(days=1), 0), _observations(0, 7))

    source = duckdb_source(lakehouse, RAW_OBSERVATIONS, DAY)
    assert source is not None
    rows = connect(lakehouse).execute(
        f"SELECT hour, count(*), min(date) FROM {source} GROUP BY hour ORDER BY hour"
    )
    assert rows.fetchall() == [(9, 20, DAY), (10, 20, DAY)]

    frame = scan(lakehouse, RAW_OBSERVATIONS, DAY).group_by("hour").len().sort("hour").collect()
    assert frame.rows() == [(9, 20), (10, 20)]
    assert len(lakehouse.partition_uris(RAW_OBSERVATIONS, DAY, DAY + dt.timedelta(days=1))) == 3


def test_readers_return_none_when_nothing_was_landed(lakehouse: Lakehouse) -> None:
    assert duckdb_source(lakehouse, RAW_OBSERVATIONS, DAY) is None
    assert scan(lakehouse, RAW_OBSERVATIONS, DAY) is None


def test_partitions_lists_written_partitions_in_time_order(lakehouse: Lakehouse, tmp_path: Path) -> None:
    for hour in (5, 2):
        lakehouse.write_partition(RAW_OBSERVATIONS, Partition(DAY, hour), _observations(hour, 1))
    assert lakehouse.partitions(RAW_OBSERVATIONS) == [Partition(DAY, 2), Partition(DAY, 5)]
    lakehouse.delete_partition(RAW_OBSERVATIONS, Partition(DAY, 2))
    assert lakehouse.partitions(RAW_OBSERVATIONS) == [Partition(DAY, 5)]


def test_hours_landed_before_a_column_was_added_read_together_with_later_ones(lakehouse: Lakehouse) -> None:
    """Zone events gained their evidence (reason, depth_m, ...) after the first hours were landed: a day with an
    hour landed before that and one after reads in every reader, the older hour's new columns null."""
    from lakehouse import ZONE_EVENTS, schemas

    def events(hour: int, kind: str, **evidence: object) -> pa.Table:
        ts = dt.datetime(2024, 5, 1, hour, tzinfo=dt.UTC)
        row = {"tag_id": "AA01", "zone_id": "dock", "kind": kind, "ts": ts, "kafka_partition": 0,
               "kafka_offset": hour, "kafka_ts": ts, **evidence}  # fmt: skip
        return pa.Table.from_pylist([{n: row.get(n) for n in schemas.ZONE_EVENTS.names}], schemas.ZONE_EVENTS)

    old_columns = [
        n for n in schemas.ZONE_EVENTS.names if n not in ("reason", "depth_m", "accuracy_m", "margin_m")
    ]
    lakehouse.write_partition(ZONE_EVENTS, Partition(DAY, 9), events(9, "enter").select(old_columns))
    lakehouse.write_partition(
        ZONE_EVENTS, Partition(DAY, 10), events(10, "exit", reason="outside_margin", depth_m=-1.2)
    )
    expected = [("enter", None, None), ("exit", "outside_margin", -1.2)]

    source = duckdb_source(lakehouse, ZONE_EVENTS, DAY)
    got = connect(lakehouse).execute(f"SELECT kind, reason, depth_m FROM {source} ORDER BY ts").fetchall()
    assert got == expected
    frame = scan(lakehouse, ZONE_EVENTS, DAY)
    assert (
        frame is not None
        and frame.sort("ts").select("kind", "reason", "depth_m").collect().rows() == expected
    )
    table = lakehouse.read_between(ZONE_EVENTS, DAY, columns=["kind", "ts", "reason", "depth_m"])
    assert table is not None
    assert [(r["kind"], r["reason"], r["depth_m"]) for r in table.sort_by("ts").to_pylist()] == expected
