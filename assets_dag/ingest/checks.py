"""Checks on a landed partition, as pure functions of the stored table (so they can be tested on bad data).

The landing assets run them on what they read back from the lakehouse after writing, and report them as
Dagster asset checks: schema, no duplicate natural keys, timestamps inside the partition, rows vs topic.
`read_landed` reads back only what the checks look at (the file's schema, its key and time columns), with
string columns as dictionaries: materialising a million strings per column was most of the checks' time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import dagster as dg
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from assets_dag.ingest.records import RecordSpec
from lakehouse import Dataset, Lakehouse, Partition

SCHEMA = "schema_matches_contract"
NO_DUPLICATES = "no_duplicate_keys"
IN_PARTITION = "timestamps_in_partition"
ROWS_MATCH_TOPIC = "row_count_matches_topic"
CHECK_NAMES = (SCHEMA, NO_DUPLICATES, IN_PARTITION, ROWS_MATCH_TOPIC)
TIME_COLUMNS = ("ts", "kafka_ts")  # what timestamps_check looks at


def check_specs(asset: str) -> list[dg.AssetCheckSpec]:
    descriptions = {
        SCHEMA: "The stored file has exactly the columns and types of the data contract.",
        NO_DUPLICATES: "No natural key (e.g. tag, gateway, ts) appears twice.",
        IN_PARTITION: "Kafka timestamps lie in the partition; event timestamps at most the tolerance outside it.",
        ROWS_MATCH_TOPIC: "Stored rows + rejected + duplicates = records the topic holds for the hour.",
    }
    return [dg.AssetCheckSpec(name, asset=asset, description=text) for name, text in descriptions.items()]


@dataclass(frozen=True)
class StoredPartition:
    """What the checks read back from a stored partition file."""

    schema: pa.Schema  # the file's whole schema, as every reader sees it
    columns: pa.Table  # the key and time columns (strings dictionary-encoded), every row of the file


def read_landed(
    lakehouse: Lakehouse, dataset: Dataset, partition: Partition, spec: RecordSpec
) -> StoredPartition:
    """The stored file's schema and the columns the checks need, read back from the lakehouse (what readers
    will see, not what the writer meant to write)."""
    schema = lakehouse.partition_schema(dataset, partition)
    wanted = [c for c in dict.fromkeys([*spec.key, *TIME_COLUMNS]) if c in schema.names]
    strings = [c for c in wanted if pa.types.is_string(schema.field(c).type)]
    columns = lakehouse.read_partition(dataset, partition, wanted, dictionary_columns=strings)
    return StoredPartition(schema=schema, columns=columns)


def schema_check(table: pa.Table | pa.Schema, spec: RecordSpec) -> dg.AssetCheckResult:
    expected = {f.name: str(f.type) for f in spec.schema}
    actual = {f.name: str(f.type) for f in (table if isinstance(table, pa.Schema) else table.schema)}
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    wrong = sorted(name for name in set(expected) & set(actual) if expected[name] != actual[name])
    return dg.AssetCheckResult(
        check_name=SCHEMA,
        passed=not (missing or extra or wrong),
        metadata={
            "missing": ", ".join(missing) or "-",
            "unexpected": ", ".join(extra) or "-",
            "wrong_type": ", ".join(f"{n}: {actual[n]} (expected {expected[n]})" for n in wrong) or "-",
        },
    )


def duplicates_check(table: pa.Table, spec: RecordSpec) -> dg.AssetCheckResult:
    key = list(spec.key)
    frame = pl.from_arrow(pa.table({name: _comparable(table[name]) for name in key}))
    assert isinstance(frame, pl.DataFrame)
    # Landed files are sorted by their key, and in a sorted table equal keys are neighbours: one pass comparing
    # each row with the previous both proves the order and counts repeats (a few times cheaper than hashing).
    ordered, repeated = _sorted_and_repeated(frame, key)
    if ordered:
        duplicates = repeated
    else:
        # Equal keys hash equally, so all-distinct hashes prove there is no duplicate; only otherwise are the
        # keys compared.
        distinct_hashes = frame.select(pl.struct(*key).hash().n_unique()).item()
        duplicates = 0 if distinct_hashes == frame.height else frame.height - frame.unique().height
    return dg.AssetCheckResult(
        check_name=NO_DUPLICATES,
        passed=duplicates == 0,
        metadata={"duplicate_rows": duplicates, "key": ", ".join(spec.key)},
    )


def _comparable(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A dictionary-encoded column as each row's rank among the distinct values: the same order and the same
    equalities as the values themselves (strings compare bytewise either way), at the cost of integers."""
    if not pa.types.is_dictionary(column.type):
        return column
    if column.num_chunks == 0:
        return pa.chunked_array([], pa.uint64())
    unified = column.unify_dictionaries()  # one dictionary of distinct values for every chunk
    ranks = pc.rank(unified.chunk(0).dictionary, sort_keys="ascending", tiebreaker="dense")
    return pa.chunked_array([pc.take(ranks, chunk.indices) for chunk in unified.chunks], pa.uint64())


