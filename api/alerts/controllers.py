"""Alerts: list and filter; acknowledge, resolve, comment (operators and up)."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from typing import Annotated, Literal

from advanced_alchemy.extensions.litestar.providers import create_service_provider
from advanced_alchemy.filters import BeforeAfter, CollectionFilter, LimitOffset
from litestar import Controller, Request, get, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from api import audit
from api.alerts.publishing import alert_change
from api.alerts.schemas import Alert, AlertAction, AlertComment, CommentCreate
from api.alerts.services import AlertService, acknowledge, add_comment, resolve
from api.pagination import OffsetPagination, Order, list_filters, paginated
from api.resources import ApiResources
from api.schemas import to_dto, to_dtos, utc_or_none
from api.security import Principal, requires_operator
from core.db.enums import AlertStatus, Severity
from core.db.models import Alert as AlertModel

AlertSort = Literal["opened_at", "last_seen_at", "severity", "status", "count"]


def alert_filters(
    site_id: uuid.UUID | None,
    asset_id: uuid.UUID | None,
    status: list[AlertStatus] | None,
    severity: list[Severity] | None,
    kind: str | None,
    opened_after: datetime.datetime | None,
    opened_before: datetime.datetime | None,
) -> list[object | None]:
    return [
        CollectionFilter("site_id", [site_id]) if site_id else None,
        CollectionFilter("asset_id", [asset_id]) if asset_id else None,
        CollectionFilter("status", [s.value for s in status]) if status else None,
        CollectionFilter("severity", [s.value for s in severity]) if severity else None,
        CollectionFilter("kind", [kind]) if kind else None,
        BeforeAfter("opened_at", before=utc_or_none(opened_before), after=utc_or_none(opened_after))
        if opened_after or opened_before
        else None,
    ]


class AlertController(Controller):
    path = "/api/v1/alerts"
    tags = ["alerts"]
    dependencies = {"alerts": create_service_provider(AlertService)}

    @get(
        "/", operation_id="listAlerts", summary="List alerts (filter by status, severity, site, asset, time)"
    )
    async def list_alerts(
        self,
        alerts: AlertService,
        page: LimitOffset,
        site_id: uuid.UUID | None = None,
        asset_id: uuid.UUID | None = None,
        status: Annotated[list[AlertStatus] | None, Parameter(description="repeat for several")] = None,
        severity: Annotated[list[Severity] | None, Parameter(description="repeat for several")] = None,
        kind: Annotated[str | None, Parameter(max_length=64)] = None,
        opened_after: datetime.datetime | None = None,
        opened_before: datetime.datetime | None = None,
        sort: AlertSort = "opened_at",
        order: Order = "desc",
    ) -> OffsetPagination[Alert]:
        extra = alert_filters(site_id, asset_id, status, severity, kind, opened_after, opened_before)
        items, total = await alerts.list_and_count(*list_filters(page, sort, order, *extra))  # type: ignore[arg-type]
        return paginated(to_dtos(items, Alert), total, page)

    @get("/{id:uuid}", operation_id="getAlert", summary="Get an alert with its comments")
    async def get_alert(self, alerts: AlertService, id: uuid.UUID) -> Alert:
        return to_dto(await alerts.get_or_404(id), Alert)

    @post(
        "/{id:uuid}/acknowledge",
        operation_id="acknowledgeAlert",
        summary="Acknowledge",
        guards=[requires_operator],
        status_code=200,
    )
    async def acknowledge_alert(
        self,
        alerts: AlertService,
        db_session: AsyncSession,
        id: uuid.UUID,
        request: Request,
        data: AlertAction | None = None,
    ) -> Alert:
        return await _transition(alerts, db_session, id, request, data, acknowledge, "acknowledge")

    @post(
        "/{id:uuid}/resolve",
        operation_id="resolveAlert",
        summary="Resolve",
        guards=[requires_operator],
        status_code=200,
    )
    async def resolve_alert(
        self,
        alerts: AlertService,
        db_session: AsyncSession,
        id: uuid.UUID,
        request: Request,
        data: AlertAction | None = None,
    ) -> Alert:
        return await _transition(alerts, db_session, id, request, data, resolve, "resolve")

    @post(
        "/{id:uuid}/comments",
        operation_id="commentOnAlert",
        summary="Add a comment",
        guards=[requires_operator],
    )
    async def comment_on_alert(
        self,
        alerts: AlertService,
        db_session: AsyncSession,
        id: uuid.UUID,
        data: CommentCreate,
        request: Request,
    ) -> AlertComment:
        principal: Principal = request.user
        alert = await alerts.get_or_404(id)
        comment = add_comment(alert, principal.actor, data.body)
        await db_session.flush()
        audit.record(db_session, principal, "comment", "alert", id)
        return to_dto(comment, AlertComment)


async def _transition(
    alerts: AlertService,
    db_session: AsyncSession,
    id: uuid.UUID,
    request: Request,
    data: AlertAction | None,
    change: Callable[[AlertModel, str], object],
    action: str,
) -> Alert:
    """Acknowledge or resolve: the status change, an optional comment and the audit row, in one transaction;
    once it is committed, the change goes out on `alerts.<site>` like the realtime engine's own changes."""
    principal: Principal = request.user
    alert = await alerts.get_or_404(id)
    before = alert.status
    change(alert, principal.actor)
    if data and data.comment:
        add_comment(alert, principal.actor, data.comment)
    await db_session.flush()
    audit.record(db_session, principal, action, "alert", id)
    announcement = await alert_change(db_session, alert) if alert.status != before else None
    await db_session.commit()  # announce only what is stored
    if announcement is not None:
        resources: ApiResources = request.app.state.resources
        await resources.alert_publisher.publish(announcement)
    return to_dto(alert, Alert)
