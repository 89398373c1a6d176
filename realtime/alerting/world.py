"""Load the `World` the periodic rules look at, from the database, with one query per kind of fact and only the
facts the enabled rules need (no history scan when no underutilisation rule exists)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, and_, func, select

from core.alerts import AssetSnapshot, GatewaySnapshot, MaintenanceDue, Rule, RuleKind, World, ZoneInfo
from core.alerts.evaluate import movement_window_start
from core.db.models import (
    Asset,
    CurrentLocation,
    Gateway,
    Geofence,
    LocationHistory,
    MaintenanceSchedule,
    Site,
    ZoneEvent,
)

ASSETS: Table = Asset.__table__  # type: ignore[assignment]
CURRENT: Table = CurrentLocation.__table__  # type: ignore[assignment]
GATEWAYS: Table = Gateway.__table__  # type: ignore[assignment]
GEOFENCES: Table = Geofence.__table__  # type: ignore[assignment]
HISTORY: Table = LocationHistory.__table__  # type: ignore[assignment]
MAINTENANCE: Table = MaintenanceSchedule.__table__  # type: ignore[assignment]
SITES: Table = Site.__table__  # type: ignore[assignment]
ZONE_EVENTS: Table = ZoneEvent.__table__  # type: ignore[assignment]


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def _latest(*moments: datetime.datetime | None) -> datetime.datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def load_zones(conn: Connection) -> dict[str, ZoneInfo]:
    rows = conn.execute(select(GEOFENCES.c.id, GEOFENCES.c.name, GEOFENCES.c.kind, GEOFENCES.c.site_id))
    return {str(r.id): ZoneInfo(str(r.id), r.name, r.kind, str(r.site_id)) for r in rows}


def load_site_timezones(conn: Connection) -> dict[str, str]:
    return {str(r.id): r.timezone for r in conn.execute(select(SITES.c.id, SITES.c.timezone))}


def _zone_entries(conn: Connection) -> dict[str, dict[str, datetime.datetime]]:
    """tag -> {zone: entered at} for zones whose latest event is an enter."""
    ranked = select(
        ZONE_EVENTS.c.tag_id, ZONE_EVENTS.c.geofence_id, ZONE_EVENTS.c.kind, ZONE_EVENTS.c.ts,
        func.row_number().over(
            partition_by=(ZONE_EVENTS.c.tag_id, ZONE_EVENTS.c.geofence_id),
            order_by=(ZONE_EVENTS.c.ts.desc(), ZONE_EVENTS.c.id.desc()),
        ).label("rank"),
    ).subquery()  # fmt: skip
    query = select(ranked.c.tag_id, ranked.c.geofence_id, ranked.c.ts).where(
        ranked.c.rank == 1, ranked.c.kind == "enter"
    )
    out: dict[str, dict[str, datetime.datetime]] = {}
    for tag, zone, ts in conn.execute(query):
        out.setdefault(tag, {})[str(zone)] = ts
    return out


def _last_moved(
    conn: Connection, rules: Sequence[Rule], now: datetime.datetime
) -> dict[str, datetime.datetime]:
    """tag -> latest history time at which it was further than min_distance_m from where it is now."""
    distance = min(rule.param("min_distance_m") for rule in rules)
    lookback = max(rule.param("idle_days") for rule in rules) + 1.0
    since = now - datetime.timedelta(days=lookback)
    dx, dy = HISTORY.c.x - CURRENT.c.x, HISTORY.c.y - CURRENT.c.y
    query = (
        select(HISTORY.c.tag_id, func.max(HISTORY.c.ts))
        .join(CURRENT, CURRENT.c.tag_id == HISTORY.c.tag_id)
        .where(HISTORY.c.ts > since, dx * dx + dy * dy > distance * distance)
        .group_by(HISTORY.c.tag_id)
    )
    return {tag: ts for tag, ts in conn.execute(query)}


def _position_at(conn: Connection, moment: datetime.datetime) -> dict[str, tuple[float, float]]:
    """tag -> last stored position at or before `moment` (within a day before it)."""
    latest = (
        select(HISTORY.c.tag_id, func.max(HISTORY.c.ts).label("ts"))
        .where(HISTORY.c.ts <= moment, HISTORY.c.ts > moment - datetime.timedelta(days=1))
        .group_by(HISTORY.c.tag_id)
        .subquery()
    )
    query = select(HISTORY.c.tag_id, HISTORY.c.x, HISTORY.c.y).join(
        latest, and_(latest.c.tag_id == HISTORY.c.tag_id, latest.c.ts == HISTORY.c.ts)
    )
    return {tag: (x, y) for tag, x, y in conn.execute(query)}


def load_world(conn: Connection, rules: Sequence[Rule], now: datetime.datetime) -> World:
    kinds = {rule.kind for rule in rules}
    timezones = load_site_timezones(conn)
    zones = load_zones(conn)
    world = World(now, zones=zones, site_timezones=timezones)
    if RuleKind.GATEWAY_OFFLINE in kinds:
        world.gateways = [
            GatewaySnapshot(r.gateway_id, _s(r.site_id), r.name, r.last_seen, r.created_at)
            for r in conn.execute(select(GATEWAYS))
        ]
    if not kinds - {RuleKind.GATEWAY_OFFLINE}:
        return world
    # Which zones assets are in: for dwell rules, and for rules scoped to "assets in this zone".
    needs_zones = RuleKind.DWELL_EXCEEDED in kinds or any(rule.geofence_id for rule in rules)
    entries = _zone_entries(conn) if needs_zones else {}
    underused = [rule for rule in rules if rule.kind is RuleKind.UNDERUTILISED]
    moved = _last_moved(conn, underused, now) if underused else {}
    # No movement within the look-back: it has been still for at least that long (or since it was created).
    still_since = (
        now - datetime.timedelta(days=max(r.param("idle_days") for r in underused) + 1.0)
        if underused
        else None
    )
    anchors: dict[str, dict[str, tuple[float, float]]] = {}  # tag -> rule -> anchor
    for rule in (r for r in rules if r.kind is RuleKind.MOVEMENT_AFTER_HOURS):
        sites = [rule.site_id] if rule.site_id else list(timezones)
        for site in sites:
            start = movement_window_start(rule, timezones.get(site or ""), now)
            if start is None:
                continue
            for tag, xy in _position_at(conn, start).items():
                anchors.setdefault(tag, {})[rule.id] = xy
    query = select(
        ASSETS.c.id, ASSETS.c.name, ASSETS.c.site_id, ASSETS.c.category, ASSETS.c.tag_id, ASSETS.c.status,
        ASSETS.c.created_at, ASSETS.c.last_seen, ASSETS.c.battery_pct, CURRENT.c.x, CURRENT.c.y,
    ).outerjoin(CURRENT, CURRENT.c.tag_id == ASSETS.c.tag_id)  # fmt: skip
    world.assets = [
        AssetSnapshot(
            id=str(r.id), name=r.name, site_id=_s(r.site_id), category=r.category, tag_id=r.tag_id,
            status=r.status, created_at=r.created_at, last_seen=r.last_seen, battery_pct=r.battery_pct,
            x=r.x, y=r.y, zone_entered_at=entries.get(r.tag_id or "", {}),
            last_moved_at=moved.get(r.tag_id or "") or _latest(still_since, r.created_at),
            anchor_xy=anchors.get(r.tag_id or "", {}),
        )
        for r in conn.execute(query)
    ]  # fmt: skip
    if kinds & {RuleKind.MAINTENANCE_DUE, RuleKind.MAINTENANCE_OVERDUE}:
        by_category: dict[str, list[str]] = {}
        for snapshot in world.assets:
            if snapshot.category:
                by_category.setdefault(snapshot.category, []).append(snapshot.id)
        items: list[MaintenanceDue] = []
        query_m = select(MAINTENANCE).where(
            MAINTENANCE.c.enabled.is_(True), MAINTENANCE.c.next_due_at.is_not(None)
        )
        for r in conn.execute(query_m):
            targets = [str(r.asset_id)] if r.asset_id else by_category.get(r.category or "", [])
            items.extend(MaintenanceDue(str(r.id), r.name, asset_id, r.next_due_at) for asset_id in targets)
        world.maintenance = items
    return world
