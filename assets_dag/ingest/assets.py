"""Landing assets (group `ingest`): each hour of the realtime topics becomes one Parquet partition.

Re-materialising an hour reads the same Kafka records (by timestamp) and writes the same file, so backfills
and retries are safe. The hourly schedule lands an hour once it is over plus the read slack.
"""

import dagster as dg

from assets_dag.ingest import checks
from assets_dag.ingest.landing import land_hour
from assets_dag.ingest.records import LOCATIONS, OBSERVATIONS, ZONE_EVENTS, RecordSpec
from assets_dag.partitions import HOURLY
from assets_dag.resources import KafkaResource, LakehouseResource
from lakehouse import Dataset, Partition, layout

# Event time may trail the Kafka timestamp (gateways buffer while offline): how far a landed `ts` may be outside.
EVENT_TS_TOLERANCE_S = 3600.0


def _land(
    context: dg.AssetExecutionContext,
    lakehouse: LakehouseResource,
    kafka: KafkaResource,
    topic: str,
    dataset: Dataset,
    spec: RecordSpec,
) -> dg.MaterializeResult:
    partition = Partition.parse(context.partition_key)
    landed = land_hour(
        lakehouse.lakehouse(),
        kafka.client_config(),
        kafka.topic(topic),
        dataset,
        spec,
        partition,
        slack_s=kafka.slack_s,
        tolerance_s=EVENT_TS_TOLERANCE_S,
    )
    context.log.info(
        f"{dataset.prefix} {partition.key}: {landed.written.rows} rows from {landed.topic_records} records"
    )
    return dg.MaterializeResult(metadata=landed.metadata(), check_results=landed.check_results)


@dg.asset(
    group_name="ingest",
    partitions_def=HOURLY,
    check_specs=checks.check_specs("raw_observations"),
    kinds={"kafka", "parquet"},
)
def raw_observations(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, kafka: KafkaResource
) -> dg.MaterializeResult:
    """Every BLE observation of the hour from `ble.observations`, exactly as gateways reported it (raw/observations)."""
    return _land(context, lakehouse, kafka, "ble.observations", layout.RAW_OBSERVATIONS, OBSERVATIONS)


@dg.asset(
    group_name="ingest",
    partitions_def=HOURLY,
    check_specs=checks.check_specs("locations"),
    kinds={"kafka", "parquet"},
)
def locations(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, kafka: KafkaResource
) -> dg.MaterializeResult:
    """Every location fix of the hour from `ble.locations`, at full resolution (curated/locations)."""
    return _land(context, lakehouse, kafka, "ble.locations", layout.LOCATIONS, LOCATIONS)


@dg.asset(
    group_name="ingest",
    partitions_def=HOURLY,
    check_specs=checks.check_specs("zone_events"),
    kinds={"kafka", "parquet"},
)
def zone_events(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, kafka: KafkaResource
) -> dg.MaterializeResult:
    """Every zone enter/exit of the hour from `ble.zone_events` (curated/zone_events)."""
    return _land(context, lakehouse, kafka, "ble.zone_events", layout.ZONE_EVENTS, ZONE_EVENTS)
