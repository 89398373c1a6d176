"""Calibration: a person places a reference tag at known points; the observations heard during each point's
window fit the per-gateway path-loss parameters (ref_rssi_1m_dbm, path_loss_exponent)."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db.enums import CalibrationStatus, max_length, one_of
from core.db.models._base import DateTimeUTC, JsonB, UUIDAuditBase


class CalibrationSession(UUIDAuditBase):
    """One calibration walk on a site. `result` holds the fitted parameters per gateway once fitted."""

    __tablename__ = "calibration_sessions"
    __table_args__ = (one_of("status", CalibrationStatus),)

    site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(
        String(max_length(CalibrationStatus)),
        default=CalibrationStatus.OPEN.value,
        server_default=CalibrationStatus.OPEN.value,
    )
    started_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    ended_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    notes: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JsonB)

    points: Mapped[list[CalibrationPoint]] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )


class CalibrationPoint(UUIDAuditBase):
    """The reference tag stood at (x, y) on `floor` from window_start to window_end; `observations` may cache the
    per-gateway summary of what was heard then (e.g. {"<gateway_id>": {"median_rssi": -71, "count": 40}})."""

    __tablename__ = "calibration_points"
    __table_args__ = (CheckConstraint("window_end > window_start", name="window_positive"),)

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("calibration_sessions.id", ondelete="CASCADE"), index=True
    )
    tag_id: Mapped[str] = mapped_column(String(64))
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    floor: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    window_start: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    window_end: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    observations: Mapped[dict[str, Any] | None] = mapped_column(JsonB)

    session: Mapped[CalibrationSession] = relationship(back_populates="points")
