"""Expose the lakehouse datasets of a day to DuckDB as views named after them, for the mart SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import duckdb
import pyarrow as pa

from lakehouse import (
    ALERTS,
    LOCATIONS,
    RAW_OBSERVATIONS,
    ZONE_EVENTS,
    Dataset,
    Lakehouse,
    duckdb_source,
    mart,
    schemas,
)

# The columns the marts use: reading only these skips the kafka_* bookkeeping and the fix's zone list,
# which is most of the bytes fetched from object storage.
SOURCES: dict[str, tuple[Dataset, pa.Schema, tuple[str, ...]]] = {
    "observations": (
        RAW_OBSERVATIONS,
        schemas.OBSERVATIONS,
        ("tag_id", "gateway_id", "ts", "rssi", "battery"),
    ),
    "locations": (
        LOCATIONS,
        schemas.LOCATIONS,
        ("tag_id", "asset_id", "ts", "x", "y", "method", "accuracy_m", "confidence", "gateway_count"),
    ),
    "zone_events": (
        ZONE_EVENTS,
        schemas.ZONE_EVENTS,
        ("tag_id", "asset_id", "zone_id", "kind", "ts", "dwell_s"),
    ),
    "alerts": (
        ALERTS,
        schemas.ALERTS,
        ("alert_id", "kind", "severity", "opened_at", "acknowledged_at", "resolved_at"),
    ),
}


# Identifiers and labels repeated on millions of rows: read as dictionaries (see Lakehouse.read_between).
DICTIONARY_COLUMNS = frozenset({"tag_id", "gateway_id", "asset_id", "method", "zone_id", "kind"})


def register(
    connection: duckdb.DuckDBPyConnection,
    lakehouse: Lakehouse,
    day: dt.date,
    names: Iterable[str],
    days_before: int = 0,
    materialise: bool = False,
) -> None:
    """Create a view per dataset over its partitions from `days_before` days before `day` to `day`.

    A dataset with nothing landed yet becomes an empty view of its schema, so the marts still run (and say 0).
    With `materialise`, the rows are read once into an in-memory table, for building several marts from them."""
    for name in names:
        dataset, schema, columns = SOURCES[name]
        listed = ", ".join(columns)
        source = duckdb_source(lakehouse, dataset, day - dt.timedelta(days=days_before), day)
        connection.unregister(name)
        connection.execute(f"DROP VIEW IF EXISTS {name}")
        if source is None:
            connection.register(f"{name}_empty", schema.empty_table())
            connection.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT {listed} FROM {name}_empty")
        elif materialise:
            # pyarrow fetches the files in parallel; DuckDB then scans the Arrow table in place (no copy).
            table = lakehouse.read_between(
                dataset,
                day - dt.timedelta(days=days_before),
                day,
                columns,
                dictionary_columns=[c for c in columns if c in DICTIONARY_COLUMNS],
            )
            connection.register(name, table)
        else:
            connection.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT {listed} FROM {source}")


def register_history(
    connection: duckdb.DuckDBPyConnection,
    lakehouse: Lakehouse,
    mart_name: str,
    view: str,
    day: dt.date,
    days: int,
) -> int:
    """A view over the previous `days` partitions of a mart (e.g. battery history for its trend)."""
    source = duckdb_source(
        lakehouse, mart(mart_name), day - dt.timedelta(days=days), day - dt.timedelta(days=1)
    )
    if source is None:
        return 0
    connection.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {source}")
    return 1
