from __future__ import annotations

import datetime
import uuid
from typing import Annotated

from msgspec import Meta

from api.assets.schemas import Asset
from api.schemas import UNSET, AwareDatetime, Base, Text, UnsetType
from core.db.enums import JobStatus

Title = Annotated[str, Meta(min_length=1, max_length=200)]


class Job(Base):
    id: uuid.UUID
    title: str
    description: str | None
    site_id: uuid.UUID
    geofence_id: uuid.UUID | None
    status: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime | None
    assets: list[Asset]
    created_at: datetime.datetime
    updated_at: datetime.datetime


class JobCreate(Base):
    title: Title
    site_id: uuid.UUID
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    description: Text | None = None
    geofence_id: uuid.UUID | None = None
    asset_ids: Annotated[list[uuid.UUID], Meta(max_length=10_000)] = []


class JobUpdate(Base):
    title: Title | UnsetType = UNSET
    description: Text | None | UnsetType = UNSET
    geofence_id: uuid.UUID | None | UnsetType = UNSET
    starts_at: AwareDatetime | UnsetType = UNSET
    ends_at: AwareDatetime | None | UnsetType = UNSET


class JobStatusChange(Base):
    status: JobStatus


class AssetAssignment(Base):
    asset_ids: Annotated[list[uuid.UUID], Meta(min_length=1, max_length=10_000)]
