"""Notification channels (webhook, email): CRUD and "send test" (admins), deliveries (everyone with a key)."""

from __future__ import annotations

import uuid
from typing import Literal

from advanced_alchemy.extensions.litestar.providers import create_service_provider
from advanced_alchemy.filters import CollectionFilter, LimitOffset
from litestar import Controller, Request, delete, get, patch, post
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api import audit
from api.notifications.schemas import ChannelCreate, ChannelUpdate, Delivery, NotificationChannel
from api.notifications.services import ChannelService, check_config, outbox_test_message
from api.pagination import OffsetPagination, Order, list_filters, paginated
from api.schemas import apply, set_fields, to_dtos
from api.security import Principal, requires_admin
from core.db.enums import ChannelKind
from core.db.models import NotificationChannel as ChannelRow
from core.db.models import NotificationDelivery

ChannelSort = Literal["name", "kind", "created_at"]


def to_channel(row: ChannelRow) -> NotificationChannel:
    return NotificationChannel(
        id=row.id,
        name=row.name,
        kind=row.kind,
        config=row.config,
        has_secret=bool(row.secret),
        rate_limit_per_min=row.rate_limit_per_min,
        enabled=row.enabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class NotificationChannelController(Controller):
    path = "/api/v1/notification-channels"
    tags = ["notification channels"]
    dependencies = {"channels": create_service_provider(ChannelService)}

    @get("/", operation_id="listNotificationChannels", summary="List channels")
    async def list_channels(
        self,
        channels: ChannelService,
        page: LimitOffset,
        kind: ChannelKind | None = None,
        enabled: bool | None = None,
        sort: ChannelSort = "name",
        order: Order = "asc",
    ) -> OffsetPagination[NotificationChannel]:
        filters = list_filters(
            page,
            sort,
            order,
            CollectionFilter("kind", [kind.value]) if kind else None,
            CollectionFilter("enabled", [enabled]) if enabled is not None else None,
        )
        items, total = await channels.list_and_count(*filters)
        return paginated([to_channel(row) for row in items], total, page)

    @post("/", operation_id="createNotificationChannel", summary="Create a channel", guards=[requires_admin])
    async def create_channel(
        self, channels: ChannelService, db_session: AsyncSession, data: ChannelCreate, request: Request
    ) -> NotificationChannel:
        check_config(data.kind.value, data.config)
        row = await channels.create(ChannelRow(**{**set_fields(data), "kind": data.kind.value}))
        audit.record(
            db_session, request.user, "create", "notification_channel", row.id, name=row.name, kind=row.kind
        )
        return to_channel(row)

    @get("/{id:uuid}", operation_id="getNotificationChannel", summary="Get a channel")
    async def get_channel(self, channels: ChannelService, id: uuid.UUID) -> NotificationChannel:
        return to_channel(await channels.get_or_404(id))

    @patch(
        "/{id:uuid}",
        operation_id="updateNotificationChannel",
        summary="Change a channel",
        guards=[requires_admin],
    )
    async def update_channel(
        self,
        channels: ChannelService,
        db_session: AsyncSession,
        id: uuid.UUID,
        data: ChannelUpdate,
        request: Request,
    ) -> NotificationChannel:
        changes = set_fields(data)
        row = await channels.get_or_404(id)
        check_config(row.kind, changes.get("config", row.config))
        apply(row, changes)
        await db_session.flush()
        audit.record(db_session, request.user, "update", "notification_channel", id, fields=sorted(changes))
        return to_channel(row)

    @delete(
        "/{id:uuid}",
        operation_id="deleteNotificationChannel",
        summary="Delete a channel",
        guards=[requires_admin],
    )
    async def delete_channel(
        self, channels: ChannelService, db_session: AsyncSession, id: uuid.UUID, request: Request
    ) -> None:
        row = await channels.get_or_404(id)
        await channels.delete(row.id)
        audit.record(db_session, request.user, "delete", "notification_channel", id, name=row.name)

    @post(
        "/{id:uuid}/test",
        operation_id="sendTestNotification",
        summary="Send a test message",
        description="Queues a test message in the delivery outbox; the notification worker sends it. "
        "Poll the channel's deliveries for the outcome.",
        guards=[requires_admin],
        status_code=202,
    )
    async def send_test(
        self, channels: ChannelService, db_session: AsyncSession, id: uuid.UUID, request: Request
    ) -> Delivery:
        principal: Principal = request.user
        channel = await channels.get_or_404(id)
        delivery = outbox_test_message(channel, principal.actor)
        db_session.add(delivery)
        await db_session.flush()
        audit.record(db_session, principal, "send_test", "notification_channel", id, delivery_id=delivery.id)
        return to_dtos([delivery], Delivery)[0]

    @get(
        "/{id:uuid}/deliveries",
        operation_id="listChannelDeliveries",
        summary="Recent deliveries to a channel",
    )
    async def list_deliveries(
        self, channels: ChannelService, db_session: AsyncSession, id: uuid.UUID, page: LimitOffset
    ) -> OffsetPagination[Delivery]:
        await channels.get_or_404(id)
        query = select(NotificationDelivery).where(NotificationDelivery.channel_id == id)
        total = (await db_session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
        rows = await db_session.execute(
            query.order_by(NotificationDelivery.id.desc()).limit(page.limit).offset(page.offset)
        )
        return paginated(to_dtos(rows.scalars(), Delivery), total, page)
