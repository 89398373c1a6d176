"""Reading locations: the current fix of a tag (Redis first, PostgreSQL as the fallback), a site's current
locations filtered by polygon or distance, and downsampled history.

The current-location read is the API's hot path (target ≥ 5,000 requests/s on one worker), so it never opens
an ORM session on a hit: the asset -> tag map is held in memory and reloaded every `TAG_REFRESH_S`, and the fix is passed through as the
JSON bytes the realtime consumer stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import math
import re
import time
import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
from shapely import Point, Polygon, prepared
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.errors import NotFound, Unprocessable
from api.locations.schemas import HistoryPoint, LocationFix, NearbyFix
from core.db.models import Asset, CurrentLocation, LocationHistory

logger = logging.getLogger(__name__)

TAG_REFRESH_S = 30.0
"""How often the whole asset -> tag map is reloaded: the longest a change made outside this process (another
worker, a direct database edit) takes to show; changes through this process's API show at once (`forget`)."""
MAX_STALE_S = 300.0
"""Past this age (the reload keeps failing) a mapping is no longer trusted and is read from the database."""
_encoder = msgspec.json.Encoder()


class TagLookup:
    """asset id -> tag id for the current-location hot path.

    All mappings are loaded in one query and reloaded in the background every `refresh_s` (stale-while-revalidate),
    so a request never waits for the database once the map is warm: with thousands of assets, per-asset entries
    with a short TTL meant a query every few requests. An asset missing from the map (created since the last load)
    is read on its own and remembered. The API calls `forget()` when it re-tags or deletes an asset.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        refresh_s: float = TAG_REFRESH_S,
        max_stale_s: float = MAX_STALE_S,
    ) -> None:
        self._sessions = sessions
        self._refresh_s = refresh_s
        self._max_stale_s = max(max_stale_s, refresh_s)
        self._tags: dict[uuid.UUID, str | None] = {}
        self._loaded_at = -math.inf
        self._reload: asyncio.Task[None] | None = None
        # Ids forgotten while a reload was in flight: its snapshot may predate their change.
        self._forgotten_during_reload: set[uuid.UUID] = set()

    async def tag_of(self, asset_id: uuid.UUID) -> str | None:
        """The asset's tag id (None if untagged); raises NotFound if there is no such asset."""
        age = time.monotonic() - self._loaded_at
        if age >= self._refresh_s and self._reload is None:
            self._reload = asyncio.get_running_loop().create_task(self._reload_all())
            if age >= self._max_stale_s:
                # Cold start, or the map is too old to trust: wait for the reload rather than serve from it.
                await asyncio.shield(self._reload)
        tags = self._tags
        if asset_id in tags and time.monotonic() - self._loaded_at < self._max_stale_s:
            return tags[asset_id]
        return await self._load_one(asset_id)

    async def _load_one(self, asset_id: uuid.UUID) -> str | None:
        async with self._sessions() as session:
            row = (await session.execute(select(Asset.id, Asset.tag_id).where(Asset.id == asset_id))).first()
        if row is None:
            raise NotFound(f"asset {asset_id} does not exist")
        self._tags[asset_id] = row.tag_id
        return row.tag_id  # type: ignore[no-any-return]

    async def _reload_all(self) -> None:
        self._forgotten_during_reload.clear()
        started = time.monotonic()
        try:
            async with self._sessions() as session:
                rows = (await session.execute(select(Asset.id, Asset.tag_id))).all()
            tags: dict[uuid.UUID, str | None] = {row.id: row.tag_id for row in rows}
            for asset_id in self._forgotten_during_reload:
                tags.pop(asset_id, None)
            self._tags, self._loaded_at = tags, started
        except Exception:  # noqa: BLE001 - the next request retries; single lookups still work meanwhile
            logger.warning("reloading the asset -> tag map failed", exc_info=True)
        finally:
            self._forgotten_during_reload.clear()
            self._reload = None

    async def aclose(self) -> None:
        if self._reload is not None:
            self._reload.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reload

    def forget(self, asset_id: uuid.UUID) -> None:
        """The asset was re-tagged or deleted through this process: read it afresh next time."""
        self._tags.pop(asset_id, None)
        if self._reload is not None:
            self._forgotten_during_reload.add(asset_id)


