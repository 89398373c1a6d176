"""Alerts raised by batch jobs (Dagster assets), written straight to the `alerts` table.

The realtime alert engine (`realtime.alerting.store`) owns alerts decided from the live stream; a batch check —
e.g. the daily location-model drift — decides its condition elsewhere but must land in the same table with the
same guarantee: at most one unresolved alert per (rule, subject). That guarantee comes from the partial unique
index `uq_alerts_one_unresolved_per_subject`, which only holds for a non-NULL `rule_id` (NULLs are distinct in a
unique index). So a batch check owns a *system rule* row with a fixed id (uuid5 of its kind): created on first
use, then visible to people like any rule — they can disable it, change its severity or delete it.

Written with SQLAlchemy Core and the same `INSERT … ON CONFLICT (rule_id, subject_key) WHERE status <>
'resolved'` statement as the realtime store, so two runs racing on the same condition still leave one alert.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from core.db.models import Alert, AlertRule
from core.db.models.alerts import subject_key

ALERTS: Table = Alert.__table__  # type: ignore[assignment]
RULES: Table = AlertRule.__table__  # type: ignore[assignment]
# A literal predicate, as in realtime.alerting.store: PostgreSQL cannot match a prepared bound parameter
# against the partial index.
UNRESOLVED_PREDICATE = text("status <> 'resolved'")

# Rule kinds raised by batch jobs (Dagster assets) through this module rather than by the realtime engine; the
# realtime ticker must neither evaluate nor auto-resolve their alerts.
SYSTEM_KINDS = frozenset({"model_drift"})
_NAMESPACE = uuid.UUID("5d1c7a52-7f0e-4a38-9b0c-1f0a2b3c4d5e")

OPENED, REFRESHED, RESOLVED = "opened", "refreshed", "resolved"


def system_rule_id(kind: str) -> uuid.UUID:
    """The fixed id of the system rule of `kind`: every process computes the same one, so creating it is a
    race-free `ON CONFLICT (id) DO NOTHING`."""
    return uuid.uuid5(_NAMESPACE, f"asset-tag:system-rule:{kind}")


@dataclass(frozen=True, slots=True)
class SystemRule:
    """The parts of a batch check's rule row that decide what happens to its alerts."""

    id: uuid.UUID
    kind: str
    severity: str
    enabled: bool
    auto_resolve: bool


@dataclass(frozen=True, slots=True)
class AlertWrite:
    """What one write did: `opened` a new alert, `refreshed` the unresolved one, or `resolved` it."""

    action: str
    alert_id: str
    subject_key: str


def _insert(conn: Connection, table: Table):  # type: ignore[no-untyped-def]
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _utc(moment: datetime.datetime) -> datetime.datetime:
    if moment.tzinfo is None:
        raise ValueError(f"timestamp: expected a timezone-aware datetime, got {moment!r}")
    return moment.astimezone(datetime.UTC)


def ensure_system_rule(
    conn: Connection,
    kind: str,
    name: str,
    description: str,
    now: datetime.datetime,
    severity: str = "warning",
) -> SystemRule:
    """The system rule of `kind` (site_id NULL = every site), created enabled on first use; a person's later
    changes to it (enabled, severity, auto_resolve) are kept and returned."""
    rule_id = system_rule_id(kind)
    now = _utc(now)
    conn.execute(
        _insert(conn, RULES)
        .values(
            id=rule_id,
            name=name,
            description=description,
            kind=kind,
            severity=severity,
            params={},
            enabled=True,
            auto_resolve=True,
            created_at=now,
            updated_at=now,
        )  # fmt: skip
        .on_conflict_do_nothing(index_elements=["id"])
    )
    row = conn.execute(
        select(RULES.c.kind, RULES.c.severity, RULES.c.enabled, RULES.c.auto_resolve).where(
            RULES.c.id == rule_id
        )
    ).one()
    return SystemRule(rule_id, row.kind, row.severity, bool(row.enabled), bool(row.auto_resolve))


def upsert_alert(
    conn: Connection,
    rule: SystemRule,
    *,
    subject_type: str,
    subject_id: str,
    message: str,
    details: Mapping[str, Any],
    at: datetime.datetime,
    now: datetime.datetime,
    site_id: uuid.UUID | None = None,
) -> AlertWrite:
    """Open the alert for (rule, subject), or refresh the unresolved one (message, details, last_seen_at).

    A still-degraded check re-run (or the same partition re-materialised) refreshes rather than counts, so the
    write is idempotent."""
    key = subject_key(subject_type, subject_id)
    at, now = _utc(at), _utc(now)
    new_id = uuid.uuid4()
    statement = _insert(conn, ALERTS).values(
        id=new_id, rule_id=rule.id, kind=rule.kind, subject_type=subject_type, subject_id=subject_id,
        subject_key=key, site_id=site_id, status="open", severity=rule.severity, message=message,
        details=dict(details), opened_at=at, last_seen_at=at, count=1, created_at=now, updated_at=now,
    )  # fmt: skip
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["rule_id", "subject_key"],
        index_where=UNRESOLVED_PREDICATE,
        set_={
            "message": excluded.message,
            "details": excluded.details,
            "severity": excluded.severity,
            "last_seen_at": excluded.last_seen_at,
            "updated_at": excluded.updated_at,
        },
    ).returning(ALERTS.c.id)
    alert_id = conn.execute(statement).scalar_one()
    return AlertWrite(OPENED if alert_id == new_id else REFRESHED, str(alert_id), key)


def resolve_alert(
    conn: Connection, rule: SystemRule, *, subject_type: str, subject_id: str, now: datetime.datetime
) -> AlertWrite | None:
    """Auto-resolve (resolved_by NULL) the unresolved alert of (rule, subject); None when there is none."""
    key = subject_key(subject_type, subject_id)
    now = _utc(now)
    statement = (
        update(ALERTS)
        .where(ALERTS.c.rule_id == rule.id, ALERTS.c.subject_key == key, ALERTS.c.status != "resolved")
        .values(status="resolved", resolved_at=now, resolved_by=None, updated_at=now)
        .returning(ALERTS.c.id)
    )
    alert_id = conn.execute(statement).scalar_one_or_none()
    return None if alert_id is None else AlertWrite(RESOLVED, str(alert_id), key)
