"""Alert lifecycle as people drive it: open -> acknowledged -> resolved, with comments along the way."""

from __future__ import annotations

import datetime
from typing import Any

from advanced_alchemy.repository import SQLAlchemyAsyncRepository

from api.errors import Conflict
from api.services import EntityService
from core.db.enums import AlertStatus
from core.db.models import Alert, AlertComment


class AlertService(EntityService[Alert]):
    class Repository(SQLAlchemyAsyncRepository[Alert]):
        model_type = Alert

    repository_type = Repository
    entity = "alert"


def acknowledge(alert: Alert, actor: str) -> None:
    if alert.status == AlertStatus.RESOLVED.value:
        raise Conflict(f"alert {alert.id} is already resolved; there is nothing to acknowledge")
    if alert.status == AlertStatus.ACKNOWLEDGED.value:
        return  # idempotent: a second click does not move the timestamp
    alert.status = AlertStatus.ACKNOWLEDGED.value
    alert.acknowledged_by = actor
    alert.acknowledged_at = datetime.datetime.now(datetime.UTC)


def resolve(alert: Alert, actor: str) -> None:
    if alert.status == AlertStatus.RESOLVED.value:
        return
    now = datetime.datetime.now(datetime.UTC)
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = now, actor
    alert.status = AlertStatus.RESOLVED.value
    alert.resolved_by = actor
    alert.resolved_at = now


def add_comment(alert: Alert, author: str, body: str) -> AlertComment:
    comment = AlertComment(alert_id=alert.id, author=author, body=body)
    alert.comments.append(comment)
    return comment


def comment_dict(comment: AlertComment) -> dict[str, Any]:
    return {"author": comment.author, "body": comment.body}
