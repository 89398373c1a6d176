from __future__ import annotations

import datetime
import uuid
from typing import Any

from api.schemas import AwareDatetime, Base, Name
from core.db.enums import ApiKeyRole


class ApiKey(Base):
    id: uuid.UUID
    name: str
    prefix: str
    role: str
    expires_at: datetime.datetime | None
    revoked_at: datetime.datetime | None
    last_used_at: datetime.datetime | None
    created_at: datetime.datetime


class ApiKeyCreate(Base):
    name: Name
    role: ApiKeyRole = ApiKeyRole.VIEWER
    expires_at: AwareDatetime | None = None


class IssuedApiKey(ApiKey):
    """Returned once, when the key is created: `key` is the secret; only its hash is kept."""

    key: str


class AuditEntry(Base):
    id: int
    ts: datetime.datetime
    actor: str
    action: str
    entity: str
    entity_id: str | None
    details: dict[str, Any]
