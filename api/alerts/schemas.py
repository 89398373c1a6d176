from __future__ import annotations

import datetime
import uuid
from typing import Annotated

from msgspec import Meta

from api.schemas import Base, Json

CommentBody = Annotated[str, Meta(min_length=1, max_length=10_000)]


class AlertComment(Base):
    id: uuid.UUID
    alert_id: uuid.UUID
    author: str
    body: str
    created_at: datetime.datetime


class Alert(Base):
    id: uuid.UUID
    rule_id: uuid.UUID | None
    kind: str
    subject_type: str
    subject_id: str
    asset_id: uuid.UUID | None
    site_id: uuid.UUID | None
    status: str
    severity: str
    message: str
    details: Json
    opened_at: datetime.datetime
    last_seen_at: datetime.datetime
    count: int
    acknowledged_by: str | None
    acknowledged_at: datetime.datetime | None
    resolved_by: str | None
    resolved_at: datetime.datetime | None
    escalated_at: datetime.datetime | None
    comments: list[AlertComment] = []


class AlertAction(Base):
    """Optional note recorded as a comment with the acknowledgement or resolution."""

    comment: CommentBody | None = None


class CommentCreate(Base):
    body: CommentBody
