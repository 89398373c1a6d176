"""Decoding a topic window into landed rows, and the landing checks failing on bad data."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assets_dag.ingest import checks
from assets_dag.ingest.records import OBSERVATIONS, ZONE_EVENTS, decode
from assets_dag.ingest.topic_window import TopicWindow
from lakehouse import RAW_OBSERVATIONS, Lakehouse, Partition, schemas

pytestmark = pytest.mark.unit

START = dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)
END = START + dt.timedelta(hours=1)


def _window(records: list[object], offset0: int = 0) -> TopicWindow:
    window = TopicWindow("ble.observations", START, END)
    for i, record in enumerate(records):
        value = record if isinstance(record, bytes) else json.dumps(record).encode()
        window.values.append(value)
        window.partitions.append(i % 2)
        window.offsets.append(offset0 + i)
        window.timestamps_ms.append(int((START + dt.timedelta(seconds=i)).timestamp() * 1000))
    return window


def _obs(tag: str, gateway: str, ts: object, rssi: int = -70, **extra: object) -> dict[str, object]:
    return {"tag_id": tag, "gateway_id": gateway, "ts": ts, "rssi": rssi, **extra}


def test_clean_window_takes_the_fast_path_and_keeps_every_field() -> None:
    window = _window(
        [
            _obs("AA01", "G1", "2024-05-01T10:00:01Z", battery=87.5, seq=4),
            _obs("AA01", "G2", "2024-05-01T12:00:02+02:00", tx_power=-59),
            _obs("AA00", "G1", "2024-05-01T10:00:03.250Z", temperature=21.5),
        ]
    )
    decoded = decode(window, OBSERVATIONS)
    assert decoded.rejected == 0 and decoded.duplicates == 0
    table = decoded.table
    assert table.schema == schemas.OBSERVATIONS
    # Sorted by tag then time; the +02:00 time is converted to UTC.
    assert table["tag_id"].to_pylist() == ["AA00", "AA01", "AA01"]
    assert table["ts"].to_pylist()[2] == dt.datetime(2024, 5, 1, 10, 0, 2, tzinfo=dt.UTC)
    assert table["battery"].to_pylist() == [None, 87.5, None]
    assert table["kafka_offset"].to_pylist() == [2, 0, 1]


def test_bad_records_are_rejected_one_by_one_and_the_rest_land() -> None:
    epoch_ms = int(dt.datetime(2024, 5, 1, 10, 5, tzinfo=dt.UTC).timestamp() * 1000)
    window = _window(
        [
            _obs("AA01", "G1", "2024-05-01T10:00:01Z"),
            _obs("AA02", "G1", epoch_ms),  # epoch ms mixed with RFC 3339
            b"not json",
            {"tag_id": "AA03", "gateway_id": "G1", "ts": "2024-05-01T10:00:00Z"},  # no rssi
            _obs("AA04", "G1", "yesterday"),
            _obs("AA05", "G1", "2024-05-01T10:00:00"),  # no time zone
        ]
    )
    decoded = decode(window, OBSERVATIONS)
    assert decoded.table["tag_id"].to_pylist() == ["AA01", "AA02"]
    assert decoded.table["ts"].to_pylist()[1] == dt.datetime(2024, 5, 1, 10, 5, tzinfo=dt.UTC)
    assert decoded.rejected == 4
    joined = "\n".join(decoded.reasons)
    assert "offset 3: rssi: missing" in joined and "ts: needs a time zone" in joined


def test_repeated_records_land_once_keeping_the_first_copy() -> None:
    record = _obs("AA01", "G1", "2024-05-01T10:00:01Z")
    decoded = decode(_window([record, _obs("AA01", "G2", "2024-05-01T10:00:01Z"), record]), OBSERVATIONS)
    assert decoded.table.num_rows == 2 and decoded.duplicates == 1
    assert sorted(decoded.table["kafka_offset"].to_pylist()) == [0, 1]


def test_zone_events_accept_the_database_column_names() -> None:
    events = [
        {"tag_id": "AA01", "geofence_id": "Z1", "kind": "enter", "ts": "2024-05-01T10:00:00Z"},
        {"tag_id": "AA01", "zone_id": "Z1", "event": "exit", "ts": "2024-05-01T10:10:00Z", "dwell_s": 600,
         "reason": "entered_other", "depth_m": -0.4, "accuracy_m": 1.5, "margin_m": 1.5},
    ]  # fmt: skip
    decoded = decode(_window(events), ZONE_EVENTS)
    assert decoded.table.select(["zone_id", "kind", "dwell_s", "reason", "margin_m"]).to_pylist() == [
        {"zone_id": "Z1", "kind": "enter", "dwell_s": None, "reason": None, "margin_m": None},
        {"zone_id": "Z1", "kind": "exit", "dwell_s": 600.0, "reason": "entered_other", "margin_m": 1.5},
    ]


def test_empty_window_lands_an_empty_partition_with_the_contract_schema() -> None:
    decoded = decode(_window([]), OBSERVATIONS)
    assert decoded.table.num_rows == 0 and decoded.table.schema == schemas.OBSERVATIONS


# --- checks on bad data -------------------------------------------------------------------------


def _landed(records: list[dict[str, object]]) -> pa.Table:
    return decode(_window(records), OBSERVATIONS).table


def test_checks_pass_on_a_clean_partition() -> None:
    table = _landed([_obs("AA01", "G1", "2024-05-01T10:00:01Z"), _obs("AA02", "G1", "2024-05-01T10:30:00Z")])
    results = [
        checks.schema_check(table, OBSERVATIONS),
        checks.duplicates_check(table, OBSERVATIONS),
        checks.timestamps_check(table, START, END, tolerance_s=0),
        checks.row_count_check(table.num_rows, topic_records=3, rejected=1, duplicates=0),
    ]
    assert [r.passed for r in results] == [True, True, True, True]


def test_schema_check_fails_on_a_missing_column_and_a_wrong_type() -> None:
    table = _landed([_obs("AA01", "G1", "2024-05-01T10:00:01Z")])
    bad = table.drop_columns(["seq"]).set_column(3, "rssi", table["rssi"].cast(pa.float64()))
    result = checks.schema_check(bad, OBSERVATIONS)
    assert not result.passed
    assert result.metadata["missing"].value == "seq"
    assert "rssi: double (expected int16)" in result.metadata["wrong_type"].value


def test_duplicates_check_fails_when_a_key_repeats() -> None:
    table = _landed([_obs("AA01", "G1", "2024-05-01T10:00:01Z")])
    result = checks.duplicates_check(pa.concat_tables([table, table]), OBSERVATIONS)
    assert not result.passed and result.metadata["duplicate_rows"].value == 1


@pytest.mark.parametrize("in_key_order", [True, False])
def test_duplicates_check_counts_repeats_in_sorted_and_unsorted_files(in_key_order: bool) -> None:
    rows = [
        _obs("AA01", "G1", "2024-05-01T10:00:01Z"),
        _obs("AA01", "G1", "2024-05-01T10:00:02Z"),
        _obs("AA01", "G2", "2024-05-01T10:00:01Z"),
        _obs("AA02", "G1", "2024-05-01T10:00:01Z"),
    ]
    table = _landed(rows)  # landed: sorted by the key
    # Two keys (AA01/G1 at 10:00:01 and AA02) appear twice, in key order or scattered.
    doubled = pa.concat_tables([table, table.slice(0, 1), table.slice(3, 1)])
    doubled = doubled.sort_by([(c, "ascending") for c in OBSERVATIONS.key]) if in_key_order else doubled
    result = checks.duplicates_check(doubled, OBSERVATIONS)
    assert not result.passed and result.metadata["duplicate_rows"].value == 2
    assert checks.duplicates_check(table, OBSERVATIONS).passed
    assert checks.duplicates_check(table.take([3, 0, 2, 1]), OBSERVATIONS).passed  # unsorted, all distinct


def test_timestamps_check_fails_on_rows_of_another_hour() -> None:
    table = _landed([_obs("AA01", "G1", "2024-05-01T10:00:01Z"), _obs("AA02", "G1", "2024-05-01T11:20:00Z")])
    assert checks.timestamps_check(table, START, END, tolerance_s=3600).passed
    strict = checks.timestamps_check(table, START, END, tolerance_s=600)
    assert not strict.passed and strict.metadata["event_ts_outside_tolerance"].value == 1
    # Kafka timestamps of another hour mean the offsets were wrong: no tolerance for those.
    shifted = checks.timestamps_check(table, START + dt.timedelta(minutes=30), END, tolerance_s=7200)
    assert not shifted.passed and shifted.metadata["kafka_ts_outside"].value == 2


def _stored(tmp_path: Path, table: pa.Table, row_group_rows: int) -> checks.StoredPartition:
    """`table` written as a partition file with small row groups (each with its own string dictionaries, as
    landed files have), then read back the way land_hour reads it for the checks."""
    lakehouse = Lakehouse(f"file://{tmp_path}/lakehouse")
    partition = Partition(START.date(), START.hour)
    path = Path(lakehouse.path(RAW_OBSERVATIONS.partition_key(partition)))
    path.parent.mkdir(parents=True)
    pq.write_table(table, path, row_group_size=row_group_rows)
    return checks.read_landed(lakehouse, RAW_OBSERVATIONS, partition, OBSERVATIONS)


@pytest.mark.parametrize("in_key_order", [True, False])
def test_checks_on_the_stored_file_find_a_key_repeated_across_row_groups(
    tmp_path: Path, in_key_order: bool
) -> None:
    rows = [
        _obs("AA01", "G2", "2024-05-01T10:00:01Z"),
        _obs("AA02", "G1", "2024-05-01T10:00:01Z"),
        _obs("AA03", "G1", "2024-05-01T10:00:01Z"),
    ]
    table = _landed(rows)
    # AA02's row again, in the next row group: its dictionaries are {AA01, AA02} and {AA02, AA03}.
    doubled = pa.concat_tables([table.slice(0, 2), table.slice(1, 2)])
    doubled = doubled if in_key_order else doubled.take([3, 1, 0, 2])
    stored = _stored(tmp_path, doubled, row_group_rows=2)
    assert checks.schema_check(stored.schema, OBSERVATIONS).passed
    assert stored.columns.num_rows == 4
    result = checks.duplicates_check(stored.columns, OBSERVATIONS)
    assert not result.passed and result.metadata["duplicate_rows"].value == 1
    assert checks.timestamps_check(stored.columns, START, END, tolerance_s=0).passed


def test_checks_on_the_stored_file_pass_on_distinct_keys_and_see_its_real_schema(tmp_path: Path) -> None:
    table = _landed([_obs(f"AA{i:02d}", f"G{i % 3}", f"2024-05-01T10:00:{i:02d}Z") for i in range(7)])
    stored = _stored(tmp_path, table, row_group_rows=3)
    assert checks.duplicates_check(stored.columns, OBSERVATIONS).passed
    assert checks.row_count_check(stored.columns.num_rows, 7, 0, 0).passed
    # The schema is the file's, not the columns read for the other checks.
    assert stored.schema.names == table.schema.names
    narrowed = _stored(tmp_path / "b", table.set_column(3, "rssi", table["rssi"].cast(pa.int64())), 3)
    result = checks.schema_check(narrowed.schema, OBSERVATIONS)
    assert not result.passed and "rssi: int64 (expected int16)" in result.metadata["wrong_type"].value


def test_row_count_check_fails_when_records_went_missing() -> None:
    result = checks.row_count_check(stored_rows=8, topic_records=10, rejected=1, duplicates=0)
    assert not result.passed and result.metadata["topic_records"].value == 10


def test_landing_without_kafka_fails_with_a_message_naming_the_setting() -> None:
    import dagster as dg

    from assets_dag.ingest.assets import raw_observations
    from assets_dag.resources import KafkaResource, LakehouseResource

    result = dg.materialize(
        [raw_observations],
        resources={
            "lakehouse": LakehouseResource(url="file:///tmp/unused"),
            "kafka": KafkaResource(stream_url="memory://"),
        },
        partition_key="2024-05-01-10:00",
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert "ASSET_TAG_STREAM_URL is 'memory://'" in failure.message


def test_out_of_range_numbers_and_records_without_a_value_are_rejected_not_fatal() -> None:
    window = _window(
        [
            _obs("AA01", "G1", "2024-05-01T10:00:01Z"),
            _obs("AA02", "G1", "2024-05-01T10:00:02Z", rssi=99999),  # beyond rssi's int16
            _obs("AA03", "G1", "2024-05-01T10:00:03Z", rssi=-70.5),  # truncated, as the native sink does
            _obs("AA04", "G1", "2024-05-01T10:00:04Z"),
        ]
    )
    window.values.append(None)  # type: ignore[arg-type]  # a tombstone: Kafka record without a value
    window.partitions.append(0)
    window.offsets.append(9)
    window.timestamps_ms.append(window.timestamps_ms[-1])
    decoded = decode(window, OBSERVATIONS)
    assert decoded.table["tag_id"].to_pylist() == ["AA01", "AA03", "AA04"]
    assert decoded.table["rssi"].to_pylist()[1] == -70
    assert decoded.rejected == 2
    joined = "\n".join(decoded.reasons)
    assert "offset 1: rssi: 99999 is out of range for int16" in joined
    assert "offset 9: the record has no value" in joined
