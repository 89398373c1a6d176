"""Landed rows are ordered by the natural key as strings, whatever order the topic delivered them in."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from assets_dag.ingest import checks
from assets_dag.ingest.records import OBSERVATIONS, ZONE_EVENTS, decode
from assets_dag.ingest.topic_window import TopicWindow

pytestmark = pytest.mark.unit

START = dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)


def _window(records: list[dict[str, object]], partitions: list[int]) -> TopicWindow:
    window = TopicWindow("t", START, START + dt.timedelta(hours=1))
    for offset, (record, partition) in enumerate(zip(records, partitions, strict=True)):
        window.values.append(json.dumps(record).encode())
        window.partitions.append(partition)
        window.offsets.append(offset)
        window.timestamps_ms.append(int(START.timestamp() * 1000) + offset)
    return window


def test_rows_sort_lexically_by_tag_gateway_ts_and_keep_the_lowest_partition_copy() -> None:
    ts = "2024-05-01T10:00:01Z"
    records = [
        {"tag_id": "B2", "gateway_id": "G10", "rssi": -60, "ts": ts},
        {"tag_id": "A9", "gateway_id": "G2", "rssi": -61, "ts": ts},
        {"tag_id": "B10", "gateway_id": "G1", "rssi": -62, "ts": ts},
        {"tag_id": "A9", "gateway_id": "G10", "rssi": -63, "ts": "2024-05-01T10:00:00Z"},
        {"tag_id": "B2", "gateway_id": "G10", "rssi": -64, "ts": ts},  # same key as the first, partition 0
    ]
    decoded = decode(_window(records, partitions=[1, 0, 0, 1, 0]), OBSERVATIONS)
    rows = decoded.table.select(["tag_id", "gateway_id", "rssi", "kafka_partition"]).to_pylist()
    # "B10" < "B2" and "G10" < "G2" as strings; of the two B2/G10 copies the one in partition 0 stays.
    assert [(r["tag_id"], r["gateway_id"], r["rssi"], r["kafka_partition"]) for r in rows] == [
        ("A9", "G10", -63, 1),
        ("A9", "G2", -61, 0),
        ("B10", "G1", -62, 0),
        ("B2", "G10", -64, 0),
    ]
    assert decoded.duplicates == 1


def test_zone_events_are_ordered_by_tag_then_time_after_de_duplication() -> None:
    records = [
        {"tag_id": "T2", "zone_id": "dock", "kind": "enter", "ts": "2024-05-01T10:05:00Z"},
        {"tag_id": "T1", "zone_id": "yard", "kind": "exit", "ts": "2024-05-01T10:09:00Z"},
        {"tag_id": "T1", "zone_id": "dock", "kind": "enter", "ts": "2024-05-01T10:07:00Z"},
        {"tag_id": "T1", "zone_id": "dock", "kind": "enter", "ts": "2024-05-01T10:07:00Z"},
    ]
    decoded = decode(_window(records, partitions=[0, 0, 0, 0]), ZONE_EVENTS)
    assert decoded.table.select(["tag_id", "zone_id", "kind"]).to_pylist() == [
        {"tag_id": "T1", "zone_id": "dock", "kind": "enter"},
        {"tag_id": "T1", "zone_id": "yard", "kind": "exit"},
        {"tag_id": "T2", "zone_id": "dock", "kind": "enter"},
    ]
    assert decoded.duplicates == 1


def test_duplicates_check_counts_repeats_that_are_not_adjacent() -> None:
    ts = "2024-05-01T10:00:01Z"
    records = [{"tag_id": f"T{i % 3}", "gateway_id": "G1", "rssi": -60, "ts": ts} for i in range(3)]
    table = decode(_window(records, partitions=[0, 0, 0]), OBSERVATIONS).table
    repeated = table.take([2, 0, 1, 0, 2])
    result = checks.duplicates_check(repeated, OBSERVATIONS)
    assert not result.passed
    assert result.metadata["duplicate_rows"].value == 2
