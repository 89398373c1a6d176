"""What the realtime loop needs to know about the registered world: sites, gateways, tagged assets.

Loaded from the database at start and refreshed periodically (and sooner when an unknown gateway or tag shows
up, rate-limited), so gateways and assets registered through the API are picked up without a restart. A periodic
refresh first asks PostgreSQL for a fingerprint of what the loop uses (`catalog_fingerprint`) and reloads only
when it changed: building the catalog of 100k assets is ~1.5 s of Python holding the GIL, which doubled the
loop's batch time while it ran (p99 produce -> Redis 0.75 -> 1.5-2.2 s), and almost always found nothing new.
All gateways of all sites form one `GatewayTable` (positions in their own site's frame); a fix is estimated on
the site of the gateway that hears the tag loudest, with other sites' gateways masked out.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Connection, Engine, select, text

from core.db.models import Asset, Gateway, Site
from core.positioning.gateways import GatewayTable
from core.settings import Settings
from core.stillness import gateway_keys

EARTH_RADIUS_M = 6_371_008.8


def to_site_xy(lat: float, lon: float, origin_lat: float, origin_lon: float) -> tuple[float, float]:
    """Local equirectangular projection: metres east/north of the site origin (exact enough within a campus)."""
    x = math.radians(lon - origin_lon) * EARTH_RADIUS_M * math.cos(math.radians(origin_lat))
    y = math.radians(lat - origin_lat) * EARTH_RADIUS_M
    return x, y


def to_lat_lon(
    x: np.ndarray, y: np.ndarray, origin_lat: np.ndarray, origin_lon: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    lat = origin_lat + np.degrees(y / EARTH_RADIUS_M)
    lon = origin_lon + np.degrees(x / (EARTH_RADIUS_M * np.cos(np.radians(origin_lat))))
    return lat, lon


@dataclass(slots=True)
class SiteInfo:
    id: uuid.UUID
    origin_lat: float
    origin_lon: float
    bounds: tuple[float, float, float, float]


@dataclass(slots=True)
class Catalog:
    sites: list[SiteInfo]
    gateways: GatewayTable | None
    gateway_site: np.ndarray  # (G,) int index into `sites`
    gateway_index: dict[str, int]
    assets: dict[str, tuple[uuid.UUID, uuid.UUID | None]]  # tag_id -> (asset id, site id)
    loaded_at: float = field(default_factory=time.monotonic)
    fingerprint: tuple | None = None  # `catalog_fingerprint` read just before loading (None: not known)
    # (G,) a key per gateway that does not move when gateways are added, unlike its row (core/stillness.py)
    gateway_key: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.gateway_key = (
            gateway_keys(self.gateways.ids) if self.gateways is not None else np.zeros(0, np.int64)
        )

    @classmethod
    def empty(cls) -> Catalog:
        return cls([], None, np.array([], np.int64), {}, {})


# Per table: row count and a sum of hashes of the columns the catalog reads — not last_seen, status or battery,
# which the loop itself updates all the time. format() keeps a NULL's place (concat_ws would drop it).
_FINGERPRINT_SQL = text(
    "SELECT "
    "(SELECT count(*) FROM sites), "
    "(SELECT sum(hashtext(format('%s|%s|%s|%s|%s', id, origin_lat, origin_lon, width_m, height_m))) FROM sites), "
    "(SELECT count(*) FROM gateways), "
    "(SELECT sum(hashtext(format('%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s', gateway_id, site_id, x, y, z, lat, lon, "
    "floor, ref_rssi_1m_dbm, path_loss_exponent, sensitivity_dbm))) FROM gateways), "
    "(SELECT count(*) FROM assets WHERE tag_id IS NOT NULL), "
    "(SELECT sum(hashtext(format('%s|%s|%s', tag_id, id, site_id))) FROM assets WHERE tag_id IS NOT NULL)"
)


def catalog_fingerprint(conn: Connection) -> tuple | None:
    """What the catalog would be built from, summarised by PostgreSQL in one scan per table (tens of ms at 100k
    assets, none of it in this process). Equal fingerprints: reloading would give the same catalog. None on
    other databases (the embedded SQLite catalogs are small: they are simply reloaded)."""
    if conn.dialect.name != "postgresql":
        return None
    return tuple(conn.execute(_FINGERPRINT_SQL).one())


def load_catalog(engine: Engine, settings: Settings, margin_m: float = 1.0) -> Catalog:
    with engine.connect() as conn:
        fingerprint = catalog_fingerprint(conn)  # first: a change during the load shows at the next check
        site_rows = conn.execute(
            select(Site.id, Site.origin_lat, Site.origin_lon, Site.width_m, Site.height_m)
        ).all()
        gateway_rows = conn.execute(
            select(
                Gateway.gateway_id,
                Gateway.site_id,
                Gateway.x,
                Gateway.y,
                Gateway.z,
                Gateway.lat,
                Gateway.lon,
                Gateway.floor,
                Gateway.ref_rssi_1m_dbm,
                Gateway.path_loss_exponent,
                Gateway.sensitivity_dbm,
            ).order_by(Gateway.gateway_id)
        ).all()
        # Row by row into the map (no list of 100k rows beside it), with one site id object per site instead of
        # one per asset: at 100k tags the map is the largest thing the catalog holds.
        site_ids: dict[uuid.UUID, uuid.UUID] = {}
        assets: dict[str, tuple[uuid.UUID, uuid.UUID | None]] = {
            str(tag): (asset_id, site_ids.setdefault(site_id, site_id) if site_id is not None else None)
            for tag, asset_id, site_id in conn.execute(
                select(Asset.tag_id, Asset.id, Asset.site_id).where(Asset.tag_id.is_not(None))
            )
        }
    site_pos = {row.id: i for i, row in enumerate(site_rows)}
    origin = {row.id: (row.origin_lat, row.origin_lon) for row in site_rows}
    rows, gateway_site = [], []
    for gw in gateway_rows:
        if gw.site_id not in site_pos:
            continue
        x, y = gw.x, gw.y
        if x is None or y is None:
            x, y = to_site_xy(gw.lat, gw.lon, *origin[gw.site_id])
        rows.append(
            {
                "gateway_id": gw.gateway_id,
                "x": x,
                "y": y,
                "z": gw.z,
                "floor": gw.floor,
                "ref_rssi_1m_dbm": gw.ref_rssi_1m_dbm,
                "path_loss_exponent": gw.path_loss_exponent,
                "sensitivity_dbm": gw.sensitivity_dbm,
            }
        )
        gateway_site.append(site_pos[gw.site_id])
    table = (
        GatewayTable.from_rows(
            rows,
            default_ref_rssi_1m_dbm=settings.ref_rssi_1m_dbm,
            default_path_loss_exponent=settings.path_loss_exponent,
            default_sensitivity_dbm=settings.gateway_sensitivity_dbm,
        )
        if rows
        else None
    )
    site_of = np.array(gateway_site, dtype=np.int64)
    sites = []
    for i, row in enumerate(site_rows):
        if row.width_m and row.height_m:
            bounds = (0.0, 0.0, float(row.width_m), float(row.height_m))
        elif table is not None and (site_of == i).any():
            mine = site_of == i
            bounds = (
                float(table.x[mine].min() - margin_m),
                float(table.y[mine].min() - margin_m),
                float(table.x[mine].max() + margin_m),
                float(table.y[mine].max() + margin_m),
            )
        else:
            bounds = (-1e6, -1e6, 1e6, 1e6)
        sites.append(SiteInfo(row.id, row.origin_lat, row.origin_lon, bounds))
    return Catalog(
        sites=sites,
        gateways=table,
        gateway_site=site_of,
        gateway_index={gid: i for i, gid in enumerate(table.ids.tolist())} if table is not None else {},
        assets=assets,
        fingerprint=fingerprint,
    )
