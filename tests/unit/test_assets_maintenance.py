"""Maintenance due dates for both schedule kinds, and the rollup writing them back to the database."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from assets_dag.maintenance.due import Schedule, Usage, next_due
from assets_dag.maintenance.rollup import compute_due, load_schedules, usage_by_asset, write_back
from core.settings import Settings
from lakehouse import Lakehouse, Partition, mart

pytestmark = pytest.mark.unit

NOW = dt.datetime(2024, 5, 10, tzinfo=dt.UTC)


def _schedule(days: float | None = None, hours: float | None = None, done: dt.datetime | None = None,
              at_last: float | None = None) -> Schedule:  # fmt: skip
    return Schedule("s1", "service", "a1", days, hours, done, at_last)


def test_calendar_schedule_is_due_interval_days_after_it_was_done() -> None:
    due = next_due(_schedule(days=30, done=dt.datetime(2024, 5, 1, tzinfo=dt.UTC)), Usage(100, 8), NOW)
    assert (due.next_due_at, due.reason, due.overdue) == (
        dt.datetime(2024, 5, 31, tzinfo=dt.UTC),
        "days",
        False,
    )
    late = next_due(_schedule(days=7, done=dt.datetime(2024, 5, 1, tzinfo=dt.UTC)), Usage(100, 8), NOW)
    assert late.next_due_at == dt.datetime(2024, 5, 8, tzinfo=dt.UTC) and late.overdue


def test_usage_schedule_projects_the_due_date_from_recent_daily_use() -> None:
    # 250 h limit, 100 h used since the last service (400 - 300), using 10 h/day: 150 h left = 15 days.
    schedule = _schedule(hours=250, done=dt.datetime(2024, 4, 1, tzinfo=dt.UTC), at_last=300)
    due = next_due(schedule, Usage(total_hours=400, hours_per_day=10), NOW)
    assert due.next_due_at == NOW + dt.timedelta(days=15)
    assert (due.reason, due.usage_hours_since, due.overdue) == ("usage", 100, False)
    # Used up: overdue now. Not used at all: no date to project.
    assert next_due(schedule, Usage(560, 10), NOW).overdue
    idle = next_due(schedule, Usage(400, 0), NOW)
    assert idle.next_due_at is None and idle.reason == "idle" and not idle.overdue


def test_with_both_intervals_the_first_to_come_wins_and_never_done_is_due_now() -> None:
    both = _schedule(days=90, hours=250, done=dt.datetime(2024, 5, 1, tzinfo=dt.UTC), at_last=0)
    assert next_due(both, Usage(200, 10), NOW).next_due_at == NOW + dt.timedelta(days=5)  # 50 h at 10 h/day
    assert next_due(both, Usage(200, 0.1), NOW).reason == "days"  # 500 days of usage vs 81 days of calendar
    never = next_due(_schedule(days=30), Usage(0, 0), NOW)
    assert never.reason == "never_done" and never.overdue


def test_a_schedule_without_intervals_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="schedule 'service': needs interval_days or interval_usage_hours"):
        next_due(_schedule(), Usage(0, 0), NOW)


def test_rollup_writes_usage_and_due_dates_back_to_the_database(
    embedded_settings: Settings, tmp_path: Path
) -> None:
    from core.db.models import Asset, MaintenanceSchedule, metadata

    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    metadata.create_all(engine)
    forklift, other = uuid.uuid4(), uuid.uuid4()
    with Session(engine) as session:
        session.add_all([Asset(id=forklift, name="FL-1", category="forklift"), Asset(id=other, name="Cart")])
        session.flush()
        session.add_all(
            [
                MaintenanceSchedule(name="hours", category="forklift", interval_usage_hours=10,
                                    last_done_at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC), usage_hours_at_last=0),
                MaintenanceSchedule(name="calendar", asset_id=other, interval_days=30,
                                    last_done_at=dt.datetime(2024, 5, 5, tzinfo=dt.UTC)),
            ]
        )  # fmt: skip
        session.commit()

    # The forklift was in use 2 h on each of three days: 6 h total, 6 h / 14 days recent rate.
    lakehouse = Lakehouse.from_settings(embedded_settings)
    for day in (8, 9, 10):
        table = pa.table({"asset_id": [str(forklift)], "in_use_s": [7200.0]})
        lakehouse.write_partition(mart("asset_utilisation"), Partition(dt.date(2024, 5, day)), table)
    usage = usage_by_asset(lakehouse, dt.date(2024, 5, 10), dt.date(2024, 1, 1))
    assert usage[str(forklift)] == Usage(total_hours=6.0, hours_per_day=6.0 / 14)

    dues = compute_due(load_schedules(engine), usage, NOW)
    write_back(engine, usage, dues)
    write_back(engine, usage, dues)  # idempotent
    with Session(engine) as session:
        assert session.get(Asset, forklift).usage_hours == 6.0
        rows = {s.name: s.next_due_at for s in session.scalars(select(MaintenanceSchedule))}
    # 4 h left at 6/14 h per day = 9.33 days from now; the calendar one 30 days after May 5th.
    assert rows["hours"] == pytest.approx(NOW + dt.timedelta(days=4 / (6 / 14)), abs=dt.timedelta(seconds=1))
    assert rows["calendar"] == dt.datetime(2024, 6, 4, tzinfo=dt.UTC)
