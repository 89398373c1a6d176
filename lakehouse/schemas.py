"""Arrow schemas of the landed datasets: the contract between landing, marts, notebooks and the API.

Timestamps are UTC microseconds. `kafka_*` columns record where a row came from, so a partition can be
traced back to (and re-read from) its topic.
"""

from __future__ import annotations

import pyarrow as pa

UTC_TS = pa.timestamp("us", tz="UTC")

OBSERVATIONS = pa.schema(
    [
        pa.field("tag_id", pa.string(), nullable=False),
        pa.field("gateway_id", pa.string(), nullable=False),
        pa.field("ts", UTC_TS, nullable=False),
        pa.field("rssi", pa.int16(), nullable=False),
        pa.field("tx_power", pa.int16()),
        pa.field("battery", pa.float32()),
        pa.field("temperature", pa.float32()),
        pa.field("seq", pa.int64()),
        pa.field("kafka_partition", pa.int32(), nullable=False),
        pa.field("kafka_offset", pa.int64(), nullable=False),
        pa.field("kafka_ts", UTC_TS, nullable=False),
    ]
)

LOCATIONS = pa.schema(
    [
        pa.field("tag_id", pa.string(), nullable=False),
        pa.field("asset_id", pa.string()),
        pa.field("site_id", pa.string()),
        pa.field("ts", UTC_TS, nullable=False),
        pa.field("x", pa.float64(), nullable=False),
        pa.field("y", pa.float64(), nullable=False),
        pa.field("lat", pa.float64()),
        pa.field("lon", pa.float64()),
        pa.field("floor", pa.int16()),
        pa.field("accuracy_m", pa.float32()),
        pa.field("confidence", pa.float32()),
        pa.field("method", pa.string()),
        pa.field("gateway_count", pa.int16()),
        pa.field("zone_ids", pa.list_(pa.string())),
        pa.field("kafka_partition", pa.int32(), nullable=False),
        pa.field("kafka_offset", pa.int64(), nullable=False),
        pa.field("kafka_ts", UTC_TS, nullable=False),
    ]
)

ZONE_EVENTS = pa.schema(
    [
        pa.field("tag_id", pa.string(), nullable=False),
        pa.field("asset_id", pa.string()),
        pa.field("site_id", pa.string()),
        pa.field("zone_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # enter | exit
        pa.field("ts", UTC_TS, nullable=False),
        pa.field("dwell_s", pa.float64()),
        # why, and on what evidence (core.geofence.ZoneTransition); null in events published, and hours landed,
        # before zone events carried it: readers select columns by name, so old and new files read together
        pa.field("reason", pa.string()),
        pa.field("depth_m", pa.float64()),
        pa.field("accuracy_m", pa.float64()),
        pa.field("margin_m", pa.float64()),
        pa.field("kafka_partition", pa.int32(), nullable=False),
        pa.field("kafka_offset", pa.int64(), nullable=False),
        pa.field("kafka_ts", UTC_TS, nullable=False),
    ]
)

ALERTS = pa.schema(
    [
        pa.field("alert_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("severity", pa.string()),
        pa.field("subject_key", pa.string()),
        pa.field("asset_id", pa.string()),
        pa.field("site_id", pa.string()),
        pa.field("status", pa.string()),
        pa.field("opened_at", UTC_TS, nullable=False),
        pa.field("acknowledged_at", UTC_TS),
        pa.field("resolved_at", UTC_TS),
    ]
)

# Unique key of each landed dataset, checked after landing.
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "observations": ("tag_id", "gateway_id", "ts"),
    "locations": ("tag_id", "ts"),
    "zone_events": ("tag_id", "zone_id", "kind", "ts"),
    "alerts": ("alert_id",),
}
