"""Sensors: (re)build a day's analytics once all of its hours are landed, and again if an hour is re-landed."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from orchestration.jobs import daily_job

RAW = dg.AssetKey("raw_observations")
LOOKBACK_DAYS = 7


@dg.sensor(job=daily_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING)
def complete_day_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    """For each of the last 7 days whose 24 hours of raw observations are all landed, request the daily job.

    The run key is the day plus the storage id of the newest of its hourly materialisations: a day is built
    once when it completes, once more whenever a backfill re-lands one of its hours, and never twice for the
    same state (Dagster skips run keys it has seen)."""
    instance = context.instance
    landed = instance.get_materialized_partitions(RAW)
    today = dt.datetime.now(dt.UTC).date()
    requests = []
    for back in range(LOOKBACK_DAYS, 0, -1):
        day = (today - dt.timedelta(days=back)).isoformat()
        hours = [f"{day}-{hour:02d}:00" for hour in range(24)]
        if not all(hour in landed for hour in hours):
            continue
        newest = instance.fetch_materializations(dg.AssetRecordsFilter(RAW, asset_partitions=hours), limit=1)
        storage_id = newest.records[0].storage_id if newest.records else 0
        requests.append(dg.RunRequest(run_key=f"{day}@{storage_id}", partition_key=day))
    if not requests:
        return dg.SkipReason(
            f"no day of the last {LOOKBACK_DAYS} has all 24 hours of raw observations landed"
        )
    return dg.SensorResult(run_requests=requests)
