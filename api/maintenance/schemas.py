from __future__ import annotations

import datetime
import uuid
from typing import Annotated

from msgspec import Meta

from api.schemas import UNSET, AwareDatetime, Base, Hours, Name, ShortText, Text, UnsetType

IntervalDays = Annotated[float, Meta(gt=0, le=36_500)]
IntervalHours = Annotated[float, Meta(gt=0, le=1e7)]


class Schedule(Base):
    id: uuid.UUID
    name: str
    asset_id: uuid.UUID | None
    category: str | None
    interval_days: float | None
    interval_usage_hours: float | None
    last_done_at: datetime.datetime | None
    next_due_at: datetime.datetime | None
    usage_hours_at_last: float | None
    enabled: bool
    created_at: datetime.datetime
    updated_at: datetime.datetime


class ScheduleCreate(Base):
    name: Name
    asset_id: uuid.UUID | None = None
    category: ShortText | None = None
    interval_days: IntervalDays | None = None
    interval_usage_hours: IntervalHours | None = None
    last_done_at: AwareDatetime | None = None
    usage_hours_at_last: Hours | None = None
    enabled: bool = True


class ScheduleUpdate(Base):
    name: Name | UnsetType = UNSET
    interval_days: IntervalDays | None | UnsetType = UNSET
    interval_usage_hours: IntervalHours | None | UnsetType = UNSET
    last_done_at: AwareDatetime | None | UnsetType = UNSET
    usage_hours_at_last: Hours | None | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET


class Record(Base):
    id: uuid.UUID
    asset_id: uuid.UUID
    schedule_id: uuid.UUID | None
    performed_at: datetime.datetime
    performed_by: str | None
    usage_hours: float | None
    notes: str | None
    created_at: datetime.datetime


class RecordCreate(Base):
    asset_id: uuid.UUID
    performed_at: AwareDatetime
    schedule_id: uuid.UUID | None = None
    performed_by: Annotated[str, Meta(max_length=200)] | None = None
    usage_hours: Hours | None = None
    notes: Text | None = None


class DueItem(Base):
    """One asset under one schedule: when it is due (by time and/or by usage) and whether it is overdue."""

    schedule_id: uuid.UUID
    schedule_name: str
    asset_id: uuid.UUID
    asset_name: str
    category: str | None
    last_done_at: datetime.datetime | None
    due_at: datetime.datetime | None
    usage_hours_since: float | None
    usage_hours_remaining: float | None
    overdue: bool
