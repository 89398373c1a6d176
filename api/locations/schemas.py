from __future__ import annotations

import datetime
import uuid

from api.schemas import Base


class LocationFix(Base):
    """A location fix (DESIGN.md data contract): x, y in site-frame metres, accuracy_m the ~68 % radius."""

    tag_id: str
    asset_id: uuid.UUID | None
    site_id: uuid.UUID | None
    ts: datetime.datetime
    x: float
    y: float
    lat: float | None
    lon: float | None
    floor: int
    accuracy_m: float
    confidence: float
    method: str
    gateway_count: int
    zone_ids: list[str] = []


class NearbyFix(LocationFix):
    distance_m: float | None = None


class SiteLocations(Base):
    site_id: uuid.UUID
    count: int
    items: list[NearbyFix]


class HistoryPoint(Base):
    ts: datetime.datetime
    x: float
    y: float
    lat: float | None
    lon: float | None
    floor: int
    accuracy_m: float
    confidence: float
    method: str


class LocationHistory(Base):
    asset_id: uuid.UUID
    tag_id: str | None
    start: datetime.datetime
    end: datetime.datetime
    every_s: float | None
    count: int
    truncated: bool
    points: list[HistoryPoint]


class ZoneEvent(Base):
    id: int
    tag_id: str
    asset_id: uuid.UUID | None
    geofence_id: uuid.UUID
    site_id: uuid.UUID | None
    kind: str
    ts: datetime.datetime
    dwell_s: float | None
