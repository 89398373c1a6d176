from __future__ import annotations

import datetime
import uuid

from api.schemas import UNSET, Base, Json, Latitude, Longitude, Name, PositiveMetres, UnsetType


class Site(Base):
    id: uuid.UUID
    name: str
    origin_lat: float
    origin_lon: float
    timezone: str
    width_m: float | None
    height_m: float | None
    floor_plan: Json | None
    created_at: datetime.datetime
    updated_at: datetime.datetime


class FloorPlan(Base):
    site_id: uuid.UUID
    svg: str | None
    floor_plan: Json | None


class SiteCreate(Base):
    name: Name
    origin_lat: Latitude
    origin_lon: Longitude
    timezone: str = "UTC"
    width_m: PositiveMetres | None = None
    height_m: PositiveMetres | None = None
    floor_plan_svg: str | None = None
    floor_plan: Json | None = None


class SiteUpdate(Base):
    name: Name | UnsetType = UNSET
    origin_lat: Latitude | UnsetType = UNSET
    origin_lon: Longitude | UnsetType = UNSET
    timezone: str | UnsetType = UNSET
    width_m: PositiveMetres | None | UnsetType = UNSET
    height_m: PositiveMetres | None | UnsetType = UNSET
    floor_plan_svg: str | None | UnsetType = UNSET
    floor_plan: Json | None | UnsetType = UNSET
