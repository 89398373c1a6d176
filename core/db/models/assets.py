"""Tagged equipment."""

from __future__ import annotations

import datetime
import re
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, validates

from core.db.enums import AssetStatus, max_length, one_of
from core.db.models._base import DateTimeUTC, JsonB, UUIDAuditBase, empty_dict

TAG_ID_MAX_LENGTH = 64
_TAG_SEPARATORS = re.compile(r"[\s:\-._]")
_HEX = re.compile(r"[0-9A-F]+")


def normalise_tag_id(raw: str) -> str:
    """Tag ids are stored upper-case hex without separators: 'ac:23:3f:a0:01:02' -> 'AC233FA00102'."""
    tag_id = _TAG_SEPARATORS.sub("", raw).upper()
    if not tag_id or len(tag_id) > TAG_ID_MAX_LENGTH or not _HEX.fullmatch(tag_id):
        raise ValueError(
            f"tag_id: expected 1-{TAG_ID_MAX_LENGTH} hex digits (separators allowed), got {raw!r}"
        )
    return tag_id


# The database enforces the same normal form, so rows written by raw SQL cannot break lookups by tag.
# SQLite has no regex operator: GLOB with a negated class does the job there.
_TAG_ID_CHECK_POSTGRES = CheckConstraint(
    rf"tag_id ~ '^[0-9A-F]{{1,{TAG_ID_MAX_LENGTH}}}$'", name="tag_id_upper_hex"
).ddl_if(dialect="postgresql")
_TAG_ID_CHECK_OTHER = CheckConstraint(
    f"tag_id <> '' AND tag_id NOT GLOB '*[^0-9A-F]*' AND length(tag_id) <= {TAG_ID_MAX_LENGTH}",
    name="tag_id_upper_hex",
).ddl_if(dialect="sqlite")


class Asset(UUIDAuditBase):
    """A piece of equipment and the BLE tag on it (an asset may be untagged for a while: tag_id None)."""

    __tablename__ = "assets"
    __table_args__ = (
        one_of("status", AssetStatus),
        CheckConstraint(
            "battery_pct IS NULL OR (battery_pct >= 0 AND battery_pct <= 100)", name="battery_pct_range"
        ),
        CheckConstraint("usage_hours >= 0", name="usage_hours_nonnegative"),
        _TAG_ID_CHECK_POSTGRES,
        _TAG_ID_CHECK_OTHER,
        Index("ix_assets_site_status", "site_id", "status"),
    )

    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(100), index=True)
    tag_id: Mapped[str | None] = mapped_column(String(TAG_ID_MAX_LENGTH), unique=True)
    site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(
        String(max_length(AssetStatus)),
        default=AssetStatus.ACTIVE.value,
        server_default=AssetStatus.ACTIVE.value,
    )
    battery_pct: Mapped[float | None] = mapped_column(Float)
    last_seen: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    # Running total maintained by the maintenance rollup; compared with usage-hour maintenance schedules.
    usage_hours: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    attributes: Mapped[dict[str, Any]] = mapped_column(JsonB, default=empty_dict, server_default=text("'{}'"))

    @validates("tag_id")
    def _normalise_tag_id(self, _key: str, value: str | None) -> str | None:
        return None if value is None else normalise_tag_id(value)
