"""What happened to an alert, in one shape for everyone who announces it: the realtime engine, the API
(acknowledge / resolve) and batch checks (model drift). `AlertChange.message()` is the event published on
`ble.alerts` and `alerts.<site>` and sent to webhooks; `change_of` reads one back after another writer changed it
in the current transaction."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, select

from core.alerts.rules import Rule
from core.db.models import Alert

ALERTS: Table = Alert.__table__  # type: ignore[assignment]

_FLAT = (
    "kind",
    "severity",
    "subject_key",
    "asset_id",
    "site_id",
    "status",
    "message",
    "opened_at",
    "acknowledged_at",
    "resolved_at",
)
OPENED, REPEATED, RESOLVED, ESCALATED, ACKNOWLEDGED = (
    "opened",
    "repeated",
    "resolved",
    "escalated",
    "acknowledged",
)


@dataclass(frozen=True, slots=True)
class AlertChange:
    """What happened to an alert in this transaction, with the alert as stored afterwards (JSON-ready)."""

    action: str  # opened | repeated | resolved | escalated | acknowledged
    alert: dict[str, Any]
    rule: Rule | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def site_id(self) -> str | None:
        return self.alert.get("site_id")

    def message(self) -> dict[str, Any]:
        """The event as published on `ble.alerts`, `alerts.<site>` and sent to webhooks."""
        rule = (
            {"id": self.rule.id, "name": self.rule.name, "kind": self.rule.kind.value} if self.rule else None
        )
        flat = {
            key: self.alert.get(key) for key in _FLAT
        }  # the lakehouse lands these columns from ble.alerts
        return {"type": "alert", "action": self.action, "alert_id": self.alert.get("id"), **flat,
                "alert": self.alert, "rule": rule, **self.extra}  # fmt: skip


def _json_value(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
    return value


def alert_dict(row: Any) -> dict[str, Any]:
    return {key: _json_value(value) for key, value in row._mapping.items()}


def change_of(conn: Connection, alert_id: str, action: str, rule: Rule | None = None) -> AlertChange:
    """The `AlertChange` for an alert another writer changed in this transaction (e.g. a batch check), so it is
    notified and published like the realtime engine's own changes."""
    row = conn.execute(select(ALERTS).where(ALERTS.c.id == uuid.UUID(alert_id))).one()
    return AlertChange(action, alert_dict(row), rule)
