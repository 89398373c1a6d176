"""The first frame of every live socket: what is true *now*, so a client never starts from a blank map.

Current locations come from the live state (Redis / MemoryHub, freshest) merged over the `current_locations` table
(complete, survives a Redis flush); open alerts come from the database. Each snapshot uses one short session, so a
thousand idle sockets hold no database connection.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.resources import LiveReader
from core.db.enums import AlertStatus
from core.db.models import Alert, Asset, CurrentLocation, Site
from core.live import LiveKeys

MAX_SNAPSHOT_ALERTS = 500

Fix = dict[str, Any]


def _iso(value: datetime.datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def fix_from_row(row: CurrentLocation) -> Fix:
    """A `current_locations` row in the location-fix contract (the shape the realtime loop publishes)."""
    return {
        "tag_id": row.tag_id,
        "asset_id": None if row.asset_id is None else str(row.asset_id),
        "site_id": None if row.site_id is None else str(row.site_id),
        "ts": _iso(row.ts),
        "x": row.x,
        "y": row.y,
        "lat": row.lat,
        "lon": row.lon,
        "floor": row.floor,
        "accuracy_m": row.accuracy_m,
        "confidence": row.confidence,
        "method": row.method,
        "gateway_count": row.gateway_count,
        "zone_ids": list(row.zone_ids or []),
    }


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    return {
        "id": str(alert.id),
        "rule_id": None if alert.rule_id is None else str(alert.rule_id),
        "kind": alert.kind,
        "subject_type": alert.subject_type,
        "subject_id": alert.subject_id,
        "asset_id": None if alert.asset_id is None else str(alert.asset_id),
        "site_id": None if alert.site_id is None else str(alert.site_id),
        "status": alert.status,
        "severity": alert.severity,
        "message": alert.message,
        "details": alert.details or {},
        "opened_at": _iso(alert.opened_at),
        "last_seen_at": _iso(alert.last_seen_at),
        "count": alert.count,
        "acknowledged_at": _iso(alert.acknowledged_at),
        "resolved_at": _iso(alert.resolved_at),
    }


class LiveSnapshots:
    """Answers "what is current" for the live sockets."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], state: LiveReader, keys: LiveKeys) -> None:
        self.sessions = sessions
        self.state = state
        self.keys = keys

    async def _live_fixes(self, tags: Iterable[str]) -> dict[str, Fix]:
        tags = list(tags)
        values = await self.state.get_many([self.keys.current_location(tag) for tag in tags])
        fixes: dict[str, Fix] = {}
        for tag, raw in zip(tags, values, strict=True):
            if raw is None:
                continue
            try:
                fix = msgspec.json.decode(raw)
            except msgspec.DecodeError:
                continue  # a corrupt key must not take the whole snapshot down; the next fix overwrites it
            if isinstance(fix, dict):
                fixes[tag] = fix
        return fixes

    async def site_exists(self, site_id: uuid.UUID) -> bool:
        async with self.sessions() as session:
            return (await session.get(Site, site_id)) is not None

    async def site_locations(self, site_id: uuid.UUID) -> list[Fix]:
        async with self.sessions() as session:
            rows = (
                await session.scalars(select(CurrentLocation).where(CurrentLocation.site_id == site_id))
            ).all()
            asset_tags = (
                await session.scalars(
                    select(Asset.tag_id).where(Asset.site_id == site_id, Asset.tag_id.is_not(None))
                )
            ).all()
        by_tag = {row.tag_id: fix_from_row(row) for row in rows}
        site = str(site_id)
        for tag, fix in (await self._live_fixes(set(by_tag) | {tag for tag in asset_tags if tag})).items():
            if str(fix.get("site_id")) == site:
                by_tag[tag] = fix
            else:
                by_tag.pop(tag, None)  # the tag has since moved to another site
        return list(by_tag.values())

    async def asset(self, asset_id: uuid.UUID) -> Asset | None:
        async with self.sessions() as session:
            return await session.get(Asset, asset_id)

    async def asset_locations(self, asset: Asset) -> list[Fix]:
        if asset.tag_id:
            live = await self._live_fixes([asset.tag_id])
            if asset.tag_id in live:
                return [live[asset.tag_id]]
        async with self.sessions() as session:
            row = (
                await session.scalars(
                    select(CurrentLocation)
                    .where(CurrentLocation.asset_id == asset.id)
                    .order_by(CurrentLocation.ts.desc())
                    .limit(1)
                )
            ).first()
        return [] if row is None else [fix_from_row(row)]

    async def open_alerts(self, site_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
        query = select(Alert).where(Alert.status != AlertStatus.RESOLVED.value)
        if site_id is not None:
            query = query.where(Alert.site_id == site_id)
        query = query.order_by(Alert.opened_at.desc()).limit(MAX_SNAPSHOT_ALERTS)
        async with self.sessions() as session:
            alerts = (await session.scalars(query)).all()
            return [alert_to_dict(alert) for alert in alerts]
