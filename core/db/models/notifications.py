"""Where alerts are sent (channels) and the outbox of deliveries to them, retried with backoff."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db.enums import ChannelKind, DeliveryStatus, max_length, one_of
from core.db.models._base import BigIntAuditBase, DateTimeUTC, JsonB, UUIDAuditBase, empty_dict


class NotificationChannel(UUIDAuditBase):
    """A webhook (config: url, headers) or an email recipient list (config: to, smtp settings).
    `secret` signs webhook payloads (HMAC); `rate_limit_per_min` caps sends per minute (None = unlimited)."""

    __tablename__ = "notification_channels"
    __table_args__ = (
        one_of("kind", ChannelKind),
        CheckConstraint("rate_limit_per_min IS NULL OR rate_limit_per_min > 0", name="rate_limit_positive"),
    )

    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(max_length(ChannelKind)))
    config: Mapped[dict[str, Any]] = mapped_column(JsonB, default=empty_dict, server_default=text("'{}'"))
    secret: Mapped[str | None] = mapped_column(String(256))
    rate_limit_per_min: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class NotificationDelivery(BigIntAuditBase):
    """One message for one channel (the transactional outbox): written in the same transaction as the alert change,
    sent by a worker. `dedupe_key` (e.g. '<alert id>:opened') makes enqueueing idempotent per channel."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        one_of("status", DeliveryStatus),
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        UniqueConstraint("channel_id", "dedupe_key", name="uq_notification_deliveries_dedupe"),
        Index("ix_notification_deliveries_due", "status", "next_attempt_at"),
    )

    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notification_channels.id", ondelete="CASCADE"))
    alert_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="SET NULL"), index=True
    )
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonB)
    status: Mapped[str] = mapped_column(
        String(max_length(DeliveryStatus)),
        default=DeliveryStatus.PENDING.value,
        server_default=DeliveryStatus.PENDING.value,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True))
