"""Alerts in the database: one unresolved alert per (rule, subject), enforced by the partial unique index and
written with upserts, so two consumers (or a replay) racing on the same condition still leave one alert.

Every change is returned as an `AlertChange` and its notifications are queued in the outbox by the caller in the
*same* transaction (`core.alerts.outbox.enqueue`), so an alert is never stored without its notifications
or notified without being stored. Publishing (Kafka `ble.alerts`, pub/sub `alerts.<site>`) happens after commit.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, and_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from core.alerts import Action, Condition, Decision, OpenAlert, Rule, RuleError, rule_from_record
from core.alerts.changes import (
    ACKNOWLEDGED,
    ESCALATED,
    OPENED,
    REPEATED,
    RESOLVED,
    AlertChange,
    alert_dict,
)
from core.alerts.persist import SYSTEM_KINDS
from core.db.models import Alert, AlertRule

log = logging.getLogger(__name__)

ALERTS: Table = Alert.__table__  # type: ignore[assignment]
RULES: Table = AlertRule.__table__  # type: ignore[assignment]
UNRESOLVED = ALERTS.c.status != "resolved"
# The upsert's arbiter must name the partial index's predicate as a literal: with a bound parameter PostgreSQL
# cannot match the index once psycopg has prepared the statement (after a few executions), and fails with
# "no unique or exclusion constraint matching the ON CONFLICT specification".
UNRESOLVED_PREDICATE = text("status <> 'resolved'")

_RETURNED = [
    ALERTS.c.id, ALERTS.c.rule_id, ALERTS.c.kind, ALERTS.c.subject_type, ALERTS.c.subject_id,
    ALERTS.c.subject_key, ALERTS.c.asset_id, ALERTS.c.site_id, ALERTS.c.status, ALERTS.c.severity,
    ALERTS.c.message, ALERTS.c.details, ALERTS.c.opened_at, ALERTS.c.last_seen_at, ALERTS.c.count,
    ALERTS.c.acknowledged_by, ALERTS.c.acknowledged_at, ALERTS.c.resolved_by, ALERTS.c.resolved_at,
    ALERTS.c.escalated_at,
]  # fmt: skip


def _uuid(value: str | uuid.UUID | None) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _insert(conn: Connection):  # type: ignore[no-untyped-def]
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(ALERTS)


# ------------------------------------------------------------------------------------------ reading
def load_rules(conn: Connection) -> list[Rule]:
    """Enabled rules; a rule that no longer validates is logged and skipped (never stops the loop)."""
    rules = []
    for row in conn.execute(select(RULES).where(RULES.c.enabled.is_(True))).mappings():
        if row["kind"] in SYSTEM_KINDS:  # raised and resolved by batch jobs, not by this engine
            continue
        try:
            rules.append(rule_from_record(row))
        except RuleError as exc:
            log.warning("alert rule %s skipped: %s", row["id"], exc)
    return rules


def load_open_alerts(conn: Connection, rule_ids: Iterable[str] | None = None) -> list[OpenAlert]:
    query = select(
        ALERTS.c.id, ALERTS.c.rule_id, ALERTS.c.subject_key, ALERTS.c.status, ALERTS.c.opened_at,
        ALERTS.c.site_id, ALERTS.c.escalated_at,
    ).where(UNRESOLVED, ALERTS.c.rule_id.is_not(None))  # fmt: skip
    if rule_ids is not None:
        query = query.where(ALERTS.c.rule_id.in_([_uuid(r) for r in rule_ids]))
    return [
        OpenAlert(str(r.id), str(r.rule_id), r.subject_key, r.status, r.opened_at,
                  None if r.site_id is None else str(r.site_id), r.escalated_at)
        for r in conn.execute(query)
    ]  # fmt: skip


# ------------------------------------------------------------------------------------------ writing
def upsert_alert(
    conn: Connection, condition: Condition, now: datetime.datetime, *, repeat: bool
) -> AlertChange:
    """Open the alert for (rule, subject), or — if one is unresolved — refresh it (count +1 when `repeat`)."""
    rule = condition.rule
    new_id = uuid.uuid4()
    values = {
        "id": new_id,
        "rule_id": _uuid(rule.id),
        "kind": rule.kind.value,
        "subject_type": condition.subject_type,
        "subject_id": condition.subject_id,
        "subject_key": condition.subject_key,
        "asset_id": _uuid(condition.asset_id),
        "site_id": _uuid(condition.site_id),
        "status": "open",
        "severity": rule.severity,
        "message": condition.message,
        "details": dict(condition.details),
        "opened_at": condition.at,
        "last_seen_at": condition.at,
        "count": 1,
        "created_at": now,
        "updated_at": now,
    }
    statement = _insert(conn).values(values)
    excluded = statement.excluded
    changes: dict[str, Any] = {
        "message": excluded.message,
        "details": excluded.details,
        "last_seen_at": excluded.last_seen_at,
        "updated_at": excluded.updated_at,
    }
    if repeat:
        changes["count"] = ALERTS.c.count + 1
    statement = statement.on_conflict_do_update(
        index_elements=["rule_id", "subject_key"], index_where=UNRESOLVED_PREDICATE, set_=changes
    ).returning(*_RETURNED)
    row = conn.execute(statement).one()
    action = OPENED if row.id == new_id else REPEATED
    return AlertChange(action, alert_dict(row), rule)


def resolve_alert(
    conn: Connection, alert_id: str, now: datetime.datetime, by: str | None = None, rule: Rule | None = None
) -> AlertChange | None:
    """Resolve an unresolved alert (`by` None = automatically). None if it was already resolved."""
    statement = (
        update(ALERTS)
        .where(ALERTS.c.id == _uuid(alert_id), UNRESOLVED)
        .values(status="resolved", resolved_at=now, resolved_by=by, updated_at=now)
        .returning(*_RETURNED)
    )
    row = conn.execute(statement).one_or_none()
    return None if row is None else AlertChange(RESOLVED, alert_dict(row), rule)


def resolve_subject(conn: Connection, condition: Condition, now: datetime.datetime) -> AlertChange | None:
    """Auto-resolve the unresolved alert of (rule, subject) when its condition cleared."""
    statement = (
        update(ALERTS)
        .where(
            and_(ALERTS.c.rule_id == _uuid(condition.rule.id), ALERTS.c.subject_key == condition.subject_key),
            UNRESOLVED,
        )
        .values(status="resolved", resolved_at=now, resolved_by=None, updated_at=now)
        .returning(*_RETURNED)
    )
    row = conn.execute(statement).one_or_none()
    return None if row is None else AlertChange(RESOLVED, alert_dict(row), condition.rule)


def acknowledge_alert(conn: Connection, alert_id: str, by: str, now: datetime.datetime) -> AlertChange | None:
    """open -> acknowledged, with who and when (for the API). None if it is not open."""
    statement = (
        update(ALERTS)
        .where(ALERTS.c.id == _uuid(alert_id), ALERTS.c.status == "open")
        .values(status="acknowledged", acknowledged_by=by, acknowledged_at=now, updated_at=now)
        .returning(*_RETURNED)
    )
    row = conn.execute(statement).one_or_none()
    return None if row is None else AlertChange(ACKNOWLEDGED, alert_dict(row))


def escalate_alert(conn: Connection, alert_id: str, now: datetime.datetime, rule: Rule) -> AlertChange | None:
    statement = (
        update(ALERTS)
        .where(ALERTS.c.id == _uuid(alert_id), ALERTS.c.status == "open", ALERTS.c.escalated_at.is_(None))
        .values(escalated_at=now, updated_at=now)
        .returning(*_RETURNED)
    )
    row = conn.execute(statement).one_or_none()
    return None if row is None else AlertChange(ESCALATED, alert_dict(row), rule)


def apply_decisions(
    conn: Connection, decisions: Sequence[Decision], now: datetime.datetime
) -> list[AlertChange]:
    """Carry out lifecycle decisions; returns what changed (a decision that lost a race changes nothing)."""
    changes: list[AlertChange] = []
    for decision in decisions:
        change: AlertChange | None = None
        if decision.action in (Action.OPEN, Action.REPEAT) and decision.condition is not None:
            change = upsert_alert(conn, decision.condition, now, repeat=decision.action is Action.REPEAT)
            if decision.action is Action.OPEN and change.action == REPEATED and not decision.condition.repeat:
                change = None  # a continuing condition found its alert already open: nothing to report
        elif decision.action is Action.RESOLVE:
            if decision.alert is not None:
                change = resolve_alert(conn, decision.alert.id, now, rule=decision.rule)
            elif decision.condition is not None:
                change = resolve_subject(conn, decision.condition, now)
        elif decision.action is Action.ESCALATE and decision.alert is not None:
            change = escalate_alert(conn, decision.alert.id, now, decision.rule)
        if change is not None:
            changes.append(change)
    return changes


def apply_event_conditions(
    conn: Connection, conditions: Sequence[Condition], now: datetime.datetime
) -> list[AlertChange]:
    """Edge-triggered conditions (zone events) straight to upserts / resolves, in order."""
    changes: list[AlertChange] = []
    for condition in conditions:
        if condition.active:
            changes.append(upsert_alert(conn, condition, now, repeat=condition.repeat))
        elif condition.rule.auto_resolve:
            change = resolve_subject(conn, condition, now)
            if change is not None:
                changes.append(change)
    return changes
