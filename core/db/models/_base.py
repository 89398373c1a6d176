"""Base classes and column types shared by the model modules.

Models build on advanced-alchemy's declarative bases so the API can use its repositories and services on them:
`UUIDAuditBase` (UUID v4 primary key + created_at/updated_at) for entities people manage, `BigIntAuditBase` /
`BigIntBase` for high-volume append-mostly rows, and `DefaultBase` (no implicit primary key) for tables whose
natural key is the primary key. All of them share advanced-alchemy's `orm_registry` metadata, which is what the
migrations compare against.
"""

from __future__ import annotations

from typing import Any

from advanced_alchemy.base import BigIntAuditBase, BigIntBase, DefaultBase, UUIDAuditBase, orm_registry
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import JSON, MetaData
from sqlalchemy.dialects.postgresql import JSONB

__all__ = [
    "BigIntAuditBase",
    "BigIntBase",
    "DateTimeUTC",
    "DefaultBase",
    "JsonB",
    "UUIDAuditBase",
    "empty_dict",
    "empty_list",
    "metadata",
]

metadata: MetaData = orm_registry.metadata

# JSONB on PostgreSQL, JSON (text) elsewhere. advanced-alchemy's own `JsonB` is the same idea, but its Oracle
# variant calls `sqlalchemy.util.portable_instancemethod`, which SQLAlchemy 2.1 removed: any table using it fails
# to build. So declare JSON columns with this type explicitly (never a bare `Mapped[dict]`, which the registry
# maps to advanced-alchemy's JsonB).
JsonB = JSON().with_variant(JSONB(), "postgresql")


def empty_dict() -> dict[str, Any]:
    return {}


def empty_list() -> list[Any]:
    return []
