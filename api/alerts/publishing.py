"""Alert changes made through the API, announced the way the realtime engine announces its own: the same
`AlertChange` message (`core.alerts.changes`) on the live pub/sub channel `alerts.<site>`, so /ws/alerts
clients see an acknowledge or resolve as it happens.

Only the pub/sub leg: the API holds no Kafka producer, so `ble.alerts` (landed by the lakehouse) carries the
engine's changes only. Publishing is best effort after commit: the change is stored either way, and a client
that missed the message gets the alert's current state in its next snapshot.
"""

from __future__ import annotations

import logging

import msgspec
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.resources import LiveReader
from core.alerts import RuleError, rule_from_record
from core.alerts.changes import ACKNOWLEDGED, RESOLVED, AlertChange, change_of
from core.db.enums import AlertStatus
from core.db.models import Alert, AlertRule

logger = logging.getLogger(__name__)

_encode = msgspec.json.Encoder().encode
_ACTIONS = {AlertStatus.ACKNOWLEDGED.value: ACKNOWLEDGED, AlertStatus.RESOLVED.value: RESOLVED}


async def alert_change(session: AsyncSession, alert: Alert) -> AlertChange | None:
    """The `AlertChange` for an alert this transaction acknowledged or resolved (flushed, not yet committed):
    read back as the realtime store reads it, with its rule, so the message is the engine's own shape."""
    action = _ACTIONS.get(alert.status)
    if action is None:
        return None
    rule = None
    if alert.rule_id is not None:
        record = (await session.execute(select(AlertRule).where(AlertRule.id == alert.rule_id))).scalar()
        try:
            rule = rule_from_record(record) if record is not None else None
        except RuleError:  # a rule edited into an invalid state still lets its alerts be announced
            rule = None
    alert_id = str(alert.id)
    return await session.run_sync(lambda sync: change_of(sync.connection(), alert_id, action, rule))


class AlertPublisher:
    """Publishes alert changes on the live pub/sub the realtime engine uses (Redis, or the in-process hub),
    through the API's own live connection."""

    def __init__(self, live: LiveReader) -> None:
        self.live = live

    async def publish(self, change: AlertChange) -> None:
        site = change.site_id
        if not site:
            return
        try:
            await self.live.publish(self.live.keys.alerts_channel(site), _encode(change.message()))
        except (OSError, RedisError) as error:
            logger.warning("alert %s %s not announced: %s", change.alert.get("id"), change.action, error)


__all__ = ["AlertPublisher", "alert_change"]
