"""Notification channels and their test sends.

"Send test" does not deliver from the API process: it writes a row to the delivery outbox
(`notification_deliveries`, status pending, due now), exactly like an alert notification, and the realtime
notification worker delivers it with its usual retries, signing and rate limits. The response carries the
delivery id, and `GET /notification-channels/{id}/deliveries` shows whether it went out — so a test exercises
the same path a real alert takes (the API must not import `realtime`).
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from advanced_alchemy.repository import SQLAlchemyAsyncRepository

from api.errors import Unprocessable
from api.services import EntityService
from core.alerts.channels import ChannelConfigError, check_channel
from core.db.enums import DeliveryStatus
from core.db.models import NotificationChannel, NotificationDelivery


class ChannelService(EntityService[NotificationChannel]):
    class Repository(SQLAlchemyAsyncRepository[NotificationChannel]):
        model_type = NotificationChannel

    repository_type = Repository
    entity = "notification channel"


def check_config(kind: str, config: dict[str, Any]) -> None:
    """The senders' own rules (`core.alerts.channels.check_channel`), as a 422 naming the field: a channel the
    API accepts is one the delivery worker can send to."""
    try:
        check_channel(kind, config)
    except ChannelConfigError as error:
        message = str(error)
        raise Unprocessable(message, field=message.split(":", 1)[0]) from None


def outbox_test_message(channel: NotificationChannel, actor: str) -> NotificationDelivery:
    """An outbox row that makes the notification worker send a test message to the channel now."""
    now = datetime.datetime.now(datetime.UTC)
    return NotificationDelivery(
        channel_id=channel.id,
        alert_id=None,
        dedupe_key=f"test:{uuid.uuid4()}",
        payload={
            "type": "test",
            "channel": channel.name,
            "message": f"Test notification from asset-tag, requested by {actor}",
            "sent_at": now.isoformat(),
        },
        status=DeliveryStatus.PENDING.value,
        attempts=0,
        next_attempt_at=now,
    )