def fix_from_row(row: CurrentLocation | LocationHistory) -> LocationFix:
    return LocationFix(
        tag_id=row.tag_id,
        asset_id=row.asset_id,
        site_id=row.site_id,
        ts=row.ts,
        x=row.x,
        y=row.y,
        lat=row.lat,
        lon=row.lon,
        floor=row.floor,
        accuracy_m=row.accuracy_m,
        confidence=row.confidence,
        method=row.method,
        gateway_count=row.gateway_count,
        zone_ids=list(getattr(row, "zone_ids", None) or []),
    )


async def stored_current_fix(sessions: async_sessionmaker[AsyncSession], tag_id: str) -> bytes | None:
    async with sessions() as session:
        row = await session.get(CurrentLocation, tag_id)
    return None if row is None else _encoder.encode(fix_from_row(row))


# --- a site's current locations ------------------------------------------------------------------------


def parse_polygon(text: str) -> Polygon:
    """`x1,y1;x2,y2;x3,y3[;...]` (site-frame metres; the ring is closed for you)."""
    try:
        points = [tuple(float(v) for v in pair.split(",")) for pair in text.strip().strip(";").split(";")]
    except ValueError:
        raise Unprocessable("polygon: expected 'x1,y1;x2,y2;x3,y3' in metres", field="polygon") from None
    if len(points) < 3 or any(len(p) != 2 or not all(math.isfinite(v) for v in p) for p in points):
        raise Unprocessable(
            "polygon: expected at least 3 finite 'x,y' points separated by ';'", field="polygon"
        )
    polygon = Polygon(points)
    if not polygon.is_valid:
        from shapely.validation import explain_validity

        raise Unprocessable(f"polygon: not a valid polygon ({explain_validity(polygon)})", field="polygon")
    return polygon


def filter_fixes(
    fixes: Sequence[LocationFix],
    polygon: Polygon | None,
    near: tuple[float, float] | None,
    radius_m: float | None,
) -> list[NearbyFix]:
    shape = prepared.prep(polygon) if polygon is not None else None
    out: list[NearbyFix] = []
    for fix in fixes:
        if shape is not None and not shape.covers(Point(fix.x, fix.y)):
            continue
        distance = None
        if near is not None:
            distance = math.hypot(fix.x - near[0], fix.y - near[1])
            if radius_m is not None and distance > radius_m:
                continue
        out.append(NearbyFix(**msgspec.structs.asdict(fix), distance_m=distance))
    if near is not None:
        out.sort(key=lambda f: f.distance_m or 0.0)
    return out


# --- history ---------------------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_every(text: str) -> float:
    """`every=` as seconds: `30`, `30s`, `5m`, `1h`, `1d`."""
    match = _DURATION.match(text)
    if not match:
        raise Unprocessable("every: expected a duration such as 30s, 5m or 1h", field="every")
    seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if not 0.1 <= seconds <= 366 * 86400:
        raise Unprocessable("every: must be between 100ms and 366d", field="every")
    return seconds


def downsample(rows: Sequence[Any], every_s: float | None) -> list[HistoryPoint]:
    """One point per `every_s` bucket: the last fix in the bucket (a real fix, not an average that could fall
    inside a wall). Rows must be in time order."""
    points: list[HistoryPoint] = []
    last_bucket: int | None = None
    for row in rows:
        point = HistoryPoint(
            ts=row.ts,
            x=row.x,
            y=row.y,
            lat=row.lat,
            lon=row.lon,
            floor=row.floor,
            accuracy_m=row.accuracy_m,
            confidence=row.confidence,
            method=row.method,
        )
        if every_s is None:
            points.append(point)
            continue
        bucket = int(row.ts.timestamp() // every_s)
        if bucket == last_bucket:
            points[-1] = point
        else:
            points.append(point)
            last_bucket = bucket
    return points


def utc(value: datetime.datetime) -> datetime.datetime:
    return value.replace(tzinfo=datetime.UTC) if value.tzinfo is None else value.astimezone(datetime.UTC)
