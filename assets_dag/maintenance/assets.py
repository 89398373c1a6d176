"""Maintenance rollup (group `maintenance`): usage hours and next due dates, written back to the database."""

import datetime as dt

import dagster as dg

from assets_dag.maintenance.rollup import compute_due, due_table, load_schedules, usage_by_asset, write_back
from assets_dag.partitions import DAILY, START
from assets_dag.resources import DatabaseResource, LakehouseResource
from lakehouse import Partition, mart


@dg.asset(
    group_name="maintenance", partitions_def=DAILY, deps=["asset_utilisation"], kinds={"postgres", "parquet"}
)
def maintenance_due(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, database: DatabaseResource
) -> dg.MaterializeResult:
    """Each asset's usage hours (sum of daily in-use time) and every maintenance schedule's next due date.

    Updates `assets.usage_hours` and `maintenance_schedules.next_due_at` so the API and the maintenance alert
    rule see them, and keeps the day's list of due items in marts/maintenance_due for the report."""
    day = dt.date.fromisoformat(context.partition_key)
    store = lakehouse.lakehouse()
    engine = database.engine()
    usage = usage_by_asset(store, day, dt.date.fromisoformat(START))
    # Due dates are as of the end of the day being rolled up, so re-running a past day reproduces its answer.
    as_of = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    dues = compute_due(load_schedules(engine), usage, as_of)
    write_back(engine, usage, dues)
    table = due_table(dues, day)
    written = store.write_partition(mart("maintenance_due"), Partition(day), table, sort_by=["next_due_at"])
    overdue = sorted(f"{d.name} ({d.asset_id})" for d in dues if d.overdue)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": table.num_rows,
            "assets_with_usage": len(usage),
            "overdue": len(overdue),
            "overdue_items": "\n".join(overdue[:50]) or "-",
            "uri": dg.MetadataValue.path(written.uri),
        }
    )
