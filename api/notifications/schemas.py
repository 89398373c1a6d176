from __future__ import annotations

import datetime
import uuid
from typing import Annotated

from msgspec import Meta

from api.schemas import UNSET, Base, Json, Name, UnsetType
from core.db.enums import ChannelKind

Secret = Annotated[str, Meta(min_length=8, max_length=256)]
RatePerMinute = Annotated[int, Meta(ge=1, le=100_000)]


class NotificationChannel(Base):
    """A channel as shown to clients: the signing secret is never returned, only whether one is set."""

    id: uuid.UUID
    name: str
    kind: str
    config: Json
    has_secret: bool
    rate_limit_per_min: int | None
    enabled: bool
    created_at: datetime.datetime
    updated_at: datetime.datetime


class ChannelCreate(Base):
    name: Name
    kind: ChannelKind
    config: Json
    secret: Secret | None = None
    rate_limit_per_min: RatePerMinute | None = None
    enabled: bool = True


class ChannelUpdate(Base):
    name: Name | UnsetType = UNSET
    config: Json | UnsetType = UNSET
    secret: Secret | None | UnsetType = UNSET
    rate_limit_per_min: RatePerMinute | None | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET


class Delivery(Base):
    id: int
    channel_id: uuid.UUID
    alert_id: uuid.UUID | None
    dedupe_key: str | None
    payload: Json
    status: str
    attempts: int
    next_attempt_at: datetime.datetime | None
    last_error: str | None
    delivered_at: datetime.datetime | None
    created_at: datetime.datetime
