"""Notification channels and their test sends.

"Send test" does not deliver from the API process: it writes a row to the delivery outbox
(`notification_deliveries`, status pending, due now), exactly like an alert notification, and the realtime
notification worker delivers it with its usual retries, signing and rate limits. The response carries the
delivery id, and `GET /notification-channels/{id}/deliveries` shows whether it went out — so a test exercises
the same path a real alert takes (the API must not import `realtime`).
"""

from __future__ import annotations

import datetime
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

from advanced_alchemy.repository import SQLAlchemyAsyncRepository

from api.errors import Unprocessable
from api.services import EntityService
from core.db.enums import ChannelKind, DeliveryStatus
from core.db.models import NotificationChannel, NotificationDelivery

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ChannelService(EntityService[NotificationChannel]):
    class Repository(SQLAlchemyAsyncRepository[NotificationChannel]):
        model_type = NotificationChannel

    repository_type = Repository
    entity = "notification channel"


def check_config(kind: str, config: dict[str, Any]) -> None:
    """Webhooks need `config.url` (http/https) and optional string `headers`; email needs `config.to` addresses."""
    if kind == ChannelKind.WEBHOOK.value:
        url = config.get("url")
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in {"http", "https"} or not parts.netloc:
            raise Unprocessable("config.url: a webhook needs an http:// or https:// URL", field="config.url")
        headers = config.get("headers", {})
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise Unprocessable(
                "config.headers: expected an object of header name -> string value", field="config.headers"
            )
    elif kind == ChannelKind.EMAIL.value:
        to = config.get("to")
        if isinstance(to, str):
            to = [to]
        if not isinstance(to, list) or not to or not all(isinstance(a, str) and _EMAIL.match(a) for a in to):
            raise Unprocessable(
                "config.to: an email channel needs a list of recipient addresses", field="config.to"
            )


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
