from __future__ import annotations

import datetime
import uuid
from typing import Annotated

from msgspec import Meta

from api.schemas import Base


class LocationFix(Base):
    """A location fix (DESIGN.md data contract): x, y in site-frame metres, accuracy_m the ~68 % radius."""

    tag_id: str
    asset_id: uuid.UUID | None
    site_id: uuid.UUID | None
    ts: datetime.datetime
    x: float
    y: float
    lat: float | None
    lon: float | None
    floor: int
    accuracy_m: float
    confidence: float
    method: str
    gateway_count: int
    zone_ids: list[str] = []


class NearbyFix(LocationFix):
    distance_m: float | None = None


class SiteLocations(Base):
    site_id: uuid.UUID
    count: int
    items: list[NearbyFix]


class HistoryPoint(Base):
    ts: datetime.datetime
    x: float
    y: float
    lat: float | None
    lon: float | None
    floor: int
    accuracy_m: float
    confidence: float
    method: str


class LocationHistory(Base):
    asset_id: uuid.UUID
    tag_id: str | None
    start: datetime.datetime
    end: datetime.datetime
    every_s: float | None
    count: int
    truncated: bool
    points: list[HistoryPoint]


_REASON = (
    "Why: inside_margin (inside by more than the margin for its accuracy), dwelled (inside for the zone's enter "
    "dwell time), lingered (in the next room long enough, deep enough on average), settled (stopped here after "
    "walking out of its room), first_room (in no room and not walked since first seen, mostly a new tag: where "
    "the tracker settled it), outside_margin (exit: outside by more than the margin for the exit dwell time), "
    "entered_other (exit: it entered a zone that excludes this one). Null on events stored before zone events "
    "carried their evidence."
)
_DEPTH = (
    "Signed distance of the fix to the zone boundary (m, + inside, within +-3 m: 3 means 3 or more); for "
    "'lingered' the mean over the time it lingered."
)
_MARGIN = (
    "The margin the fix was judged against (m): tied to its accuracy, smaller while it walks out of its zone."
)


class ZoneEvent(Base):
    """A tag entered or left a zone, why, and on what evidence."""

    id: int
    tag_id: str
    asset_id: uuid.UUID | None
    geofence_id: uuid.UUID
    site_id: uuid.UUID | None
    kind: str
    ts: datetime.datetime
    dwell_s: float | None
    reason: Annotated[str | None, Meta(description=_REASON)] = None
    depth_m: Annotated[float | None, Meta(description=_DEPTH)] = None
    accuracy_m: Annotated[float | None, Meta(description="The fix's accuracy (m, ~68 % radius).")] = None
    margin_m: Annotated[float | None, Meta(description=_MARGIN)] = None
