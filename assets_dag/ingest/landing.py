"""Land one hour of a topic as one Parquet partition: read the window, decode, de-duplicate, write, check."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from assets_dag.ingest import checks, native_landing
from assets_dag.ingest.records import OBSERVATIONS, RecordSpec, decode
from assets_dag.ingest.topic_window import read_window
from lakehouse import Dataset, Lakehouse, Partition, WrittenPartition

log = logging.getLogger(__name__)


@dataclass
class Landed:
    written: WrittenPartition
    topic_records: int
    rejected: int
    duplicates: int
    seconds: float
    reasons: list[str] = field(default_factory=list)
    native: bool = False  # landed by the Go sink (lakehouse/native/landing) rather than in Python
    check_results: list[dg.AssetCheckResult] = field(default_factory=list)

    def metadata(self) -> dict[str, object]:
        return {
            "dagster/row_count": self.written.rows,
            "uri": dg.MetadataValue.path(self.written.uri),
            "bytes": self.written.bytes,
            "topic_records": self.topic_records,
            "rejected": self.rejected,
            "duplicates_dropped": self.duplicates,
            "records_per_s": round(self.topic_records / self.seconds) if self.seconds else 0,
            "rejection_reasons": "\n".join(self.reasons) or "-",
            "landed_by": "native sink" if self.native else "python",
        }


def land_hour(
    lakehouse: Lakehouse,
    kafka_config: dict[str, str],
    topic: str,
    dataset: Dataset,
    spec: RecordSpec,
    partition: Partition,
    *,
    slack_s: float = 300.0,
    tolerance_s: float = 3600.0,
    native: bool | None = None,
) -> Landed:
    """Replace `dataset`'s partition with the records `topic` holds for the partition's hour.

    Observations go through the native sink (several times faster) unless `native` is False; it is used
    when it is built or can be built, else the Python path lands the hour and says why in the log.
    `native=True` insists on the sink (raises when it cannot run)."""
    started = time.perf_counter()
    executable = (
        _native_sink(kafka_config, spec, topic, required=native is True) if native is not False else None
    )
    if executable is not None:
        landed = _land_native(executable, lakehouse, kafka_config, topic, dataset, partition, slack_s)
    else:
        landed = _land_python(lakehouse, kafka_config, topic, dataset, spec, partition, slack_s)
    stored = checks.read_landed(lakehouse, dataset, partition, spec)  # what readers see, not what we meant
    landed.seconds = time.perf_counter() - started
    landed.check_results = [
        checks.schema_check(stored.schema, spec),
        checks.duplicates_check(stored.columns, spec),
        checks.timestamps_check(stored.columns, partition.start, partition.end, tolerance_s),
        checks.row_count_check(
            stored.columns.num_rows, landed.topic_records, landed.rejected, landed.duplicates
        ),
    ]
    return landed


def _native_sink(
    kafka_config: dict[str, str], spec: RecordSpec, topic: str, *, required: bool
) -> Path | None:
    """The sink's executable when it can land this topic, else None (with a log line saying why)."""
    if spec != OBSERVATIONS:
        if required:
            raise native_landing.NativeLandingError(f"{topic}: the native sink lands observations only")
        return None
    if not native_landing.supports(kafka_config):
        if required:
            raise native_landing.NativeLandingError(f"{topic}: the native sink speaks plaintext Kafka only")
        log.info("landing %s with the Python path: the native sink speaks plaintext Kafka only", topic)
        return None
    executable = native_landing.binary()
    if executable is None:
        if required:
            raise native_landing.NativeLandingError(
                f"{topic}: the native landing sink is missing and could not be built (run `make landing`)"
            )
        log.warning(
            "landing %s with the slower Python path: the native sink %s is missing and could not be "
            "built (is Go installed? run `make landing`)",
            topic,
            native_landing.BINARY,
        )
    return executable


def _land_native(
    executable: Path,
    lakehouse: Lakehouse,
    kafka_config: dict[str, str],
    topic: str,
    dataset: Dataset,
    partition: Partition,
    slack_s: float,
) -> Landed:
    uri = lakehouse.uri(dataset.partition_key(partition))
    result = native_landing.land_window(
        executable, kafka_config, topic, partition.start, partition.end, uri, lakehouse.s3, slack_s=slack_s
    )
    return Landed(
        written=WrittenPartition(uri=result.uri, rows=result.rows, bytes=result.bytes),
        topic_records=result.topic_records,
        rejected=result.rejected,
        duplicates=result.duplicates,
        seconds=0.0,
        reasons=result.reasons,
        native=True,
    )


def _land_python(
    lakehouse: Lakehouse,
    kafka_config: dict[str, str],
    topic: str,
    dataset: Dataset,
    spec: RecordSpec,
    partition: Partition,
    slack_s: float,
) -> Landed:
    window = read_window(kafka_config, topic, partition.start, partition.end, slack_s=slack_s)
    decoded = decode(window, spec)
    written = lakehouse.write_partition(dataset, partition, decoded.table)
    return Landed(
        written=written,
        topic_records=len(window),
        rejected=decoded.rejected,
        duplicates=decoded.duplicates,
        seconds=0.0,
        reasons=decoded.reasons,
    )
