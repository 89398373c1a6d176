"""Where tags are now, where they have been, and when they entered or left zones.

These tables are written by the realtime path at high rate, so they carry natural keys (idempotent
`INSERT ... ON CONFLICT`) and no foreign keys on the hot columns: a fix for a tag not (yet) registered
as an asset is still stored. Coordinates follow the location-fix data contract (x, y in site-frame metres).
"""

from __future__ import annotations

import datetime
import uuid

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.enums import LocationMethod, ZoneEventKind, max_length, one_of
from core.db.models._base import BigIntBase, DateTimeUTC, DefaultBase, JsonB, empty_list

_METHOD_LENGTH = max_length(LocationMethod)


class CurrentLocation(DefaultBase):
    """The latest fix per tag (upserted on tag_id)."""

    __tablename__ = "current_locations"
    __table_args__ = (
        one_of("method", LocationMethod),
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="confidence_range"),
        CheckConstraint("accuracy_m >= 0", name="accuracy_nonnegative"),
        Index("ix_current_locations_site_floor", "site_id", "floor"),
    )

    tag_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    asset_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("assets.id", ondelete="SET NULL"), index=True
    )
    site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    ts: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    floor: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    accuracy_m: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(_METHOD_LENGTH))
    gateway_count: Mapped[int] = mapped_column(Integer)
    zone_ids: Mapped[list[str]] = mapped_column(JsonB, default=empty_list, server_default=text("'[]'"))
    # Which fingerprint model produced the fix (None for the path-loss methods).
    model_version: Mapped[str | None] = mapped_column(String(100))


class LocationHistory(DefaultBase):
    """Significant fixes over time (a row when a tag moved or at a heartbeat), kept for the retention period.

    Natural key (tag_id, ts) so a replayed batch inserts nothing twice. On PostgreSQL the table is range-partitioned
    by ts (or a TimescaleDB hypertable), which is why ts is part of the primary key; see core.db.partitions.
    """

    __tablename__ = "location_history"
    __table_args__ = (
        Index("ix_location_history_asset_ts", "asset_id", "ts"),
        Index("ix_location_history_site_ts", "site_id", "ts"),
    )

    tag_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ts: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), primary_key=True)
    asset_id: Mapped[uuid.UUID | None] = mapped_column()
    site_id: Mapped[uuid.UUID | None] = mapped_column()
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    floor: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    accuracy_m: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(_METHOD_LENGTH))
    gateway_count: Mapped[int] = mapped_column(Integer)
    model_version: Mapped[str | None] = mapped_column(String(100))


class ZoneEvent(BigIntBase):
    """A tag entered or left a geofence (after the dwell time); unique per (tag, geofence, kind, ts)."""

    __tablename__ = "zone_events"
    __table_args__ = (
        one_of("kind", ZoneEventKind),
        UniqueConstraint("tag_id", "geofence_id", "kind", "ts", name="uq_zone_events_natural_key"),
        Index("ix_zone_events_asset_ts", "asset_id", "ts"),
        Index("ix_zone_events_geofence_ts", "geofence_id", "ts"),
    )

    tag_id: Mapped[str] = mapped_column(String(64))
    asset_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("assets.id", ondelete="SET NULL"))
    geofence_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("geofences.id", ondelete="CASCADE"))
    site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(max_length(ZoneEventKind)))
    ts: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    # On exit: how long the tag was inside (seconds), when the matching enter is known.
    dwell_s: Mapped[float | None] = mapped_column(Float)
    # Why (`core.geofence.membership.REASONS`, e.g. inside_margin, lingered, entered_other) and on what evidence:
    # the signed distance to the boundary (m, + inside), the fix's accuracy and the margin it was judged against.
    # NULL on events stored before migration 0003.
    reason: Mapped[str | None] = mapped_column(String(16))
    depth_m: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    margin_m: Mapped[float | None] = mapped_column(Float)
