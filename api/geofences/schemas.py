from __future__ import annotations

import datetime
import uuid
from typing import Any

from api.schemas import UNSET, Base, Floor, Json, Name, PositiveMetres, Seconds, UnsetType
from core.db.enums import GeofenceKind


class Geofence(Base):
    id: uuid.UUID
    site_id: uuid.UUID
    name: str
    floor: int | None
    kind: str
    shape: str
    geometry: Json
    radius_m: float | None
    enter_dwell_s: float | None
    exit_dwell_s: float | None
    enabled: bool
    created_at: datetime.datetime
    updated_at: datetime.datetime


class GeofenceCreate(Base):
    site_id: uuid.UUID
    name: Name
    geometry: Json
    radius_m: PositiveMetres | None = None
    floor: Floor | None = None
    kind: GeofenceKind = GeofenceKind.OTHER
    enter_dwell_s: Seconds | None = None
    exit_dwell_s: Seconds | None = None
    enabled: bool = True


class GeofenceUpdate(Base):
    name: Name | UnsetType = UNSET
    geometry: Json | UnsetType = UNSET
    radius_m: PositiveMetres | None | UnsetType = UNSET
    floor: Floor | None | UnsetType = UNSET
    kind: GeofenceKind | UnsetType = UNSET
    enter_dwell_s: Seconds | None | UnsetType = UNSET
    exit_dwell_s: Seconds | None | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET


class FeatureCollection(Base):
    type: str
    features: list[dict[str, Any]]
