"""The object-store lakehouse: layout, atomic Parquet partition writes, DuckDB/Polars readers.

No code outside this package builds object paths: ask for a `Dataset` and a `Partition` instead.
"""

from lakehouse.layout import (
    ALERTS,
    LOCATIONS,
    RAW_OBSERVATIONS,
    ZONE_EVENTS,
    Dataset,
    Partition,
    mart,
    report_key,
    reports_prefix,
)
from lakehouse.readers import connect, duckdb_source, polars_storage_options, scan
from lakehouse.store import Lakehouse, LakehouseError, S3Options, WrittenPartition

__all__ = [
    "ALERTS",
    "LOCATIONS",
    "RAW_OBSERVATIONS",
    "ZONE_EVENTS",
    "Dataset",
    "Lakehouse",
    "LakehouseError",
    "Partition",
    "S3Options",
    "WrittenPartition",
    "connect",
    "duckdb_source",
    "mart",
    "polars_storage_options",
    "report_key",
    "reports_prefix",
    "scan",
]
