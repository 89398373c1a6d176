"""Schedules: each run materialises the last complete partition of its job."""

from __future__ import annotations

import dagster as dg

from orchestration.jobs import daily_job, landing_job

# Minute 10: the hour is over and Kafka's read slack (5 min by default) has passed.
hourly_landing_schedule = dg.build_schedule_from_partitioned_job(
    landing_job, minute_of_hour=10, default_status=dg.DefaultScheduleStatus.RUNNING
)

# 01:30 UTC: late observations of the previous day's last hour have been landed by the 00:10 run.
daily_analytics_schedule = dg.build_schedule_from_partitioned_job(
    daily_job, hour_of_day=1, minute_of_hour=30, default_status=dg.DefaultScheduleStatus.RUNNING
)
