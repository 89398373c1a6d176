"""Training data per site from calibration sessions: points with true positions (database) joined with the
observations the reference tag produced during each point's window (raw observations in the lakehouse).

A point whose raw observations are not (yet) in the lakehouse still counts through the per-gateway summary the
API cached on it (`observations` = {gateway_id: {median_rssi, count}}): one observation per gateway at the
window's middle — enough for path-loss calibration, thin for a fingerprint (the trainer decides).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine, select

from core.db.enums import CalibrationStatus
from core.db.models import CalibrationPoint, CalibrationSession, Gateway
from core.ml.dataset import CalibrationData
from core.positioning.gateways import GatewayTable, placed_gateway_table
from core.settings import Settings
from lakehouse import Lakehouse
from lakehouse.layout import RAW_OBSERVATIONS
from lakehouse.readers import connect, duckdb_source

# Sessions whose points are final: an open session may still be edited, a discarded one was judged bad.
USABLE_STATUSES = (CalibrationStatus.FITTED.value, CalibrationStatus.APPLIED.value)


@dataclass(frozen=True, slots=True, eq=False)
class SiteTrainingData:
    site_id: str
    gateways: GatewayTable
    data: CalibrationData
    sessions: int
    points: int
    from_lakehouse: int  # observations read from raw landing (the rest come from cached point summaries)


def _raw_observations(
    lakehouse: Lakehouse, points: list[CalibrationPoint]
) -> dict[uuid.UUID, list[tuple[float, str, int]]]:
    """point id → [(epoch s, gateway_id, rssi)] from raw landing, for every point window at once."""
    start = min(p.window_start for p in points).astimezone(dt.UTC).date()
    end = max(p.window_end for p in points).astimezone(dt.UTC).date()
    source = duckdb_source(lakehouse, RAW_OBSERVATIONS, start, end)
    if source is None:
        return {}
    connection = connect(lakehouse)
    try:
        connection.execute(
            "CREATE TEMP TABLE windows (point VARCHAR, tag_id VARCHAR, lo TIMESTAMPTZ, hi TIMESTAMPTZ)"
        )
        connection.executemany(
            "INSERT INTO windows VALUES (?, ?, ?, ?)",
            [(str(p.id), p.tag_id, p.window_start, p.window_end) for p in points],
        )
        rows = connection.execute(
            f"""SELECT w.point, epoch(o.ts), o.gateway_id, o.rssi FROM {source} o
                JOIN windows w ON o.tag_id = w.tag_id AND o.ts >= w.lo AND o.ts < w.hi"""
        ).fetchall()
    finally:
        connection.close()
    found: dict[uuid.UUID, list[tuple[float, str, int]]] = defaultdict(list)
    for point, ts, gateway_id, rssi in rows:
        found[uuid.UUID(point)].append((float(ts), str(gateway_id), int(rssi)))
    return found


def load_site_training_data(
    engine: Engine, settings: Settings, lakehouse: Lakehouse | None = None
) -> dict[str, SiteTrainingData]:
    """Every site with usable calibration sessions and placed gateways → its training data."""
    with engine.connect() as conn:
        sessions = conn.execute(
            select(CalibrationSession.id, CalibrationSession.site_id).where(
                CalibrationSession.status.in_(USABLE_STATUSES)
            )
        ).all()
    if not sessions:
        return {}
    from sqlalchemy.orm import Session

    with Session(engine) as orm:
        session_site = {row.id: str(row.site_id) for row in sessions}
        points = list(
            orm.scalars(select(CalibrationPoint).where(CalibrationPoint.session_id.in_(list(session_site))))
        )
        gateways = list(orm.scalars(select(Gateway)))
        orm.expunge_all()
    raw = _raw_observations(lakehouse, points) if lakehouse is not None and points else {}
    by_site: dict[str, list[tuple[float, str, str, float, float, float]]] = defaultdict(list)
    from_lake: dict[str, int] = defaultdict(int)
    point_count: dict[str, int] = defaultdict(int)
    for point in points:
        site = session_site[point.session_id]
        point_count[site] += 1
        heard = raw.get(point.id)
        if heard:
            from_lake[site] += len(heard)
            by_site[site].extend((ts, point.tag_id, gw, rssi, point.x, point.y) for ts, gw, rssi in heard)
        else:
            middle = (point.window_start + (point.window_end - point.window_start) / 2).timestamp()
            for gateway_id, summary in (point.observations or {}).items():
                by_site[site].append(
                    (middle, point.tag_id, gateway_id, float(summary["median_rssi"]), point.x, point.y)
                )
    result: dict[str, SiteTrainingData] = {}
    for site, rows in by_site.items():
        table = placed_gateway_table([g for g in gateways if str(g.site_id) == site], settings)
        if table is None or not rows:
            continue
        columns = list(zip(*rows, strict=True))
        data = CalibrationData(
            ts_s=np.array(columns[0], float),
            tag_ids=np.array(columns[1], dtype=object),
            gateway_ids=np.array(columns[2], dtype=object),
            rssi_dbm=np.array(columns[3], float),
            true_x=np.array(columns[4], float),
            true_y=np.array(columns[5], float),
        )
        sessions_here = sum(1 for s in session_site.values() if s == site)
        result[site] = SiteTrainingData(site, table, data, sessions_here, point_count[site], from_lake[site])
    return result