def _sorted_and_repeated(frame: pl.DataFrame, key: list[str]) -> tuple[bool, int]:
    """Whether the rows are in ascending key order, and how many rows repeat the previous row's key."""
    previous = {column: pl.col(column).shift(1) for column in key}
    same = {column: pl.col(column) == previous[column] for column in key}
    ordered = pl.lit(True)
    for column in reversed(key):  # lexicographic >=, built from the last column outwards
        ordered = (pl.col(column) > previous[column]) | (same[column] & ordered)
    repeated = pl.all_horizontal(list(same.values()))
    row = frame.select(
        ordered.fill_null(True).all().alias("ordered"), repeated.fill_null(False).sum().alias("repeated")
    ).row(0)
    return bool(row[0]), int(row[1])


def timestamps_check(
    table: pa.Table, start: dt.datetime, end: dt.datetime, tolerance_s: float
) -> dg.AssetCheckResult:
    """Kafka timestamps must be in [start, end); event `ts` may differ from them by clock skew and lateness,
    so it must be within `tolerance_s` of the partition."""
    if table.num_rows == 0:
        return dg.AssetCheckResult(check_name=IN_PARTITION, passed=True, metadata={"rows": 0})
    tolerance = dt.timedelta(seconds=tolerance_s)
    kafka_outside = _count_outside(table["kafka_ts"], start, end)
    event_outside = _count_outside(table["ts"], start - tolerance, end + tolerance)
    return dg.AssetCheckResult(
        check_name=IN_PARTITION,
        passed=kafka_outside == 0 and event_outside == 0,
        metadata={
            "kafka_ts_outside": kafka_outside,
            "event_ts_outside_tolerance": event_outside,
            "tolerance_s": tolerance_s,
            "min_ts": str(pc.min(table["ts"]).as_py()),
            "max_ts": str(pc.max(table["ts"]).as_py()),
        },
    )


def _count_outside(column: pa.ChunkedArray, start: dt.datetime, end: dt.datetime) -> int:
    low = pa.scalar(start, column.type)
    high = pa.scalar(end, column.type)
    inside = pc.and_(pc.greater_equal(column, low), pc.less(column, high))
    return len(column) - (pc.sum(inside).as_py() or 0)


def row_count_check(
    stored_rows: int, topic_records: int, rejected: int, duplicates: int
) -> dg.AssetCheckResult:
    accounted = stored_rows + rejected + duplicates
    return dg.AssetCheckResult(
        check_name=ROWS_MATCH_TOPIC,
        passed=accounted == topic_records,
        metadata={
            "topic_records": topic_records,
            "stored_rows": stored_rows,
            "rejected": rejected,
            "duplicates_dropped": duplicates,
        },
    )
