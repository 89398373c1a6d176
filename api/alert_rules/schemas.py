from __future__ import annotations

import datetime
import uuid
from typing import Annotated

from msgspec import Meta

from api.schemas import UNSET, Base, Json, Name, ShortText, Text, UnsetType
from core.db.enums import Severity

Kind = Annotated[
    str, Meta(min_length=1, max_length=64, description="rule kind, e.g. geofence_exit, battery_low")
]
EscalateAfter = Annotated[float, Meta(gt=0, le=30 * 86400)]


class AlertRule(Base):
    id: uuid.UUID
    name: str
    description: str | None
    kind: str
    site_id: uuid.UUID | None
    geofence_id: uuid.UUID | None
    asset_id: uuid.UUID | None
    category: str | None
    severity: str
    params: Json
    schedule: Json | None
    enabled: bool
    auto_resolve: bool
    escalate_after_s: float | None
    created_at: datetime.datetime
    updated_at: datetime.datetime


class AlertRuleCreate(Base):
    name: Name
    kind: Kind
    description: Text | None = None
    site_id: uuid.UUID | None = None
    geofence_id: uuid.UUID | None = None
    asset_id: uuid.UUID | None = None
    category: ShortText | None = None
    severity: Severity = Severity.WARNING
    params: Json = {}
    schedule: Json | None = None
    enabled: bool = True
    auto_resolve: bool = True
    escalate_after_s: EscalateAfter | None = None


class AlertRuleUpdate(Base):
    name: Name | UnsetType = UNSET
    kind: Kind | UnsetType = UNSET
    description: Text | None | UnsetType = UNSET
    site_id: uuid.UUID | None | UnsetType = UNSET
    geofence_id: uuid.UUID | None | UnsetType = UNSET
    asset_id: uuid.UUID | None | UnsetType = UNSET
    category: ShortText | None | UnsetType = UNSET
    severity: Severity | UnsetType = UNSET
    params: Json | UnsetType = UNSET
    schedule: Json | None | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET
    auto_resolve: bool | UnsetType = UNSET
    escalate_after_s: EscalateAfter | None | UnsetType = UNSET
