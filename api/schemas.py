"""Shared pieces of the msgspec DTOs: bounded field types, model -> DTO conversion, partial updates.

Every number a client sends is bounded, so nothing out of range ever reaches the database driver
(an overflow there would be a 500, not the 400 naming the field that msgspec gives).
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import UNSET, Meta, UnsetType

T = TypeVar("T")

Name = Annotated[str, Meta(min_length=1, max_length=200)]
ShortText = Annotated[str, Meta(min_length=1, max_length=100)]
Text = Annotated[str, Meta(max_length=10_000)]
Latitude = Annotated[float, Meta(ge=-90, le=90)]
Longitude = Annotated[float, Meta(ge=-180, le=180)]
Metres = Annotated[float, Meta(ge=-1e6, le=1e6, description="metres in the site frame")]
PositiveMetres = Annotated[float, Meta(gt=0, le=1e6)]
Seconds = Annotated[float, Meta(ge=0, le=10 * 365 * 86400)]
Floor = Annotated[int, Meta(ge=-100, le=1000)]
Percent = Annotated[float, Meta(ge=0, le=100)]
Hours = Annotated[float, Meta(ge=0, le=1e7)]
Json = dict[str, Any]
AwareDatetime = Annotated[datetime.datetime, Meta(tz=True, description="RFC 3339 with a UTC offset")]


class Base(msgspec.Struct, kw_only=True):
    """Base of the API's DTOs."""


def to_dto(obj: Any, dto: type[T]) -> T:
    return msgspec.convert(obj, dto, from_attributes=True)


def to_dtos(objs: Any, dto: type[T]) -> list[T]:
    return [msgspec.convert(obj, dto, from_attributes=True) for obj in objs]


def set_fields(data: msgspec.Struct) -> dict[str, Any]:
    """The fields a client actually sent in a partial update (UNSET ones are left out)."""
    return {f: v for f in data.__struct_fields__ if (v := getattr(data, f)) is not UNSET}


def apply(obj: Any, changes: dict[str, Any]) -> Any:
    for name, value in changes.items():
        setattr(obj, name, value)
    return obj


__all__ = [
    "UNSET",
    "AwareDatetime",
    "Base",
    "Floor",
    "Hours",
    "Json",
    "Latitude",
    "Longitude",
    "Metres",
    "Name",
    "Percent",
    "PositiveMetres",
    "Seconds",
    "ShortText",
    "Text",
    "UnsetType",
    "apply",
    "set_fields",
    "to_dto",
    "to_dtos",
]


def utc(value: datetime.datetime) -> datetime.datetime:
    """A query-string time as aware UTC (a time without an offset is taken as UTC)."""
    return value.replace(tzinfo=datetime.UTC) if value.tzinfo is None else value.astimezone(datetime.UTC)


def utc_or_none(value: datetime.datetime | None) -> datetime.datetime | None:
    return None if value is None else utc(value)
