"""Jobs: the hourly landing, and the daily chain (alert history -> marts -> maintenance -> report)."""

from __future__ import annotations

import dagster as dg

landing_job = dg.define_asset_job(
    "hourly_landing",
    selection=dg.AssetSelection.groups("ingest") - dg.AssetSelection.assets("alert_history"),
    description="Land the hour's observations, fixes and zone events from Kafka into the lakehouse.",
)

daily_job = dg.define_asset_job(
    "daily_analytics",
    selection=dg.AssetSelection.assets("alert_history")
    | dg.AssetSelection.groups("analytics", "maintenance", "reports"),
    description="Build the day's marts, roll up maintenance due dates and write the site report.",
)
