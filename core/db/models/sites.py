"""Sites, the gateways placed on them, and the geofences drawn on them.

Positions are in the site frame: metres east (x) and north (y) of the site's origin (lat, lon), z up.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column, validates

from core.db.enums import GatewayStatus, GeofenceKind, GeofenceShape, max_length, one_of
from core.db.models._base import DateTimeUTC, JsonB, UUIDAuditBase


class Site(UUIDAuditBase):
    """A place with tagged equipment: its origin anchors the local metric frame all positions are given in."""

    __tablename__ = "sites"
    __table_args__ = (
        CheckConstraint("origin_lat BETWEEN -90 AND 90", name="origin_lat_range"),
        CheckConstraint("origin_lon BETWEEN -180 AND 180", name="origin_lon_range"),
        CheckConstraint("width_m IS NULL OR width_m > 0", name="width_positive"),
        CheckConstraint("height_m IS NULL OR height_m > 0", name="height_positive"),
    )

    name: Mapped[str] = mapped_column(String(200), unique=True)
    origin_lat: Mapped[float] = mapped_column(Float)
    origin_lon: Mapped[float] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # Extent of the site frame, used to bound position estimates; None = unbounded.
    width_m: Mapped[float | None] = mapped_column(Float)
    height_m: Mapped[float | None] = mapped_column(Float)
    # Optional floor plan: an SVG drawn in site-frame metres, and/or structured JSON (floors, walls, image bounds).
    floor_plan_svg: Mapped[str | None] = mapped_column(Text)
    floor_plan: Mapped[dict[str, Any] | None] = mapped_column(JsonB)

    @validates("timezone")
    def _check_timezone(self, _key: str, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"timezone: unknown IANA time zone {value!r}, e.g. 'Europe/Berlin' or 'UTC'"
            ) from None
        return value


class Gateway(UUIDAuditBase):
    """A fixed BLE receiver. Placed by x/y(/z) metres or by lat/lon; path-loss overrides come from calibration."""

    __tablename__ = "gateways"
    __table_args__ = (
        CheckConstraint(
            "(x IS NOT NULL AND y IS NOT NULL) OR (lat IS NOT NULL AND lon IS NOT NULL)", name="has_position"
        ),
        CheckConstraint("lat IS NULL OR lat BETWEEN -90 AND 90", name="lat_range"),
        CheckConstraint("lon IS NULL OR lon BETWEEN -180 AND 180", name="lon_range"),
        CheckConstraint(
            "path_loss_exponent IS NULL OR (path_loss_exponent > 0.5 AND path_loss_exponent < 6)",
            name="path_loss_exponent_range",
        ),
        one_of("status", GatewayStatus),
    )

    # The id the gateway reports in its observations (often its MAC); distinct from the row's UUID.
    gateway_id: Mapped[str] = mapped_column(String(64), unique=True)
    site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    x: Mapped[float | None] = mapped_column(Float)
    y: Mapped[float | None] = mapped_column(Float)
    z: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    floor: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # None = use the site-wide defaults from settings (ref_rssi_1m_dbm, path_loss_exponent).
    ref_rssi_1m_dbm: Mapped[float | None] = mapped_column(Float)
    path_loss_exponent: Mapped[float | None] = mapped_column(Float)
    # The weakest RSSI it reports (dBm, its receiver sensitivity); None = the site-wide gateway_sensitivity_dbm.
    sensitivity_dbm: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(
        String(max_length(GatewayStatus)),
        default=GatewayStatus.UNKNOWN.value,
        server_default=GatewayStatus.UNKNOWN.value,
        index=True,
    )
    last_seen: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True))


class Geofence(UUIDAuditBase):
    """A zone on a site: a circle (center + radius) or a polygon, in site-frame metres.

    `geometry` is GeoJSON-like with site-frame coordinates, e.g. {"type": "Polygon", "coordinates": [[[x, y], ...]]}
    or {"type": "Point", "coordinates": [x, y]} for a circle. Dwell times (seconds) override the defaults that keep
    zone membership from flapping; None = default.
    """

    __tablename__ = "geofences"
    __table_args__ = (
        one_of("kind", GeofenceKind),
        one_of("shape", GeofenceShape),
        CheckConstraint(
            "shape <> 'circle' OR (center_x IS NOT NULL AND center_y IS NOT NULL AND radius_m > 0)",
            name="circle_has_center_radius",
        ),
        CheckConstraint("shape <> 'polygon' OR geometry IS NOT NULL", name="polygon_has_geometry"),
        CheckConstraint("enter_dwell_s IS NULL OR enter_dwell_s >= 0", name="enter_dwell_nonnegative"),
        CheckConstraint("exit_dwell_s IS NULL OR exit_dwell_s >= 0", name="exit_dwell_nonnegative"),
        Index("ix_geofences_site_floor", "site_id", "floor"),
    )

    site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    floor: Mapped[int | None] = mapped_column(Integer)  # None = every floor
    kind: Mapped[str] = mapped_column(
        String(max_length(GeofenceKind)),
        default=GeofenceKind.OTHER.value,
        server_default=GeofenceKind.OTHER.value,
    )
    shape: Mapped[str] = mapped_column(String(max_length(GeofenceShape)))
    geometry: Mapped[dict[str, Any] | None] = mapped_column(JsonB)
    center_x: Mapped[float | None] = mapped_column(Float)
    center_y: Mapped[float | None] = mapped_column(Float)
    radius_m: Mapped[float | None] = mapped_column(Float)
    enter_dwell_s: Mapped[float | None] = mapped_column(Float)
    exit_dwell_s: Mapped[float | None] = mapped_column(Float)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
