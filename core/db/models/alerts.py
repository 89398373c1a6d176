"""Alert rules, the alerts they raise (open -> acknowledged -> resolved), and comments on alerts."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text, text, true
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db.enums import AlertStatus, Severity, max_length, one_of
from core.db.models._base import DateTimeUTC, JsonB, UUIDAuditBase, empty_dict

_SEVERITY_LENGTH = max_length(Severity)


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def subject_key(subject_type: str, subject_id: str) -> str:
    """The identity an alert is about, e.g. 'asset:3f2a…' or 'gateway:AC233FA00102'."""
    return f"{subject_type}:{subject_id}"


def _default_subject_key(context: DefaultExecutionContext) -> str:
    params = context.get_current_parameters()
    return subject_key(params["subject_type"], params["subject_id"])


class AlertRule(UUIDAuditBase):
    """What to watch for, where. Scope: a site (None = every site), optionally narrowed to a zone, an asset or a
    category. `kind` names the evaluator in the rules engine; `params` are its settings; `schedule` restricts when
    the rule is active (e.g. {"days": [0,1,2,3,4], "start": "18:00", "end": "06:00"}); None = always."""

    __tablename__ = "alert_rules"
    __table_args__ = (
        one_of("severity", Severity),
        CheckConstraint("escalate_after_s IS NULL OR escalate_after_s > 0", name="escalate_after_positive"),
        Index("ix_alert_rules_site_enabled", "site_id", "enabled"),
    )

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    geofence_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("geofences.id", ondelete="CASCADE"))
    asset_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    category: Mapped[str | None] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(
        String(_SEVERITY_LENGTH), default=Severity.WARNING.value, server_default=Severity.WARNING.value
    )
    params: Mapped[dict[str, Any]] = mapped_column(JsonB, default=empty_dict, server_default=text("'{}'"))
    schedule: Mapped[dict[str, Any] | None] = mapped_column(JsonB)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Resolve the alert by itself when the condition clears; otherwise a person resolves it.
    auto_resolve: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Escalate (notify again, e.g. to another channel) if still open and unacknowledged after this long.
    escalate_after_s: Mapped[float | None] = mapped_column(Float)


class Alert(UUIDAuditBase):
    """One occurrence of a rule's condition for one subject.

    The database allows at most one unresolved alert per (rule_id, subject_key): a repeat of the condition
    bumps `count` and `last_seen_at` on the open alert instead of opening another (partial unique index,
    on PostgreSQL and SQLite alike). `subject_key` defaults to '<subject_type>:<subject_id>'.
    If the rule is deleted, its alerts stay as history with rule_id NULL.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        one_of("status", AlertStatus),
        one_of("severity", Severity),
        CheckConstraint("count >= 1", name="count_positive"),
        CheckConstraint("status <> 'resolved' OR resolved_at IS NOT NULL", name="resolved_has_time"),
        CheckConstraint(
            "status <> 'acknowledged' OR acknowledged_at IS NOT NULL", name="acknowledged_has_time"
        ),
        Index(
            "uq_alerts_one_unresolved_per_subject",
            "rule_id",
            "subject_key",
            unique=True,
            postgresql_where=text("status <> 'resolved'"),
            sqlite_where=text("status <> 'resolved'"),
        ),
        Index("ix_alerts_status_site", "status", "site_id"),
        Index("ix_alerts_site_opened", "site_id", "opened_at"),
        Index("ix_alerts_asset_opened", "asset_id", "opened_at"),
    )

    rule_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("alert_rules.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(64))  # copied from the rule so the alert reads on its own
    subject_type: Mapped[str] = mapped_column(String(32))  # asset, gateway, site, geofence, ...
    subject_id: Mapped[str] = mapped_column(String(64))
    subject_key: Mapped[str] = mapped_column(String(128), default=_default_subject_key)
    asset_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("assets.id", ondelete="SET NULL"))
    site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(
        String(max_length(AlertStatus)), default=AlertStatus.OPEN.value, server_default=AlertStatus.OPEN.value
    )
    severity: Mapped[str] = mapped_column(String(_SEVERITY_LENGTH))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JsonB, default=empty_dict, server_default=text("'{}'"))
    opened_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=_utcnow)
    last_seen_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=_utcnow)
    count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(200))  # None with resolved_at set = auto-resolved
    resolved_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    escalated_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True))

    comments: Mapped[list[AlertComment]] = relationship(
        back_populates="alert",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
        order_by="AlertComment.created_at",
    )


class AlertComment(UUIDAuditBase):
    """A note a person left on an alert (what they found, what they did)."""

    __tablename__ = "alert_comments"

    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)

    alert: Mapped[Alert] = relationship(back_populates="comments")
