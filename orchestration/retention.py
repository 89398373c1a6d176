"""Daily upkeep of the location history table: next days' partitions ahead, expired history out.

PostgreSQL keeps a *significant* location history with a retention period (DESIGN.md); dropping whole daily
partitions is how that retention is enforced cheaply. The full-resolution record stays in the lakehouse.
"""

import dagster as dg

from assets_dag.resources import DatabaseResource
from core.db.partitions import maintain_history
from core.settings import get_settings


@dg.op(
    description="Create the coming days' location_history partitions and drop those past the retention period."
)
def maintain_location_history(context: dg.OpExecutionContext, database: DatabaseResource) -> None:
    retention_days = get_settings().history_retention_days
    result = maintain_history(database.engine(), retention_days)
    context.log.info(
        f"location_history ({result.storage}): created {len(result.created)} partitions, "
        f"dropped {len(result.dropped)}, deleted {result.rows_deleted} rows older than {retention_days} days"
    )


@dg.job(
    description="Daily: location_history partitions ahead, retention enforced (ASSET_TAG_HISTORY_RETENTION_DAYS)."
)
def history_retention_job() -> None:
    maintain_location_history()


history_retention_schedule = dg.ScheduleDefinition(
    job=history_retention_job, cron_schedule="15 0 * * *", execution_timezone="UTC"
)
