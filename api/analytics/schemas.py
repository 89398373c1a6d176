from __future__ import annotations

import datetime
from typing import Any

from api.schemas import Base


class MartInfo(Base):
    name: str
    partitions: int
    first_date: datetime.date | None
    last_date: datetime.date | None


class MartRows(Base):
    name: str
    start: datetime.date
    end: datetime.date
    total: int
    limit: int
    offset: int
    columns: list[str]
    items: list[dict[str, Any]]


class ReportFile(Base):
    kind: str
    date: str
    filename: str
