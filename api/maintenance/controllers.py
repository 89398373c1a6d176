"""Maintenance: schedules, records of work done, and what is due or overdue (operators and up edit)."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Literal

from advanced_alchemy.extensions.litestar.providers import create_service_provider
from advanced_alchemy.filters import BeforeAfter, CollectionFilter, LimitOffset
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from api import audit
from api.errors import Unprocessable
from api.maintenance.schemas import DueItem, Record, RecordCreate, Schedule, ScheduleCreate, ScheduleUpdate
from api.maintenance.services import (
    RecordService,
    ScheduleService,
    after_record,
    check_schedule,
    due_items,
    next_due,
)
from api.pagination import OffsetPagination, Order, list_filters, paginated
from api.schemas import apply, set_fields, to_dto, to_dtos, utc_or_none
from api.security import Principal, requires_operator
from core.db.models import Asset, MaintenanceRecord, MaintenanceSchedule

ScheduleSort = Literal["name", "next_due_at", "created_at"]


class MaintenanceController(Controller):
    path = "/api/v1/maintenance"
    tags = ["maintenance"]
    dependencies = {
        "schedules": create_service_provider(ScheduleService),
        "records": create_service_provider(RecordService),
    }

    @get("/schedules", operation_id="listMaintenanceSchedules", summary="List schedules")
    async def list_schedules(
        self,
        schedules: ScheduleService,
        page: LimitOffset,
        asset_id: uuid.UUID | None = None,
        category: Annotated[str | None, Parameter(max_length=100)] = None,
        enabled: bool | None = None,
        sort: ScheduleSort = "name",
        order: Order = "asc",
    ) -> OffsetPagination[Schedule]:
        filters = list_filters(
            page,
            sort,
            order,
            CollectionFilter("asset_id", [asset_id]) if asset_id else None,
            CollectionFilter("category", [category]) if category else None,
            CollectionFilter("enabled", [enabled]) if enabled is not None else None,
        )
        items, total = await schedules.list_and_count(*filters)
        return paginated(to_dtos(items, Schedule), total, page)

    @post(
        "/schedules",
        operation_id="createMaintenanceSchedule",
        summary="Create a schedule",
        guards=[requires_operator],
    )
    async def create_schedule(
        self, schedules: ScheduleService, db_session: AsyncSession, data: ScheduleCreate, request: Request
    ) -> Schedule:
        schedule = MaintenanceSchedule(**set_fields(data))
        check_schedule(schedule)
        schedule.created_at = datetime.datetime.now(datetime.UTC)
        schedule.next_due_at = next_due(schedule)
        schedule = await schedules.create(schedule)
        audit.record(
            db_session, request.user, "create", "maintenance_schedule", schedule.id, name=schedule.name
        )
        return to_dto(schedule, Schedule)

    @get("/schedules/{id:uuid}", operation_id="getMaintenanceSchedule", summary="Get a schedule")
    async def get_schedule(self, schedules: ScheduleService, id: uuid.UUID) -> Schedule:
        return to_dto(await schedules.get_or_404(id), Schedule)

    @patch(
        "/schedules/{id:uuid}",
        operation_id="updateMaintenanceSchedule",
        summary="Change a schedule",
        guards=[requires_operator],
    )
    async def update_schedule(
        self,
        schedules: ScheduleService,
        db_session: AsyncSession,
        id: uuid.UUID,
        data: ScheduleUpdate,
        request: Request,
    ) -> Schedule:
        changes = set_fields(data)
        schedule = apply(await schedules.get_or_404(id), changes)
        check_schedule(schedule)
        schedule.next_due_at = next_due(schedule)
        await db_session.flush()
        audit.record(db_session, request.user, "update", "maintenance_schedule", id, fields=sorted(changes))
        return to_dto(schedule, Schedule)

    @delete(
        "/schedules/{id:uuid}",
        operation_id="deleteMaintenanceSchedule",
        summary="Delete a schedule",
        guards=[requires_operator],
    )
    async def delete_schedule(
        self, schedules: ScheduleService, db_session: AsyncSession, id: uuid.UUID, request: Request
    ) -> None:
        schedule = await schedules.get_or_404(id)
        await schedules.delete(schedule.id)
        audit.record(db_session, request.user, "delete", "maintenance_schedule", id, name=schedule.name)

    @get("/records", operation_id="listMaintenanceRecords", summary="List maintenance done")
    async def list_records(
        self,
        records: RecordService,
        page: LimitOffset,
        asset_id: uuid.UUID | None = None,
        schedule_id: uuid.UUID | None = None,
        performed_after: datetime.datetime | None = None,
        performed_before: datetime.datetime | None = None,
        order: Order = "desc",
    ) -> OffsetPagination[Record]:
        filters = list_filters(
            page,
            "performed_at",
            order,
            CollectionFilter("asset_id", [asset_id]) if asset_id else None,
            CollectionFilter("schedule_id", [schedule_id]) if schedule_id else None,
            BeforeAfter(
                "performed_at", before=utc_or_none(performed_before), after=utc_or_none(performed_after)
            )
            if performed_after or performed_before
            else None,
        )
        items, total = await records.list_and_count(*filters)
        return paginated(to_dtos(items, Record), total, page)

    @post(
        "/records",
        operation_id="createMaintenanceRecord",
        summary="Record maintenance done",
        guards=[requires_operator],
    )
    async def create_record(
        self,
        records: RecordService,
        schedules: ScheduleService,
        db_session: AsyncSession,
        data: RecordCreate,
        request: Request,
    ) -> Record:
        principal: Principal = request.user
        asset = await db_session.get(Asset, data.asset_id)
        if asset is None:
            raise Unprocessable(f"asset_id: no asset with id {data.asset_id}", field="asset_id")
        values = set_fields(data)
        values.setdefault("usage_hours", asset.usage_hours)
        values.setdefault("performed_by", principal.actor)
        record = MaintenanceRecord(**values)
        if data.schedule_id is not None:
            schedule = await schedules.get_one_or_none(id=data.schedule_id)
            if schedule is None:
                raise Unprocessable(
                    f"schedule_id: no schedule with id {data.schedule_id}", field="schedule_id"
                )
            if schedule.asset_id not in (None, asset.id) or (
                schedule.asset_id is None and schedule.category != asset.category
            ):
                raise Unprocessable(
                    "schedule_id: that schedule does not cover this asset", field="schedule_id"
                )
            after_record(schedule, record)
        record = await records.create(record)
        audit.record(db_session, principal, "create", "maintenance_record", record.id, asset_id=asset.id)
        return to_dto(record, Record)

    @get("/due", operation_id="listMaintenanceDue", summary="Assets due or overdue for maintenance")
    async def list_due(
        self,
        db_session: AsyncSession,
        page: LimitOffset,
        within_days: Annotated[
            float, Parameter(ge=0, le=3650, description="also list what falls due this soon")
        ] = 7,
        site_id: uuid.UUID | None = None,
        overdue_only: bool = False,
    ) -> OffsetPagination[DueItem]:
        now = datetime.datetime.now(datetime.UTC)
        items = await due_items(db_session, now, datetime.timedelta(days=within_days), site_id)
        if overdue_only:
            items = [item for item in items if item.overdue]
        return paginated(items[page.offset : page.offset + page.limit], len(items), page)
