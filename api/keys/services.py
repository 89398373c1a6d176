"""Issuing and revoking API keys (used by the keys routes and `assettag keys`)."""

from __future__ import annotations

import datetime

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy.ext.asyncio import AsyncSession

from api.keys.secrets import hash_key, key_prefix, new_key
from api.services import EntityService
from core.db.enums import ApiKeyRole
from core.db.models import ApiKey


class ApiKeyService(EntityService[ApiKey]):
    class Repository(SQLAlchemyAsyncRepository[ApiKey]):
        model_type = ApiKey

    repository_type = Repository
    entity = "API key"


async def issue_key(
    session: AsyncSession, name: str, role: ApiKeyRole, expires_at: datetime.datetime | None = None
) -> tuple[ApiKey, str]:
    """Store a new key and return it with its secret — the only time the secret is available."""
    secret = new_key()
    key = ApiKey(
        name=name,
        prefix=key_prefix(secret),
        key_hash=hash_key(secret),
        role=role.value,
        expires_at=expires_at,
    )
    session.add(key)
    await session.flush()
    return key, secret
