"""Maintenance: schedules, records of work done, and which assets are due or overdue.

A schedule covers one asset or every asset of a category. For each covered asset the baseline is its latest
record against the schedule, else the schedule's own `last_done_at`/`usage_hours_at_last` (asset schedules),
else the schedule's creation with zero usage. It is due after `interval_days` or once `interval_usage_hours`
have been used since the baseline, whichever comes first.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import Unprocessable
from api.maintenance.schemas import DueItem
from api.services import EntityService
from core.db.models import Asset, MaintenanceRecord, MaintenanceSchedule


class ScheduleService(EntityService[MaintenanceSchedule]):
    class Repository(SQLAlchemyAsyncRepository[MaintenanceSchedule]):
        model_type = MaintenanceSchedule

    repository_type = Repository
    entity = "maintenance schedule"


class RecordService(EntityService[MaintenanceRecord]):
    class Repository(SQLAlchemyAsyncRepository[MaintenanceRecord]):
        model_type = MaintenanceRecord

    repository_type = Repository
    entity = "maintenance record"


def check_schedule(schedule: MaintenanceSchedule) -> None:
    if schedule.asset_id is None and not schedule.category:
        raise Unprocessable(
            "asset_id, category: a schedule covers one asset or a category; give one", field="asset_id"
        )
    if schedule.interval_days is None and schedule.interval_usage_hours is None:
        raise Unprocessable(
            "interval_days, interval_usage_hours: give at least one interval", field="interval_days"
        )


def next_due(schedule: MaintenanceSchedule) -> datetime.datetime | None:
    if schedule.interval_days is None:
        return None
    base = schedule.last_done_at or schedule.created_at or datetime.datetime.now(datetime.UTC)
    return base + datetime.timedelta(days=schedule.interval_days)


def after_record(schedule: MaintenanceSchedule, record: MaintenanceRecord) -> None:
    """An asset schedule's baseline moves to the newest record against it."""
    if schedule.asset_id != record.asset_id:
        return
    if schedule.last_done_at is None or record.performed_at >= schedule.last_done_at:
        schedule.last_done_at = record.performed_at
        schedule.usage_hours_at_last = record.usage_hours
        schedule.next_due_at = next_due(schedule)


async def due_items(
    session: AsyncSession, now: datetime.datetime, within: datetime.timedelta, site_id: uuid.UUID | None
) -> list[DueItem]:
    schedules = (
        (await session.execute(select(MaintenanceSchedule).where(MaintenanceSchedule.enabled)))
        .scalars()
        .all()
    )
    if not schedules:
        return []
    asset_query = select(Asset).where(
        or_(
            Asset.id.in_([s.asset_id for s in schedules if s.asset_id]),
            Asset.category.in_([s.category for s in schedules if s.category and not s.asset_id]),
        )
    )
    if site_id is not None:
        asset_query = asset_query.where(Asset.site_id == site_id)
    assets = (await session.execute(asset_query)).scalars().all()
    # The newest record per (asset, schedule): rows come oldest first, so later ones overwrite.
    latest: dict[tuple[Any, Any], tuple[datetime.datetime, float | None]] = {}
    history = await session.execute(
        select(
            MaintenanceRecord.asset_id,
            MaintenanceRecord.schedule_id,
            MaintenanceRecord.performed_at,
            MaintenanceRecord.usage_hours,
        )
        .where(MaintenanceRecord.schedule_id.in_([s.id for s in schedules]))
        .order_by(MaintenanceRecord.performed_at)
    )
    for asset_id, schedule_id, performed_at, usage in history.all():
        latest[(asset_id, schedule_id)] = (performed_at, usage)

    horizon = now + within
    items: list[DueItem] = []
    for schedule in schedules:
        covered = [
            a
            for a in assets
            if a.id == schedule.asset_id or (schedule.asset_id is None and a.category == schedule.category)
        ]
        for asset in covered:
            record = latest.get((asset.id, schedule.id))
            if record is not None:
                last_done, usage_at_last = record
            elif schedule.asset_id is not None and schedule.last_done_at is not None:
                last_done, usage_at_last = schedule.last_done_at, schedule.usage_hours_at_last
            else:
                last_done, usage_at_last = None, None
            base = last_done or schedule.created_at
            due_at = (
                base + datetime.timedelta(days=schedule.interval_days) if schedule.interval_days else None
            )
            used = remaining = None
            if schedule.interval_usage_hours is not None:
                used = max(0.0, asset.usage_hours - (usage_at_last or 0.0))
                remaining = schedule.interval_usage_hours - used
            overdue = (due_at is not None and due_at <= now) or (remaining is not None and remaining <= 0)
            soon = due_at is not None and due_at <= horizon
            if overdue or soon:
                items.append(
                    DueItem(
                        schedule_id=schedule.id,
                        schedule_name=schedule.name,
                        asset_id=asset.id,
                        asset_name=asset.name,
                        category=asset.category,
                        last_done_at=last_done,
                        due_at=due_at,
                        usage_hours_since=used,
                        usage_hours_remaining=remaining,
                        overdue=overdue,
                    )
                )
    far = datetime.datetime.max.replace(tzinfo=datetime.UTC)
    items.sort(key=lambda item: (not item.overdue, item.due_at or far, item.asset_name))
    return items
