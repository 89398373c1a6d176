"""Batched, idempotent database writes of the realtime loop (PostgreSQL in production, SQLite embedded).

* `location_history`: INSERT ... ON CONFLICT (tag_id, ts) DO NOTHING — a replayed batch adds nothing.
* `current_locations`: upsert on tag_id that never moves a row back in time (WHERE stored.ts <= new.ts).
* `gateways` / `assets`: last_seen (and status / battery) only ever move forward, one statement per batch.

On PostgreSQL the rows go in with one set-based statement each: SQLAlchemy executemany cost ~10 µs of Python
per row. Fixes are COPYed into a session temp table (ON COMMIT DELETE ROWS), COPY's C row writer taking well
under a microsecond a row. Gateway and asset touches come as arrays through `unnest`: the planner takes a
function's rows as few and joins by the unique index, where a join against a temp table hashed the whole
assets table every batch (100k assets: ~200 -> ~110 ms a batch of 2,300 touches). Times travel as epoch
milliseconds and become timestamptz in SQL, so no Python datetime is built per row. SQLite keeps the multi-row
INSERT / executemany path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import msgspec
import numpy as np
from sqlalchemy import Connection, Table, bindparam, or_, update
from sqlalchemy.dialects import postgresql, sqlite

from core.db.enums import GatewayStatus
from core.db.models import Asset, CurrentLocation, Gateway, LocationHistory
from realtime.fixes import FixBatch, to_datetime

_json = msgspec.json.Encoder().encode
_HISTORY = cast(Table, LocationHistory.__table__)
_CURRENT = cast(Table, CurrentLocation.__table__)
_PAGE = 2000


def _insert(conn: Connection, table: Table):  # type: ignore[no-untyped-def]
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _rows(fixes: FixBatch, index: np.ndarray, with_zones: bool) -> list[dict[str, object]]:
    if index.size == 0:
        return []
    sub = fixes.select(index)
    rows = []
    for i, (tag, asset, site, when, x, y, lat, lon, floor, acc, conf, method, count, model) in enumerate(
        zip(
            sub.tag_id.tolist(),
            sub.asset_id.tolist(),
            sub.site_id.tolist(),
            sub.datetimes(),
            sub.x.tolist(),
            sub.y.tolist(),
            sub.lat.tolist(),
            sub.lon.tolist(),
            sub.floor.tolist(),
            sub.accuracy_m.tolist(),
            sub.confidence.tolist(),
            sub.method.tolist(),
            sub.gateway_count.tolist(),
            sub.model_version.tolist(),  # type: ignore[union-attr]
            strict=True,
        )
    ):
        row = {
            "tag_id": tag,
            "asset_id": asset,
            "site_id": site,
            "ts": when,
            "x": x,
            "y": y,
            "lat": None if lat != lat else lat,
            "lon": None if lon != lon else lon,
            "floor": floor,
            "accuracy_m": acc,
            "confidence": min(max(conf, 0.0), 1.0),
            "method": method,
            "gateway_count": count,
            "model_version": model,
        }
        if with_zones:
            row["zone_ids"] = sub.zone_ids[i]
        rows.append(row)
    return rows


_FIX_STAGE = "rt_fix_stage"
_FIX_COLUMNS = (
    "tag_id",
    "asset_id",
    "site_id",
    "ts",
    "x",
    "y",
    "lat",
    "lon",
    "floor",
    "accuracy_m",
    "confidence",
    "method",
    "gateway_count",
    "model_version",
)
_FROM_MS = "(TIMESTAMPTZ 'epoch' + {col} * INTERVAL '1 millisecond')"
_STAGE_SQL = {
    _FIX_STAGE: "tag_id text, asset_id uuid, site_id uuid, ts_ms bigint, x float8, y float8, lat float8, "
    "lon float8, floor int, accuracy_m float8, confidence float8, method text, gateway_count int, "
    "model_version text, zone_ids jsonb, in_history bool, in_current bool",
}
_SELECT_FIX = ", ".join(_FROM_MS.format(col="ts_ms") if c == "ts" else c for c in _FIX_COLUMNS)
_HISTORY_SQL = (
    f"INSERT INTO location_history ({', '.join(_FIX_COLUMNS)}) SELECT {_SELECT_FIX} FROM {_FIX_STAGE} "
    "WHERE in_history ON CONFLICT (tag_id, ts) DO NOTHING"
)
_CURRENT_SQL = (
    f"INSERT INTO current_locations ({', '.join(_FIX_COLUMNS)}, zone_ids) SELECT {_SELECT_FIX}, zone_ids "
    f"FROM {_FIX_STAGE} WHERE in_current ON CONFLICT (tag_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (*_FIX_COLUMNS[1:], "zone_ids"))
    + " WHERE current_locations.ts <= excluded.ts"
)


def _driver(conn: Connection):  # type: ignore[no-untyped-def]
    """The psycopg connection under SQLAlchemy's, inside the same transaction."""
    return conn.connection.driver_connection


def _stage(conn: Connection, name: str):  # type: ignore[no-untyped-def]
    """The driver connection with temp table `name` present. Created in the batch's own transaction every
    time (cheap when it exists): a rolled-back transaction takes a table it created with it. ON COMMIT DELETE
    ROWS (and a rollback) empty it, so a retried batch never sees an earlier attempt's rows."""
    raw = _driver(conn)
    raw.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({_STAGE_SQL[name]}) ON COMMIT DELETE ROWS")
    return raw


