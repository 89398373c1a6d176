"""Calibration sessions: start, add reference points with their true positions, stop (and fit)."""

from __future__ import annotations

import datetime
import uuid
from typing import Literal

from advanced_alchemy.extensions.litestar.providers import create_service_provider
from advanced_alchemy.filters import CollectionFilter, LimitOffset
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api import audit
from api.calibration.schemas import CalibrationPoint, CalibrationSession, PointCreate, SessionStart
from api.calibration.services import CalibrationSessionService, fit_session
from api.errors import Conflict, Unprocessable
from api.pagination import OffsetPagination, Order, list_filters, paginated
from api.schemas import set_fields, to_dto, to_dtos
from api.security import requires_operator
from core.db.enums import CalibrationStatus
from core.db.models import CalibrationPoint as PointRow
from core.db.models import CalibrationSession as SessionRow
from core.db.models import Gateway, Site, normalise_tag_id

SessionSort = Literal["created_at", "name", "status"]


class CalibrationController(Controller):
    path = "/api/v1/calibration-sessions"
    tags = ["calibration"]
    dependencies = {"calibrations": create_service_provider(CalibrationSessionService)}

    @get("/", operation_id="listCalibrationSessions", summary="List calibration sessions")
    async def list_sessions(
        self,
        calibrations: CalibrationSessionService,
        page: LimitOffset,
        site_id: uuid.UUID | None = None,
        status: CalibrationStatus | None = None,
        sort: SessionSort = "created_at",
        order: Order = "desc",
    ) -> OffsetPagination[CalibrationSession]:
        filters = list_filters(
            page,
            sort,
            order,
            CollectionFilter("site_id", [site_id]) if site_id else None,
            CollectionFilter("status", [status.value]) if status else None,
        )
        items, total = await calibrations.list_and_count(*filters)
        return paginated(to_dtos(items, CalibrationSession), total, page)

    @post("/", operation_id="startCalibrationSession", summary="Start a session", guards=[requires_operator])
    async def start_session(
        self,
        calibrations: CalibrationSessionService,
        db_session: AsyncSession,
        data: SessionStart,
        request: Request,
    ) -> CalibrationSession:
        if await db_session.get(Site, data.site_id) is None:
            raise Unprocessable(f"site_id: no site with id {data.site_id}", field="site_id")
        row = SessionRow(
            **set_fields(data),
            status=CalibrationStatus.OPEN.value,
            started_at=datetime.datetime.now(datetime.UTC),
        )
        row.points = []
        row = await calibrations.create(row)
        audit.record(db_session, request.user, "start", "calibration_session", row.id, name=row.name)
        return to_dto(row, CalibrationSession)

    @get(
        "/{id:uuid}", operation_id="getCalibrationSession", summary="Get a session with its points and result"
    )
    async def get_session(self, calibrations: CalibrationSessionService, id: uuid.UUID) -> CalibrationSession:
        return to_dto(await calibrations.get_or_404(id), CalibrationSession)

    @post(
        "/{id:uuid}/points",
        operation_id="addCalibrationPoint",
        summary="Add a reference point",
        guards=[requires_operator],
    )
    async def add_point(
        self,
        calibrations: CalibrationSessionService,
        db_session: AsyncSession,
        id: uuid.UUID,
        data: PointCreate,
        request: Request,
    ) -> CalibrationPoint:
        session = await calibrations.get_or_404(id)
        if session.status != CalibrationStatus.OPEN.value or session.ended_at is not None:
            raise Conflict(f"calibration session {id} is stopped; start a new one to add points")
        if data.window_end <= data.window_start:
            raise Unprocessable("window_end: must be after window_start", field="window_end")
        try:
            tag_id = normalise_tag_id(data.tag_id)
        except ValueError as exc:
            raise Unprocessable(str(exc), field="tag_id") from None
        observations = (
            None
            if data.observations is None
            else {k: {"median_rssi": v.median_rssi, "count": v.count} for k, v in data.observations.items()}
        )
        point = PointRow(
            session_id=session.id,
            tag_id=tag_id,
            x=data.x,
            y=data.y,
            floor=data.floor,
            window_start=data.window_start,
            window_end=data.window_end,
            observations=observations,
        )
        session.points.append(point)
        await db_session.flush()
        audit.record(db_session, request.user, "add_point", "calibration_session", id, point_id=point.id)
        return to_dto(point, CalibrationPoint)

    @post(
        "/{id:uuid}/stop",
        operation_id="stopCalibrationSession",
        summary="Stop the session and fit path-loss parameters",
        guards=[requires_operator],
        status_code=200,
    )
    async def stop_session(
        self,
        calibrations: CalibrationSessionService,
        db_session: AsyncSession,
        id: uuid.UUID,
        request: Request,
        state: State,
    ) -> CalibrationSession:
        session = await calibrations.get_or_404(id)
        if session.ended_at is not None:
            return to_dto(session, CalibrationSession)  # stopping twice changes nothing
        session.ended_at = datetime.datetime.now(datetime.UTC)
        gateways = (
            (await db_session.execute(select(Gateway).where(Gateway.site_id == session.site_id)))
            .scalars()
            .all()
        )
        result = fit_session(session, list(gateways), state.resources.settings)
        if result:
            session.result = result
            session.status = CalibrationStatus.FITTED.value
        await db_session.flush()
        audit.record(db_session, request.user, "stop", "calibration_session", id, fitted=sorted(result or {}))
        return to_dto(session, CalibrationSession)
