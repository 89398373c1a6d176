"""Maintenance rollup: usage hours per asset from the utilisation mart, due dates written back to the database.

Idempotent: an asset's usage counter is recomputed as the sum of its daily in-use hours over every
utilisation partition up to the day, rather than incremented, so re-running a day changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

import pyarrow as pa
from sqlalchemy import Engine, select, update

from assets_dag.maintenance.due import Due, Schedule, Usage, earliest, next_due
from lakehouse import Lakehouse, connect, duckdb_source, mart

USAGE_RATE_DAYS = 14


def usage_by_asset(lakehouse: Lakehouse, day: dt.date, first_day: dt.date) -> dict[str, Usage]:
    """Total in-use hours per asset up to `day`, and the average per day over the last 14 days."""
    source = duckdb_source(lakehouse, mart("asset_utilisation"), first_day, day)
    if source is None:
        return {}
    rows = (
        connect(lakehouse)
        .execute(
            f"""SELECT asset_id, sum(in_use_s) / 3600.0,
                   sum(in_use_s) FILTER (date > $day - INTERVAL {USAGE_RATE_DAYS} DAY) / 3600.0 / {USAGE_RATE_DAYS}
            FROM {source} WHERE asset_id IS NOT NULL AND date <= $day GROUP BY asset_id""",
            {"day": day},
        )
        .fetchall()
    )
    return {str(asset): Usage(total or 0.0, rate or 0.0) for asset, total, rate in rows}


def load_schedules(engine: Engine) -> list[Schedule]:
    """Enabled schedules, one per asset (a category schedule expands to every asset of the category)."""
    from core.db.models import Asset, MaintenanceSchedule

    with engine.connect() as connection:
        schedules = connection.execute(
            select(MaintenanceSchedule).where(MaintenanceSchedule.enabled.is_(True))
        ).all()
        by_category: dict[str, list[str]] = {}
        for asset_id, category in connection.execute(select(Asset.id, Asset.category)).all():
            if category:
                by_category.setdefault(category, []).append(str(asset_id))
    expanded = []
    for row in schedules:
        assets = [str(row.asset_id)] if row.asset_id else by_category.get(row.category or "", [])
        for asset_id in assets:
            expanded.append(
                Schedule(
                    str(row.id),
                    row.name,
                    asset_id,
                    row.interval_days,
                    row.interval_usage_hours,
                    row.last_done_at,
                    row.usage_hours_at_last,
                )
            )
    return expanded


def compute_due(schedules: list[Schedule], usage: dict[str, Usage], now: dt.datetime) -> list[Due]:
    return [next_due(s, usage.get(s.asset_id, Usage(0.0, 0.0)), now) for s in schedules]


def write_back(engine: Engine, usage: dict[str, Usage], dues: list[Due]) -> None:
    """Store each asset's usage counter and each schedule's (earliest) next due date."""
    import uuid

    from core.db.models import Asset, MaintenanceSchedule

    per_schedule: dict[str, list[Due]] = {}
    for due in dues:
        per_schedule.setdefault(due.schedule_id, []).append(due)
    with engine.begin() as connection:
        for asset_id, asset_usage in usage.items():
            connection.execute(
                update(Asset)
                .where(Asset.id == uuid.UUID(asset_id))
                .values(usage_hours=asset_usage.total_hours)
            )
        for schedule_id, group in per_schedule.items():
            first = earliest(group)
            connection.execute(
                update(MaintenanceSchedule)
                .where(MaintenanceSchedule.id == uuid.UUID(schedule_id))
                .values(next_due_at=first.next_due_at if first else None)
            )


def due_table(dues: list[Due], day: dt.date) -> pa.Table:
    rows = [asdict(d) | {"date": day} for d in dues]
    schema = pa.schema(
        [
            ("date", pa.date32()),
            ("schedule_id", pa.string()),
            ("name", pa.string()),
            ("asset_id", pa.string()),
            ("next_due_at", pa.timestamp("us", tz="UTC")),
            ("reason", pa.string()),
            ("usage_hours_since", pa.float64()),
            ("overdue", pa.bool_()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)
