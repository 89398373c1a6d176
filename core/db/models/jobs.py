"""Work orders: a job on a site, in a time window, with the assets assigned to it."""

from __future__ import annotations

import datetime
import uuid

from advanced_alchemy.types import GUID
from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db.enums import JobStatus, max_length, one_of
from core.db.models._base import DateTimeUTC, UUIDAuditBase, metadata
from core.db.models.assets import Asset

# Plain association table: the link has no attributes of its own.
job_assets = Table(
    "job_assets",
    metadata,
    Column("job_id", GUID, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("asset_id", GUID, ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Job(UUIDAuditBase):
    """A work order. `geofence_id` optionally names its work area, so rules can check assets stay there."""

    __tablename__ = "jobs"
    __table_args__ = (
        one_of("status", JobStatus),
        CheckConstraint("ends_at IS NULL OR ends_at >= starts_at", name="ends_after_starts"),
        Index("ix_jobs_site_status", "site_id", "status"),
        Index("ix_jobs_site_starts", "site_id", "starts_at"),
    )

    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    geofence_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("geofences.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(
        String(max_length(JobStatus)), default=JobStatus.PLANNED.value, server_default=JobStatus.PLANNED.value
    )
    starts_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    ends_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True))

    assets: Mapped[list[Asset]] = relationship(secondary=job_assets, lazy="selectin")
