"""The closed vocabularies stored in the schema.

Stored as short strings with CHECK constraints rather than native PostgreSQL ENUM types, so that adding a value
is a one-line migration on both PostgreSQL and SQLite and raw SQL writers can use plain strings.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint


class GatewayStatus(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    UNKNOWN = "unknown"


class AssetStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    MAINTENANCE = "maintenance"
    LOST = "lost"
    RETIRED = "retired"


class GeofenceKind(StrEnum):
    WORK_AREA = "work_area"
    RESTRICTED = "restricted"
    SITE_BOUNDARY = "site_boundary"
    OTHER = "other"


class GeofenceShape(StrEnum):
    CIRCLE = "circle"
    POLYGON = "polygon"


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class LocationMethod(StrEnum):
    PROXIMITY = "proximity"
    MIDPOINT = "midpoint"
    CENTROID = "centroid"
    TRILATERATION = "trilateration"
    FINGERPRINT = "fingerprint"


class ZoneEventKind(StrEnum):
    ENTER = "enter"
    EXIT = "exit"


class JobStatus(StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    DONE = "done"
    CANCELLED = "cancelled"


class ChannelKind(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its first or next attempt (see next_attempt_at)
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after the last attempt


class ApiKeyRole(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


class CalibrationStatus(StrEnum):
    OPEN = "open"
    FITTED = "fitted"
    APPLIED = "applied"
    DISCARDED = "discarded"


def one_of(column: str, values: type[StrEnum], name: str | None = None) -> CheckConstraint:
    """CHECK that `column` holds one of the enum's values; named `<column>_valid` (prefixed with the table)."""
    allowed = ", ".join(f"'{member.value}'" for member in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name or f"{column}_valid")


def max_length(values: type[StrEnum]) -> int:
    return max(len(member.value) for member in values)
