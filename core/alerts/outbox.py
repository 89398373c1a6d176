"""The notification outbox: one `notification_deliveries` row per (alert change, channel), written in the
transaction that changed the alert, sent later by the delivery worker (`realtime.alerting.delivery`). It lives
in `core` because every writer of alerts queues here: the realtime engine, the API, batch checks (model drift).

Which channels: the rule's `channels` param (names or ids; for escalations `escalation_channels`), or every
enabled channel when the rule names none. A channel's config may narrow what it receives with
`"severities": ["critical", ...]` and `"actions": ["opened", "escalated", "resolved"]` (the default; repeats are
never notified — that is what makes a flapping condition quiet). `dedupe_key` = '<alert id>:<action>[:<n>]' so
re-running a transaction (replay) queues nothing twice.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from core.alerts.changes import ESCALATED, OPENED, RESOLVED, AlertChange
from core.db.models import NotificationChannel, NotificationDelivery

CHANNELS: Table = NotificationChannel.__table__  # type: ignore[assignment]
DELIVERIES: Table = NotificationDelivery.__table__  # type: ignore[assignment]
DEFAULT_ACTIONS = (OPENED, ESCALATED, RESOLVED)


def _wants(channel: Any, change: AlertChange) -> bool:
    config = channel.config or {}
    if change.action not in config.get("actions", DEFAULT_ACTIONS):
        return False
    severities = config.get("severities")
    return not severities or change.alert.get("severity") in severities


def _targets(channels: Sequence[Any], change: AlertChange) -> list[Any]:
    rule = change.rule
    named = None
    if rule is not None:
        named = rule.escalation_channels if change.action == ESCALATED else rule.channels
    if named is not None:
        wanted = set(named)
        channels = [c for c in channels if c.name in wanted or str(c.id) in wanted]
    return [c for c in channels if _wants(c, change)]


def enqueue(conn: Connection, changes: Sequence[AlertChange], now: datetime.datetime) -> int:
    """Queue the notifications of `changes` (same transaction); returns how many rows were added."""
    notifiable = [c for c in changes if c.action in DEFAULT_ACTIONS or c.action == "acknowledged"]
    if not notifiable:
        return 0
    channels = list(conn.execute(select(CHANNELS).where(CHANNELS.c.enabled.is_(True))))
    rows = []
    for change in notifiable:
        alert_id = change.alert["id"]
        # An alert can be resolved, reopened (new id) and resolved again; per id, each action happens once.
        dedupe = f"{alert_id}:{change.action}"
        for channel in _targets(channels, change):
            rows.append({
                "channel_id": channel.id,
                "alert_id": uuid.UUID(alert_id),
                "dedupe_key": dedupe,
                "payload": change.message(),
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            })  # fmt: skip
    if not rows:
        return 0
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(DELIVERIES)
    statement = insert.on_conflict_do_nothing(index_elements=["channel_id", "dedupe_key"]).returning(
        DELIVERIES.c.id
    )
    added = 0
    for row in rows:
        added += len(conn.execute(statement, row).all())
    return added
