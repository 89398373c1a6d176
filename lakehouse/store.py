"""The lakehouse under one URL (`file:///path` or `s3://bucket/prefix`): atomic partition writes and reads.

Reads and writes go through pyarrow's C++ filesystems (local or S3, including MinIO with path-style
addressing), which are much faster than fsspec for whole-file Parquet I/O. Every partition is one Parquet
file with a fixed name: writing it again replaces it whole, so re-materialising a partition is idempotent,
and because rows are sorted before writing, the same rows give a byte-identical file.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from lakehouse.layout import PART_FILE, Dataset, Partition, days

if TYPE_CHECKING:
    from core.settings import Settings

# Big enough for fast scans, small enough that DuckDB parallelises over one hour's file.
ROW_GROUP_ROWS = 128 * 1024
COMPRESSION = "zstd"


class LakehouseError(ValueError):
    """The lakehouse URL or credentials are wrong; the message names the setting."""


@dataclass(frozen=True)
class S3Options:
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    region: str = "us-east-1"


@dataclass(frozen=True)
class WrittenPartition:
    uri: str
    rows: int
    bytes: int


class Lakehouse:
    """Datasets under a `file://` or `s3://` URL. Build one with `Lakehouse.from_settings(settings)`."""

    def __init__(self, url: str, s3: S3Options | None = None) -> None:
        parts = urlsplit(url)
        self.url = url.rstrip("/")
        self.scheme = parts.scheme.lower()
        self.s3 = s3 or S3Options()
        if self.scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise LakehouseError(f"ASSET_TAG_LAKEHOUSE_URL: file URLs need an absolute path, got {url!r}")
            self.root = unquote(parts.path).rstrip("/") or "/"
            self.fs: pafs.FileSystem = pafs.LocalFileSystem()
        elif self.scheme == "s3":
            if not parts.netloc:
                raise LakehouseError(f"ASSET_TAG_LAKEHOUSE_URL: an s3 URL needs a bucket, got {url!r}")
            self.root = f"{parts.netloc}{parts.path}".rstrip("/")
            self.fs = _s3_filesystem(self.s3)
        else:
            raise LakehouseError(
                f"ASSET_TAG_LAKEHOUSE_URL: expected file:///absolute/path or s3://bucket/prefix, got {url!r}"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> Lakehouse:
        return cls(
            settings.lakehouse_url,
            S3Options(
                endpoint_url=settings.s3_endpoint_url,
                access_key_id=settings.s3_access_key_id or os.environ.get("AWS_ACCESS_KEY_ID"),
                secret_access_key=settings.s3_secret_access_key or os.environ.get("AWS_SECRET_ACCESS_KEY"),
                region=settings.s3_region,
            ),
        )

    # --- addressing ------------------------------------------------------------------------------
    def path(self, key: str) -> str:
        """Filesystem path (for `self.fs`) of a key relative to the lakehouse root."""
        return f"{self.root}/{key}"

    def uri(self, key: str) -> str:
        """Full URL of a key, as DuckDB and Polars take it."""
        return f"{self.url}/{key}" if self.scheme == "s3" else self.path(key)

    # --- tables ----------------------------------------------------------------------------------
    def write_partition(
        self, dataset: Dataset, partition: Partition, table: pa.Table, sort_by: Sequence[str] = ()
    ) -> WrittenPartition:
        """Replace the partition with `table` (sorted by `sort_by` so equal input gives an identical file)."""
        if sort_by:
            table = table.sort_by([(column, "ascending") for column in sort_by])
        key = dataset.partition_key(partition)
        buffer = pa.BufferOutputStream()
        pq.write_table(
            table,
            buffer,
            compression=COMPRESSION,
            row_group_size=ROW_GROUP_ROWS,
            use_dictionary=True,
            write_statistics=True,
        )
        data = buffer.getvalue()
        self._put_atomic(key, data)
        return WrittenPartition(uri=self.uri(key), rows=table.num_rows, bytes=data.size)

    def read_partition(
        self,
        dataset: Dataset,
        partition: Partition,
        columns: Sequence[str] | None = None,
        dictionary_columns: Sequence[str] = (),
    ) -> pa.Table:
        """The partition's rows; raises FileNotFoundError naming the partition if it was never written.
        `dictionary_columns` come back dictionary-encoded as stored (see `read_between`); the columns' byte
        ranges are fetched in a few coalesced requests (on S3 each request is a round trip)."""
        with _named_if_missing(dataset, partition):
            return pq.read_table(
                self.path(dataset.partition_key(partition)),
                filesystem=self.fs,
                columns=list(columns) if columns else None,
                read_dictionary=list(dictionary_columns) or None,
                pre_buffer=True,
            )

    def partition_schema(self, dataset: Dataset, partition: Partition) -> pa.Schema:
        """The stored file's schema (its footer only); FileNotFoundError as `read_partition`."""
        with _named_if_missing(dataset, partition):
            return pq.read_schema(self.path(dataset.partition_key(partition)), filesystem=self.fs)

    def has_partition(self, dataset: Dataset, partition: Partition) -> bool:
        return self.fs.get_file_info(self.path(dataset.partition_key(partition))).type == pafs.FileType.File

    def partitions(self, dataset: Dataset) -> list[Partition]:
        """Every written partition of the dataset, in time order."""
        return sorted(set(self._written(dataset, dataset.prefix)), key=lambda p: (p.date, p.hour or 0))

    def _written(self, dataset: Dataset, prefix: str) -> list[Partition]:
        """The dataset's partitions with a written file under `prefix` (the dataset's, or one day's folder)."""
        root = self.path(dataset.prefix)
        selector = pafs.FileSelector(self.path(prefix), recursive=True, allow_not_found=True)
        found = []
        for info in self.fs.get_file_info(selector):
            if info.type == pafs.FileType.File and info.base_name == PART_FILE:
                partition = dataset.parse_partition(info.path[len(root) :].rsplit("/", 1)[0])
                if partition is not None:
                    found.append(partition)
        return found

    def partition_uris(self, dataset: Dataset, start: dt.date, end: dt.date | None = None) -> list[str]:
        """URLs of the written partition files for dates start..end (inclusive), in time order."""
        return [self.uri(dataset.partition_key(p)) for p in self.partitions_between(dataset, start, end)]

    def read_between(
        self,
        dataset: Dataset,
        start: dt.date,
        end: dt.date | None = None,
        columns: Sequence[str] | None = None,
        dictionary_columns: Sequence[str] = (),
    ) -> pa.Table | None:
        """The rows of dates start..end read with pyarrow's parallel S3/local reader (about twice as fast as
        DuckDB's httpfs for whole files); None if nothing was written. No hive columns are added.

        `dictionary_columns` (string columns with few distinct values, e.g. tag and gateway ids) come back
        dictionary-encoded as Parquet stores them: no string is materialised per row, which makes reading
        them and scanning them from DuckDB several times cheaper."""
        partitions = self.partitions_between(dataset, start, end)
        if not partitions:
            return None
        paths = [self.path(dataset.partition_key(p)) for p in partitions]
        parquet = pads.ParquetFileFormat(
            read_options=pads.ParquetReadOptions(dictionary_columns=list(dictionary_columns))
        )
        # The newest file's columns: files written before a column was added give nulls for it.
        newest = self.partition_schema(dataset, partitions[-1])
        schema = pa.schema(
            [
                pa.field(f.name, pa.dictionary(pa.int32(), f.type))
                if f.name in dictionary_columns and pa.types.is_string(f.type)
                else f
                for f in newest
            ]
        )
        return pads.dataset(paths, schema=schema, filesystem=self.fs, format=parquet).to_table(
            columns=list(columns) if columns else None
        )

    def partitions_between(
        self, dataset: Dataset, start: dt.date, end: dt.date | None = None
    ) -> list[Partition]:
        """Written partitions for dates start..end (inclusive), in time order.

        Lists only the requested days' folders: a dataset with years of hourly partitions stays cheap to read."""
        found = [
            partition
            for day in days(start, end or start)
            for partition in self._written(dataset, f"{dataset.prefix}/{Partition(day).key}")
        ]
        found.sort(key=lambda p: (p.date, p.hour or 0))
        return found

    def delete_partition(self, dataset: Dataset, partition: Partition) -> None:
        path = self.path(dataset.partition_key(partition))
        if self.fs.get_file_info(path).type == pafs.FileType.File:
            self.fs.delete_file(path)

    # --- plain files (reports) -------------------------------------------------------------------
    def write_bytes(self, key: str, data: bytes) -> str:
        self._put_atomic(key, data)
        return self.uri(key)

    def read_bytes(self, key: str) -> bytes:
        try:
            with self.fs.open_input_stream(self.path(key)) as stream:
                return stream.read()
        except FileNotFoundError:
            raise FileNotFoundError(f"{key} does not exist in the lakehouse") from None

    def list_keys(self, prefix: str) -> list[str]:
        """Keys (relative to the root) of every file under `prefix`, sorted."""
        selector = pafs.FileSelector(self.path(prefix), recursive=True, allow_not_found=True)
        start = len(self.root) + 1
        return sorted(
            info.path[start:] for info in self.fs.get_file_info(selector) if info.type == pafs.FileType.File
        )

    # --- internals -------------------------------------------------------------------------------
    def _put_atomic(self, key: str, data: bytes | pa.Buffer) -> None:
        path = self.path(key)
        if self.scheme == "file":
            # Write beside the target and rename over it: readers see the old file or the new one, never half.
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            temporary = f"{path}.{uuid.uuid4().hex}.tmp"
            with open(temporary, "wb") as handle:
                handle.write(memoryview(data))
            os.replace(temporary, path)
        else:
            # An S3 PUT (or completed multipart upload) becomes visible all at once.
            with self.fs.open_output_stream(path) as stream:
                stream.write(data)


def _s3_filesystem(options: S3Options) -> pafs.S3FileSystem:
    kwargs: dict[str, object] = {"region": options.region}
    if options.access_key_id and options.secret_access_key:
        kwargs.update(access_key=options.access_key_id, secret_key=options.secret_access_key)
    if options.endpoint_url:
        endpoint = urlsplit(options.endpoint_url)
        if not endpoint.hostname:
            raise LakehouseError(
                f"ASSET_TAG_S3_ENDPOINT_URL: expected http(s)://host:port, got {options.endpoint_url!r}"
            )
        kwargs.update(
            endpoint_override=endpoint.netloc,
            scheme=endpoint.scheme or "http",
            force_virtual_addressing=False,
        )
    return pafs.S3FileSystem(**kwargs)


@contextmanager
def _named_if_missing(dataset: Dataset, partition: Partition) -> Iterator[None]:
    """A missing partition file raises FileNotFoundError naming the dataset and partition, not the path."""
    try:
        yield
    except FileNotFoundError:
        raise FileNotFoundError(f"{dataset.prefix}: partition {partition.key} has not been written") from None
