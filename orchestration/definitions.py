"""The Dagster code location: `dagster dev -m orchestration.definitions`.

Asset groups: ingest (hourly landing + alert history), analytics (daily marts), maintenance, reports, and ml
(MLflow training, registry, promotion, drift). A daily job keeps the location_history partitions and retention.
"""

from __future__ import annotations

import dagster as dg

from assets_dag.analytics import assets as analytics
from assets_dag.ingest import assets as ingest
from assets_dag.maintenance import assets as maintenance
from assets_dag.ml import ml_assets, ml_checks, ml_jobs, ml_schedules, ml_sensors
from assets_dag.reports import assets as reports
from orchestration.jobs import daily_job, landing_job
from orchestration.resources import build_resources
from orchestration.retention import history_retention_job, history_retention_schedule
from orchestration.schedules import daily_analytics_schedule, hourly_landing_schedule
from orchestration.sensors import complete_day_sensor

ASSET_MODULES = [ingest, analytics, maintenance, reports]

defs = dg.Definitions(
    assets=[*dg.load_assets_from_modules(ASSET_MODULES), *ml_assets],
    asset_checks=[*dg.load_asset_checks_from_modules(ASSET_MODULES), *ml_checks],
    resources=build_resources(),
    jobs=[landing_job, daily_job, history_retention_job, *ml_jobs],
    schedules=[hourly_landing_schedule, daily_analytics_schedule, history_retention_schedule, *ml_schedules],
    sensors=[complete_day_sensor, *ml_sensors],
)
