"""DuckDB and Polars over the same partitions, for `file://` and `s3://` (MinIO) lakehouses alike.

DuckDB reaches S3 through its httpfs extension. It cannot be downloaded on machines without internet, so it
comes from the `duckdb-ext-httpfs` package, whose files are laid out as an extension directory.
Both readers take the explicit list of partition files (no globbing) and derive the hive columns
`date` (and `hour`) from the paths, so they see exactly the same rows and columns.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from urllib.parse import urlsplit

import duckdb
import polars as pl

from lakehouse.layout import Dataset
from lakehouse.store import Lakehouse, LakehouseError


def _extension_directory() -> str:
    spec = importlib.util.find_spec("duckdb_ext")
    if spec is None or not spec.submodule_search_locations:
        raise LakehouseError(
            "the duckdb-ext-httpfs package is not installed; DuckDB cannot read s3:// lakehouses"
        )
    return f"{next(iter(spec.submodule_search_locations))}/extensions"


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def connect(lakehouse: Lakehouse, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection that can read the lakehouse (httpfs and an S3 secret for s3:// URLs)."""
    connection = duckdb.connect(":memory:")
    connection.execute("SET TimeZone = 'UTC'")  # partitions, hours and days are UTC everywhere
    if threads:
        connection.execute(f"SET threads = {int(threads)}")
    if lakehouse.scheme == "s3":
        connection.execute(f"SET extension_directory = {_sql_string(_extension_directory())}")
        connection.execute("LOAD httpfs")
        s3 = lakehouse.s3
        options = [f"REGION {_sql_string(s3.region)}"]
        if s3.access_key_id and s3.secret_access_key:
            options += [
                f"KEY_ID {_sql_string(s3.access_key_id)}",
                f"SECRET {_sql_string(s3.secret_access_key)}",
            ]
        if s3.endpoint_url:
            endpoint = urlsplit(s3.endpoint_url)
            options += [
                f"ENDPOINT {_sql_string(endpoint.netloc)}",
                "URL_STYLE 'path'",
                f"USE_SSL {'true' if endpoint.scheme == 'https' else 'false'}",
            ]
        connection.execute(f"CREATE OR REPLACE SECRET lakehouse (TYPE s3, {', '.join(options)})")
    return connection


def duckdb_source(
    lakehouse: Lakehouse, dataset: Dataset, start: dt.date, end: dt.date | None = None
) -> str | None:
    """A `read_parquet(...)` table expression over the dataset's partitions for start..end, or None if none exist."""
    uris = lakehouse.partition_uris(dataset, start, end)
    if not uris:
        return None
    listed = ", ".join(_sql_string(uri) for uri in uris)
    types = "{'date': DATE, 'hour': INTEGER}" if dataset.hourly else "{'date': DATE}"
    # by name: files written before a column was added read as nulls in it
    return f"read_parquet([{listed}], hive_partitioning = true, hive_types = {types}, union_by_name = true)"


def polars_storage_options(lakehouse: Lakehouse) -> dict[str, str] | None:
    if lakehouse.scheme != "s3":
        return None
    s3 = lakehouse.s3
    options = {"aws_region": s3.region}
    if s3.access_key_id and s3.secret_access_key:
        options.update(aws_access_key_id=s3.access_key_id, aws_secret_access_key=s3.secret_access_key)
    if s3.endpoint_url:
        options.update(
            aws_endpoint_url=s3.endpoint_url, aws_allow_http="true", aws_virtual_hosted_style_request="false"
        )
    return options


def scan(
    lakehouse: Lakehouse, dataset: Dataset, start: dt.date, end: dt.date | None = None
) -> pl.LazyFrame | None:
    """A Polars LazyFrame over the dataset's partitions for start..end (with hive columns), or None if none exist.

    Files written by different versions may differ in columns (zone events gained their evidence columns): the
    newest file's columns are the frame's, and older files give nulls for the columns they lack, as in
    `duckdb_source` and `Lakehouse.read_between`."""
    partitions = lakehouse.partitions_between(dataset, start, end)
    if not partitions:
        return None
    newest = pl.from_arrow(lakehouse.partition_schema(dataset, partitions[-1]).empty_table())
    hive_schema = {"date": pl.Date, "hour": pl.Int32} if dataset.hourly else {"date": pl.Date}
    return pl.scan_parquet(
        [lakehouse.uri(dataset.partition_key(p)) for p in partitions],
        schema=newest.schema,  # type: ignore[union-attr]
        missing_columns="insert",
        extra_columns="ignore",
        hive_partitioning=True,
        hive_schema=hive_schema,
        storage_options=polars_storage_options(lakehouse),
    )