def write_fixes(conn: Connection, fixes: FixBatch, history: np.ndarray, current: np.ndarray) -> int:
    """History rows (bool mask `history`) and current-location upserts (indices `current`) in one go.
    Returns the number of history rows offered (a replay offers the same rows and inserts none)."""
    if conn.dialect.name != "postgresql":
        written = write_history(conn, fixes, history)
        write_current(conn, fixes, current)
        return written
    in_current = np.zeros(len(fixes), bool)
    in_current[np.asarray(current, np.int64)] = True
    in_history = np.asarray(history, bool)
    rows = np.flatnonzero(in_history | in_current)
    if rows.size == 0:
        return 0
    sub = fixes.select(rows)
    ts_ms = np.rint(sub.ts * 1000.0).astype(np.int64).tolist()
    lat = np.where(np.isnan(sub.lat), None, sub.lat).tolist()  # type: ignore[call-overload]
    lon = np.where(np.isnan(sub.lon), None, sub.lon).tolist()  # type: ignore[call-overload]
    confidence = np.clip(sub.confidence, 0.0, 1.0).tolist()
    zones = [_json_list(z) for z in sub.zone_ids]
    raw = _stage(conn, _FIX_STAGE)
    with raw.cursor() as cur:
        with cur.copy(f"COPY {_FIX_STAGE} FROM STDIN") as copy:
            write = copy.write_row
            for row in zip(
                sub.tag_id.tolist(),
                sub.asset_id.tolist(),
                sub.site_id.tolist(),
                ts_ms,
                sub.x.tolist(),
                sub.y.tolist(),
                lat,
                lon,
                sub.floor.tolist(),
                sub.accuracy_m.tolist(),
                confidence,
                sub.method.tolist(),
                sub.gateway_count.tolist(),
                sub.model_version.tolist(),  # type: ignore[union-attr]
                zones,
                in_history[rows].tolist(),
                in_current[rows].tolist(),
                strict=True,
            ):
                write(row)
        cur.execute(_HISTORY_SQL)
        cur.execute(_CURRENT_SQL)
    return int(in_history.sum())


def _json_list(items: list[str]) -> str:
    return _json(items).decode() if items else "[]"


def write_history(conn: Connection, fixes: FixBatch, significant: np.ndarray) -> int:
    rows = _rows(fixes, np.flatnonzero(significant), with_zones=False)
    statement = _insert(conn, _HISTORY).on_conflict_do_nothing(index_elements=["tag_id", "ts"])
    for start in range(0, len(rows), _PAGE):
        conn.execute(statement, rows[start : start + _PAGE])
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
        conn.execute(statement, rows[start : start + _PAGE])
    return len(rows)


def touch_gateways(conn: Connection, last_seen: Sequence[tuple[str, float]]) -> None:
    """Gateways heard in the batch are online as of their newest observation (epoch seconds)."""
    if not last_seen:
        return
    if conn.dialect.name == "postgresql":
        seen_sql = _FROM_MS.format(col="s.seen_ms")
        _driver(conn).execute(
            f"UPDATE gateways g SET last_seen = {seen_sql}, status = %s "
            "FROM unnest(%s::text[], %s::bigint[]) AS s(gateway_id, seen_ms) "
            f"WHERE g.gateway_id = s.gateway_id AND (g.last_seen IS NULL OR g.last_seen < {seen_sql})",
            (GatewayStatus.ONLINE.value, [gid for gid, _ in last_seen], [_ms(seen) for _, seen in last_seen]),
        )
        return
    table = cast(Table, Gateway.__table__)
    statement = (
        update(table)
        .where(table.c.gateway_id == bindparam("gid"))
        .where(or_(table.c.last_seen.is_(None), table.c.last_seen < bindparam("seen")))
        .values(last_seen=bindparam("seen"), status=GatewayStatus.ONLINE.value)
    )
    conn.execute(statement, [{"gid": gid, "seen": to_datetime(seen)} for gid, seen in last_seen])


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000.0))


def touch_assets(conn: Connection, seen: Sequence[tuple[str, float, float | None]]) -> None:
    """Assets' last_seen (epoch seconds) moves forward; battery is replaced when the tag reported one."""
    if not seen:
        return
    if conn.dialect.name == "postgresql":
        seen_sql = _FROM_MS.format(col="s.seen_ms")
        _driver(conn).execute(
            f"UPDATE assets a SET last_seen = {seen_sql}, battery_pct = COALESCE(s.battery, a.battery_pct) "
            "FROM unnest(%s::text[], %s::bigint[], %s::float8[]) AS s(tag_id, seen_ms, battery) "
            f"WHERE a.tag_id = s.tag_id AND (a.last_seen IS NULL OR a.last_seen < {seen_sql})",
            ([tag for tag, _, _ in seen], [_ms(when) for _, when, _ in seen], [b for _, _, b in seen]),
        )
        return
    table = cast(Table, Asset.__table__)
    statement = (
        update(table)
        .where(table.c.tag_id == bindparam("tag"))
        .where(or_(table.c.last_seen.is_(None), table.c.last_seen < bindparam("seen")))
        .values(last_seen=bindparam("seen"), battery_pct=bindparam("battery"))
    )
    with_battery = [{"tag": t, "seen": to_datetime(s), "battery": b} for t, s, b in seen if b is not None]
    if with_battery:
        conn.execute(statement, with_battery)
    without = [{"tag": t, "seen": to_datetime(s)} for t, s, b in seen if b is None]
    if without:
        conn.execute(
            update(table)
            .where(table.c.tag_id == bindparam("tag"))
            .where(or_(table.c.last_seen.is_(None), table.c.last_seen < bindparam("seen")))
            .values(last_seen=bindparam("seen")),
            without,
        )
