"""Alert changes made through the API, announced the way the realtime engine announces its own: the same
`AlertChange` message (`realtime.alerting.store`) on the live pub/sub channel `alerts.<site>`
(`realtime.alerting.publish`), so /ws/alerts clients see an acknowledge or resolve as it happens.

Only the pub/sub leg: the API holds no Kafka producer, so `ble.alerts` (landed by the lakehouse) carries the
engine's changes only. Publishing is best effort after commit: the change is stored either way, and a client
that missed the message gets the alert's current state in its next snapshot.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.alerts import RuleError, rule_from_record
from core.db.enums import AlertStatus
from core.db.models import Alert, AlertRule
from core.live import LiveKeys
from core.settings import Settings
from realtime.alerting.publish import publish
from realtime.alerting.store import ACKNOWLEDGED, RESOLVED, AlertChange, change_of
from realtime.live_store import LiveStore, LiveStoreError, open_live_store

logger = logging.getLogger(__name__)

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
    """Publishes alert changes on the live store the realtime engine uses (Redis, or the in-process hub)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.keys = LiveKeys(settings.redis_prefix)
        self._live: LiveStore | None = None

    async def publish(self, change: AlertChange) -> None:
        # The realtime store is synchronous (one pipelined PUBLISH): run it off the event loop.
        try:
            await asyncio.to_thread(self._publish, change)
        except LiveStoreError as error:
            logger.warning("alert %s %s not announced: %s", change.alert.get("id"), change.action, error)

    def _publish(self, change: AlertChange) -> None:
        if self._live is None:
            self._live = open_live_store(self.settings)
        publish(self.settings, self._live, self.keys, None, alert_changes=[change])

    def close(self) -> None:
        if self._live is not None:
            self._live.close()


__all__ = ["AlertPublisher", "alert_change"]
