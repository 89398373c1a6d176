"""Land one hour of a topic as one Parquet partition: read the window, decode, de-duplicate, write, check."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import dagster as dg

from assets_dag.ingest import checks
from assets_dag.ingest.records import RecordSpec, decode
from assets_dag.ingest.topic_window import read_window
from lakehouse import Dataset, Lakehouse, Partition, WrittenPartition


@dataclass
class Landed:
    written: WrittenPartition
    topic_records: int
    rejected: int
    duplicates: int
    seconds: float
    reasons: list[str] = field(default_factory=list)
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
) -> Landed:
    """Replace `dataset`'s partition with the records `topic` holds for the partition's hour."""
    started = time.perf_counter()
    window = read_window(kafka_config, topic, partition.start, partition.end, slack_s=slack_s)
    decoded = decode(window, spec)
    written = lakehouse.write_partition(dataset, partition, decoded.table)
    stored = lakehouse.read_partition(
        dataset, partition
    )  # check what readers will see, not what we meant to write
    landed = Landed(
        written=written,
        topic_records=len(window),
        rejected=decoded.rejected,
        duplicates=decoded.duplicates,
        seconds=time.perf_counter() - started,
        reasons=decoded.reasons,
    )
    landed.check_results = [
        checks.schema_check(stored, spec),
        checks.duplicates_check(stored, spec),
        checks.timestamps_check(stored, partition.start, partition.end, tolerance_s),
        checks.row_count_check(stored.num_rows, len(window), decoded.rejected, decoded.duplicates),
    ]
    return landed
