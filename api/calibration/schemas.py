from __future__ import annotations

import datetime
import uuid
from typing import Annotated

from msgspec import Meta

from api.assets.schemas import TagId
from api.schemas import AwareDatetime, Base, Floor, Json, Metres, Name, Text


class CalibrationPoint(Base):
    id: uuid.UUID
    session_id: uuid.UUID
    tag_id: str
    x: float
    y: float
    floor: int
    window_start: datetime.datetime
    window_end: datetime.datetime
    observations: Json | None


class CalibrationSession(Base):
    id: uuid.UUID
    site_id: uuid.UUID
    name: str
    status: str
    started_at: datetime.datetime | None
    ended_at: datetime.datetime | None
    notes: str | None
    result: Json | None
    points: list[CalibrationPoint]
    created_at: datetime.datetime


class SessionStart(Base):
    site_id: uuid.UUID
    name: Name
    notes: Text | None = None


class RssiSummary(Base):
    median_rssi: Annotated[float, Meta(ge=-130, le=20)]
    count: Annotated[int, Meta(ge=1, le=10_000_000)] = 1


class PointCreate(Base):
    """The reference tag stood at (x, y) from window_start to window_end. `observations` optionally gives what
    each gateway heard meanwhile ({gateway_id: {median_rssi, count}}); points with it are used for the fit."""

    tag_id: TagId
    x: Metres
    y: Metres
    window_start: AwareDatetime
    window_end: AwareDatetime
    floor: Floor = 0
    observations: Annotated[dict[str, RssiSummary], Meta(max_length=1000)] | None = None
