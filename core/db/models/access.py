"""Who may call the API (API keys with roles) and what they did (audit log)."""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.enums import ApiKeyRole, max_length, one_of
from core.db.models._base import BigIntBase, DateTimeUTC, JsonB, UUIDAuditBase, empty_dict


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class ApiKey(UUIDAuditBase):
    """An API key. Only a hash of the secret is stored; `prefix` (the key's first characters, shown to users)
    finds the row, then the hash is compared. `created_at` comes from the audit base."""

    __tablename__ = "api_keys"
    __table_args__ = (one_of("role", ApiKeyRole),)

    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(
        String(max_length(ApiKeyRole)),
        default=ApiKeyRole.VIEWER.value,
        server_default=ApiKeyRole.VIEWER.value,
    )
    expires_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    last_used_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True))


class AuditLogEntry(BigIntBase):
    """Something a person or key changed: `actor` did `action` to `entity`/`entity_id` at `ts`."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_entity", "entity", "entity_id"),
        Index("ix_audit_log_actor_ts", "actor", "ts"),
    )

    ts: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=_utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JsonB, default=empty_dict, server_default=text("'{}'"))
