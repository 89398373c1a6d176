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

SOURCES: dict[str, tuple[Dataset, pa.Schema]] = {
    "observations": (RAW_OBSERVATIONS, schemas.OBSERVATIONS),
    "locations": (LOCATIONS, schemas.LOCATIONS),
    "zone_events": (ZONE_EVENTS, schemas.ZONE_EVENTS),
    "alerts": (ALERTS, schemas.ALERTS),
}


def register(
    connection: duckdb.DuckDBPyConnection,
    lakehouse: Lakehouse,
    day: dt.date,
    names: Iterable[str],
    days_before: int = 0,
    materialise: bool = False,
) -> dict[str, int]:
    """Create a view per dataset over its partitions from `days_before` days before `day` to `day`.

    A dataset with nothing landed yet becomes an empty view of its schema, so the marts still run (and say 0).
    With `materialise`, the rows are read once into an in-memory table, for building several marts from them."""
    partitions = {}
    for name in names:
        dataset, schema = SOURCES[name]
        uris = lakehouse.partition_uris(dataset, day - dt.timedelta(days=days_before), day)
        partitions[name] = len(uris)
        source = duckdb_source(lakehouse, dataset, day - dt.timedelta(days=days_before), day)
        if source is None:
            connection.register(f"{name}_empty", schema.empty_table())
            connection.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {name}_empty")
        elif materialise:
            connection.execute(f"DROP VIEW IF EXISTS {name}")
            connection.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {source}")
        else:
            connection.execute(f"DROP TABLE IF EXISTS {name}")
            connection.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {source}")
    return partitions


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
