"""The Dagster code location: `dagster dev -m orchestration.definitions`.

Asset groups: ingest (hourly landing + alert history), analytics (daily marts), maintenance, reports.
The `ml` group (MLflow training, registry, promotion) plugs in by adding its module to ASSET_MODULES.
"""

from __future__ import annotations

import dagster as dg

from assets_dag.analytics import assets as analytics
from assets_dag.ingest import assets as ingest
from assets_dag.maintenance import assets as maintenance
from assets_dag.reports import assets as reports
from orchestration.jobs import daily_job, landing_job
from orchestration.resources import build_resources
from orchestration.schedules import daily_analytics_schedule, hourly_landing_schedule
from orchestration.sensors import complete_day_sensor

ASSET_MODULES = [ingest, analytics, maintenance, reports]

defs = dg.Definitions(
    assets=dg.load_assets_from_modules(ASSET_MODULES),
    asset_checks=dg.load_asset_checks_from_modules(ASSET_MODULES),
    resources=build_resources(),
    jobs=[landing_job, daily_job],
    schedules=[hourly_landing_schedule, daily_analytics_schedule],
    sensors=[complete_day_sensor],
)
