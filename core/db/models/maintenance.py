"""Maintenance: schedules (every N days and/or every N usage hours, for one asset or a whole category) and
records of the work done."""

from __future__ import annotations

import datetime
import uuid

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Index, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models._base import DateTimeUTC, UUIDAuditBase


class MaintenanceSchedule(UUIDAuditBase):
    """Due when `interval_days` have passed since `last_done_at` or `interval_usage_hours` have been used since
    `usage_hours_at_last`, whichever comes first. `next_due_at` is kept up to date by the maintenance rollup."""

    __tablename__ = "maintenance_schedules"
    __table_args__ = (
        CheckConstraint("asset_id IS NOT NULL OR category IS NOT NULL", name="has_scope"),
        CheckConstraint("interval_days IS NOT NULL OR interval_usage_hours IS NOT NULL", name="has_interval"),
        CheckConstraint("interval_days IS NULL OR interval_days > 0", name="interval_days_positive"),
        CheckConstraint(
            "interval_usage_hours IS NULL OR interval_usage_hours > 0", name="interval_usage_hours_positive"
        ),
        Index("ix_maintenance_schedules_next_due", "enabled", "next_due_at"),
    )

    name: Mapped[str] = mapped_column(String(200))
    asset_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), index=True
    )
    category: Mapped[str | None] = mapped_column(String(100), index=True)
    interval_days: Mapped[float | None] = mapped_column(Float)
    interval_usage_hours: Mapped[float | None] = mapped_column(Float)
    last_done_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    next_due_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    usage_hours_at_last: Mapped[float | None] = mapped_column(Float)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class MaintenanceRecord(UUIDAuditBase):
    """Maintenance that was done on an asset (optionally against a schedule)."""

    __tablename__ = "maintenance_records"
    __table_args__ = (Index("ix_maintenance_records_asset_performed", "asset_id", "performed_at"),)

    asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    schedule_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("maintenance_schedules.id", ondelete="SET NULL"), index=True
    )
    performed_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    performed_by: Mapped[str | None] = mapped_column(String(200))
    usage_hours: Mapped[float | None] = mapped_column(Float)  # the asset's usage counter at the time
    notes: Mapped[str | None] = mapped_column(Text)
