"""Batched, idempotent database writes of the realtime loop (PostgreSQL in production, SQLite embedded).

* `location_history`: multi-row INSERT ... ON CONFLICT (tag_id, ts) DO NOTHING — a replayed batch adds nothing.
* `current_locations`: upsert on tag_id that never moves a row back in time (WHERE stored.ts <= new.ts).
* `gateways` / `assets`: last_seen (and status / battery) only ever move forward, one statement per batch.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import numpy as np
from sqlalchemy import Connection, Table, bindparam, or_, update
from sqlalchemy.dialects import postgresql, sqlite

from core.db.enums import GatewayStatus
from core.db.models import Asset, CurrentLocation, Gateway, LocationHistory
from realtime.fixes import FixBatch

_HISTORY = LocationHistory.__table__
_CURRENT = CurrentLocation.__table__
_PAGE = 2000


def _insert(conn: Connection, table: Table):  # type: ignore[no-untyped-def]
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _rows(fixes: FixBatch, index: np.ndarray, with_zones: bool) -> list[dict[str, object]]:
    if index.size == 0:
        return []
    sub = fixes.select(index)
    rows = []
    for i, (tag, asset, site, when, x, y, lat, lon, floor, acc, conf, method, count) in enumerate(zip(
        sub.tag_id.tolist(), sub.asset_id.tolist(), sub.site_id.tolist(), sub.datetimes(), sub.x.tolist(),
        sub.y.tolist(), sub.lat.tolist(), sub.lon.tolist(), sub.floor.tolist(), sub.accuracy_m.tolist(),
        sub.confidence.tolist(), sub.method.tolist(), sub.gateway_count.tolist(), strict=True,
    )):
        row = {"tag_id": tag, "asset_id": asset, "site_id": site, "ts": when, "x": x, "y": y,
               "lat": None if lat != lat else lat, "lon": None if lon != lon else lon, "floor": floor,
               "accuracy_m": acc, "confidence": min(max(conf, 0.0), 1.0), "method": method,
               "gateway_count": count, "model_version": None}
        if with_zones:
            row["zone_ids"] = sub.zone_ids[i]
        rows.append(row)
    return rows


def write_history(conn: Connection, fixes: FixBatch, significant: np.ndarray) -> int:
    rows = _rows(fixes, np.flatnonzero(significant), with_zones=False)
    statement = _insert(conn, _HISTORY).on_conflict_do_nothing(index_elements=["tag_id", "ts"])
    for start in range(0, len(rows), _PAGE):
        conn.execute(statement, rows[start:start + _PAGE])
    return len(rows)


def write_current(conn: Connection, fixes: FixBatch, index: np.ndarray) -> int:
    rows = _rows(fixes, index, with_zones=True)
    if not rows:
        return 0
    insert = _insert(conn, _CURRENT)
    columns = [c for c in rows[0] if c != "tag_id"]
    statement = insert.on_conflict_do_update(
        index_elements=["tag_id"],
        set_={name: insert.excluded[name] for name in columns},
        where=_CURRENT.c.ts <= insert.excluded.ts,
    )
    for start in range(0, len(rows), _PAGE):
        conn.execute(statement, rows[start:start + _PAGE])
    return len(rows)


def touch_gateways(conn: Connection, last_seen: Sequence[tuple[str, datetime.datetime]]) -> None:
    """Gateways heard in the batch are online as of their newest observation."""
    if not last_seen:
        return
    table = Gateway.__table__
    statement = (
        update(table)
        .where(table.c.gateway_id == bindparam("gid"))
        .where(or_(table.c.last_seen.is_(None), table.c.last_seen < bindparam("seen")))
        .values(last_seen=bindparam("seen"), status=GatewayStatus.ONLINE.value)
    )
    conn.execute(statement, [{"gid": gid, "seen": seen} for gid, seen in last_seen])


def touch_assets(conn: Connection, seen: Sequence[tuple[str, datetime.datetime, float | None]]) -> None:
    """Assets' last_seen moves forward; battery is replaced when the tag reported one."""
    if not seen:
        return
    table = Asset.__table__
    statement = (
        update(table)
        .where(table.c.tag_id == bindparam("tag"))
        .where(or_(table.c.last_seen.is_(None), table.c.last_seen < bindparam("seen")))
        .values(last_seen=bindparam("seen"), battery_pct=bindparam("battery"))
    )
    with_battery = [{"tag": t, "seen": s, "battery": b} for t, s, b in seen if b is not None]
    if with_battery:
        conn.execute(statement, with_battery)
    without = [{"tag": t, "seen": s} for t, s, b in seen if b is None]
    if without:
        conn.execute(
            update(table)
            .where(table.c.tag_id == bindparam("tag"))
            .where(or_(table.c.last_seen.is_(None), table.c.last_seen < bindparam("seen")))
            .values(last_seen=bindparam("seen")),
            without,
        )
