"""Partitions shared by the asset groups: hourly landing, daily marts and reports (UTC)."""

from __future__ import annotations

import dagster as dg

START = "2024-01-01"

HOURLY = dg.HourlyPartitionsDefinition(start_date=f"{START}-00:00", timezone="UTC")
DAILY = dg.DailyPartitionsDefinition(start_date=START, timezone="UTC")
