"""When a rule is active: weekdays and a daily time window in the site's time zone.

`{"days": [0, 1, 2, 3, 4], "start": "18:00", "end": "06:00"}` means weeknights from 18:00 to 06:00 the next
morning: a window that ends before it starts wraps past midnight and belongs to the day it *starts* on (Friday
18:00 → Saturday 06:00 is Friday's window). Days are 0 = Monday … 6 = Sunday, like `datetime.weekday()`.
Missing `days` = every day; missing `start`/`end` = all day. Local wall-clock time, so DST shifts are honoured.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ALL_DAYS = (0, 1, 2, 3, 4, 5, 6)


class ScheduleError(ValueError):
    """A schedule is malformed; the message names the field."""


def _parse_time(value: Any, field: str) -> datetime.time:
    if not isinstance(value, str):
        raise ScheduleError(f"schedule.{field}: expected 'HH:MM', got {value!r}")
    try:
        hours, minutes = value.split(":")
        return datetime.time(int(hours), int(minutes))
    except ValueError:
        raise ScheduleError(
            f"schedule.{field}: expected 'HH:MM' between 00:00 and 23:59, got {value!r}"
        ) from None


def zone_info(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"timezone: unknown IANA time zone {name!r}, e.g. 'Europe/Berlin'") from None


@dataclass(frozen=True, slots=True)
class Schedule:
    days: tuple[int, ...] = ALL_DAYS
    start: datetime.time = datetime.time(0, 0)
    end: datetime.time = datetime.time(0, 0)  # start == end = the whole day

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> Schedule | None:
        """None for "always"; raises ScheduleError naming the bad field."""
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            raise ScheduleError(
                "schedule: expected an object like {'days': [0,1,2,3,4], 'start': '18:00', 'end': '06:00'}"
            )
        unknown = set(raw) - {"days", "start", "end"}
        if unknown:
            raise ScheduleError(f"schedule: unknown field(s) {sorted(unknown)}; allowed: days, start, end")
        days = raw.get("days", ALL_DAYS)
        if not isinstance(days, list | tuple) or not days:
            raise ScheduleError(
                "schedule.days: expected a non-empty list of weekdays 0 (Monday) to 6 (Sunday)"
            )
        for day in days:
            if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
                raise ScheduleError(f"schedule.days: {day!r} is not a weekday 0 (Monday) to 6 (Sunday)")
        if ("start" in raw) != ("end" in raw):
            raise ScheduleError("schedule: give both start and end, or neither (all day)")
        start = _parse_time(raw["start"], "start") if "start" in raw else datetime.time(0, 0)
        end = _parse_time(raw["end"], "end") if "end" in raw else datetime.time(0, 0)
        return cls(tuple(sorted(set(days))), start, end)

    def to_json(self) -> dict[str, Any]:
        return {"days": list(self.days), "start": f"{self.start:%H:%M}", "end": f"{self.end:%H:%M}"}

    def window_start(self, moment: datetime.datetime, tz: ZoneInfo) -> datetime.datetime | None:
        """Start (aware, UTC) of the active window containing `moment`, or None when the rule is inactive."""
        local = moment.astimezone(tz)
        today = local.date()
        if self.start == self.end:  # all day
            if local.weekday() in self.days:
                return datetime.datetime.combine(today, datetime.time(0, 0), tz).astimezone(datetime.UTC)
            return None
        if self.start < self.end:
            if local.weekday() in self.days and self.start <= local.time() < self.end:
                return datetime.datetime.combine(today, self.start, tz).astimezone(datetime.UTC)
            return None
        # wraps past midnight: either today's window (after start) or yesterday's (before end)
        if local.time() >= self.start and local.weekday() in self.days:
            return datetime.datetime.combine(today, self.start, tz).astimezone(datetime.UTC)
        yesterday = today - datetime.timedelta(days=1)
        if local.time() < self.end and yesterday.weekday() in self.days:
            return datetime.datetime.combine(yesterday, self.start, tz).astimezone(datetime.UTC)
        return None

    def is_active(self, moment: datetime.datetime, tz: ZoneInfo) -> bool:
        return self.window_start(moment, tz) is not None
