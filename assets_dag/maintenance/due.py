"""When each maintenance schedule is next due, from calendar time and measured usage (pure functions).

A schedule is due `interval_days` after it was last done, or when `interval_usage_hours` of use have
accumulated since, whichever comes first. For the usage kind the due date is projected from the asset's recent
daily usage; a schedule that was never done is due now.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    schedule_id: str
    name: str
    asset_id: str
    interval_days: float | None
    interval_usage_hours: float | None
    last_done_at: dt.datetime | None
    usage_hours_at_last: float | None


@dataclass(frozen=True)
class Usage:
    total_hours: float  # the asset's usage counter now
    hours_per_day: float  # recent average, for projecting usage-based due dates


@dataclass(frozen=True)
class Due:
    schedule_id: str
    name: str
    asset_id: str
    next_due_at: dt.datetime | None  # None: usage-based and the asset is not being used
    reason: str  # days | usage | never_done | idle
    usage_hours_since: float
    overdue: bool


def next_due(schedule: Schedule, usage: Usage, now: dt.datetime) -> Due:
    if schedule.interval_days is None and schedule.interval_usage_hours is None:
        raise ValueError(f"schedule {schedule.name!r}: needs interval_days or interval_usage_hours")
    used = max(0.0, usage.total_hours - (schedule.usage_hours_at_last or 0.0))
    if schedule.last_done_at is None:
        return Due(schedule.schedule_id, schedule.name, schedule.asset_id, now, "never_done", used, True)

    candidates: list[tuple[dt.datetime, str]] = []
    if schedule.interval_days is not None:
        candidates.append((schedule.last_done_at + dt.timedelta(days=schedule.interval_days), "days"))
    if schedule.interval_usage_hours is not None:
        remaining = schedule.interval_usage_hours - used
        if remaining <= 0:
            candidates.append((now, "usage"))
        elif usage.hours_per_day > 0:
            candidates.append((now + dt.timedelta(days=remaining / usage.hours_per_day), "usage"))
    if not candidates:
        return Due(schedule.schedule_id, schedule.name, schedule.asset_id, None, "idle", used, False)
    due_at, reason = min(candidates)
    return Due(schedule.schedule_id, schedule.name, schedule.asset_id, due_at, reason, used, due_at <= now)


def earliest(dues: list[Due]) -> Due | None:
    """A category schedule covers several assets: it is due when its first asset is."""
    dated = [d for d in dues if d.next_due_at is not None]
    return min(dated, key=lambda d: d.next_due_at) if dated else (dues[0] if dues else None)  # type: ignore[arg-type,return-value]
