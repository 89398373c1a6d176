from __future__ import annotations

import datetime
import uuid
from typing import Annotated

from msgspec import Meta

from api.schemas import UNSET, Base, Json, Name, Percent, ShortText, UnsetType
from core.db.enums import AssetStatus

TagId = Annotated[
    str, Meta(min_length=1, max_length=100, description="hex, separators allowed: AC:23:3F:A0:01:02")
]


class Asset(Base):
    id: uuid.UUID
    name: str
    category: str | None
    tag_id: str | None
    site_id: uuid.UUID | None
    status: str
    battery_pct: float | None
    last_seen: datetime.datetime | None
    usage_hours: float
    attributes: Json
    created_at: datetime.datetime
    updated_at: datetime.datetime


class AssetCreate(Base):
    name: Name
    category: ShortText | None = None
    tag_id: TagId | None = None
    site_id: uuid.UUID | None = None
    status: AssetStatus = AssetStatus.ACTIVE
    attributes: Json = {}


class AssetUpdate(Base):
    name: Name | UnsetType = UNSET
    category: ShortText | None | UnsetType = UNSET
    tag_id: TagId | None | UnsetType = UNSET
    site_id: uuid.UUID | None | UnsetType = UNSET
    status: AssetStatus | UnsetType = UNSET
    battery_pct: Percent | None | UnsetType = UNSET
    attributes: Json | UnsetType = UNSET
