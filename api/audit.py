"""The audit log: every mutation made through the API is written as a row in the same transaction as the change,
so the log and the data cannot disagree."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.security import Principal
from core.db.models import AuditLogEntry


def record(
    session: AsyncSession,
    principal: Principal | None,
    action: str,
    entity: str,
    entity_id: uuid.UUID | str | int | None = None,
    **details: Any,
) -> None:
    """Add an audit row to the session (committed with the request's transaction)."""
    session.add(
        AuditLogEntry(
            actor=principal.actor if principal else "anonymous",
            action=action,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            details={key: _plain(value) for key, value in details.items()},
        )
    )


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
