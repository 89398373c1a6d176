"""A simulated site for the realtime path: gateways on a grid, zones, and N tagged assets that move between
zones, stay parked, get carried off site, drain their batteries — and a gateway that goes down for a while.

Motion is closed-form (`positions(t)`), so ground truth is available for any time without replaying anything,
and observations are generated vectorised per beacon time: RSSI from the log-distance path-loss model with
shadowing noise, heard only by gateways within range. (`core.simulation` is the positioning team's offline
simulator; this one is built for throughput: 100,000 tags at a few microseconds per observation.)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import msgspec
import numpy as np

SPACING_M = 10.0
HEARING_DBM = -92.0
REF_RSSI_1M_DBM = -59.0
PATH_LOSS_EXPONENT = 2.2
SHADOWING_DB = 3.0
WALK_MPS = 1.0


class WireObservation(msgspec.Struct, omit_defaults=True):
    tag_id: str
    gateway_id: str
    rssi: int
    ts: int  # epoch ms
    battery: float | None = None


@dataclass(frozen=True, slots=True)
class SimulatedSite:
    name: str
    width_m: float
    height_m: float
    gateway_ids: list[str]
    gateway_xy: np.ndarray  # (G, 2)
    columns: int  # gateways per row of the grid
    zone_names: list[str]
    zone_xy: np.ndarray  # (Z, 2)
    zone_radius_m: float
    tag_ids: list[str]
    origin: tuple[float, float] = (52.5200, 13.4050)


def build_site(assets: int, *, seed: int = 7, name: str = "Simulated campus") -> SimulatedSite:
    """A square site sized for the number of assets (~25 m² per asset, at least 40 m × 40 m)."""
    side = max(40.0, float(np.ceil(np.sqrt(assets * 25.0) / SPACING_M) * SPACING_M))
    cols = int(side / SPACING_M) + 1
    gx, gy = np.meshgrid(np.arange(cols) * SPACING_M, np.arange(cols) * SPACING_M)
    xy = np.stack([gx.ravel(), gy.ravel()], axis=1)
    zones_per_side = max(2, int(side // 20))
    centres = (np.arange(zones_per_side) + 0.5) * side / zones_per_side
    zx, zy = np.meshgrid(centres, centres)
    zone_xy = np.stack([zx.ravel(), zy.ravel()], axis=1)
    rng = np.random.default_rng(seed)
    tags = [f"{v:012X}" for v in rng.choice(2**44, size=assets, replace=False) + 0xAC0000000000]
    return SimulatedSite(
        name,
        side,
        side,
        [f"GW{i:05d}" for i in range(len(xy))],
        xy,
        cols,
        [f"Zone {i + 1}" for i in range(len(zone_xy))],
        zone_xy,
        4.0,
        tags,
    )


class SiteSimulator:
    """Assets' motion, batteries and what the gateways hear. Fractions: moving 40 %, parked 55 %, 5 % leave."""

    def __init__(
        self,
        site: SimulatedSite,
        *,
        start_s: float,
        seed: int = 7,
        beacon_s: float = 1.0,
        gateway_down: tuple[int, float, float] | None = None,
    ) -> None:
        self.site = site
        self.start_s = start_s
        self.beacon_s = beacon_s
        rng = np.random.default_rng(seed)
        n, z = len(site.tag_ids), len(site.zone_xy)
        self.kind = rng.choice(3, size=n, p=[0.40, 0.55, 0.05])  # 0 moving, 1 parked, 2 carried off site
        a, b = rng.integers(0, z, n), rng.integers(0, z, n)
        jitter = rng.uniform(-3, 3, (n, 2))
        self.from_xy = site.zone_xy[a] + jitter
        self.to_xy = site.zone_xy[b] + rng.uniform(-3, 3, (n, 2))
        self.leg_s = np.maximum(np.hypot(*(self.to_xy - self.from_xy).T) / WALK_MPS, 1.0)
        self.phase = rng.uniform(0, 1, n)
        self.leaves_at = start_s + rng.uniform(5, 60, n)
        self.battery0 = rng.uniform(20, 100, n)
        self.drain_per_s = rng.uniform(0.0, 0.01, n)
        self.gateway_down = gateway_down  # (gateway index, from s, to s) relative to start
        self.rng = np.random.default_rng(seed + 1)
        self._tags = np.array(site.tag_ids, dtype=object)
        self._gateways = np.array(site.gateway_ids, dtype=object)

    def positions(self, t: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ground truth at time t: (N, 2) site metres and whether each asset is on site."""
        elapsed = np.asarray(t, dtype=float) - self.start_s
        cycle = (elapsed / (2 * self.leg_s) + self.phase) % 1.0
        frac = np.where(cycle < 0.5, 2 * cycle, 2 - 2 * cycle)  # walk there and back, repeatedly
        xy = np.where(
            (self.kind == 1)[:, None],
            self.from_xy,
            self.from_xy + frac[:, None] * (self.to_xy - self.from_xy),
        )
        on_site = ~((self.kind == 2) & (np.asarray(t) >= self.leaves_at))
        return np.clip(xy, 0, [self.site.width_m, self.site.height_m]), on_site

    def observations_at(self, t: float, tags: np.ndarray | None = None) -> list[WireObservation]:
        """What the gateways hear of the assets beaconing at time t (all assets when `tags` is None)."""
        rows = np.arange(len(self._tags)) if tags is None else np.asarray(tags)
        xy, on_site = self.positions(t)
        xy, on_site = xy[rows], on_site[rows]
        cols = self.site.columns
        cell = np.rint(xy / SPACING_M).astype(np.int64)
        offsets = np.array([(dx, dy) for dx in range(-2, 3) for dy in range(-2, 3)])
        near = cell[:, None, :] + offsets[None, :, :]
        inside = ((near >= 0) & (near < cols)).all(axis=2)
        gw = np.where(inside, near[:, :, 1] * cols + near[:, :, 0], 0)
        d = np.hypot(*(xy[:, None, :] - self.site.gateway_xy[gw]).transpose(2, 0, 1))
        rssi = REF_RSSI_1M_DBM - 10 * PATH_LOSS_EXPONENT * np.log10(np.maximum(d, 0.5))
        rssi = rssi + self.rng.normal(0, SHADOWING_DB, rssi.shape)
        heard = inside & (rssi > HEARING_DBM) & on_site[:, None]
        if self.gateway_down is not None:
            index, down_from, down_to = self.gateway_down
            if down_from <= t - self.start_s < down_to:
                heard &= gw != index
        r, c = np.nonzero(heard)
        battery = np.clip(self.battery0[rows] - self.drain_per_s[rows] * (t - self.start_s), 0, 100)
        ts_ms = int(round(t * 1000))
        tag_of, gw_of = self._tags[rows][r], self._gateways[gw[r, c]]
        levels = np.rint(rssi[r, c]).astype(np.int64).tolist()
        batt = np.round(battery[r], 1).tolist()
        return [
            WireObservation(tag, g, level, ts_ms, b)
            for tag, g, level, b in zip(tag_of.tolist(), gw_of.tolist(), levels, batt, strict=True)
        ]

    def beacon_times(self, start_s: float, end_s: float) -> np.ndarray:
        first = np.ceil(start_s / self.beacon_s - 1e-9) * self.beacon_s
        return np.arange(first, end_s - 1e-9, self.beacon_s)


def seed_database(engine, site: SimulatedSite) -> uuid.UUID:  # type: ignore[no-untyped-def]
    """Create (or reuse, by name) the site with its gateways, zones and assets. Returns the site id."""
    from sqlalchemy import insert, select

    from core.db.models import Asset, Gateway, Geofence, Site

    with engine.begin() as conn:
        existing = conn.execute(select(Site.id).where(Site.name == site.name)).scalar_one_or_none()
        if existing is not None:
            return existing
        site_id = uuid.uuid4()
        conn.execute(
            insert(Site),
            [
                {
                    "id": site_id,
                    "name": site.name,
                    "origin_lat": site.origin[0],
                    "origin_lon": site.origin[1],
                    "width_m": site.width_m,
                    "height_m": site.height_m,
                    "timezone": "UTC",
                }
            ],
        )
        conn.execute(
            insert(Gateway),
            [
                {
                    "id": uuid.uuid4(),
                    "gateway_id": gid,
                    "site_id": site_id,
                    "name": gid,
                    "x": float(x),
                    "y": float(y),
                    "z": None,
                    "floor": 0,
                    "status": "unknown",
                }
                for gid, (x, y) in zip(site.gateway_ids, site.gateway_xy.tolist(), strict=True)
            ],
        )
        conn.execute(
            insert(Geofence),
            [
                {
                    "id": uuid.uuid4(),
                    "site_id": site_id,
                    "name": zone,
                    "kind": "work_area",
                    "shape": "circle",
                    "center_x": float(x),
                    "center_y": float(y),
                    "radius_m": site.zone_radius_m,
                    "enabled": True,
                }
                for zone, (x, y) in zip(site.zone_names, site.zone_xy.tolist(), strict=True)
            ],
        )
        rows = [
            {
                "id": uuid.uuid4(),
                "name": f"Asset {tag}",
                "category": "equipment",
                "tag_id": tag,
                "site_id": site_id,
                "status": "active",
                "usage_hours": 0.0,
                "attributes": {},
            }
            for tag in site.tag_ids
        ]
        for start in range(0, len(rows), 5000):
            conn.execute(insert(Asset), rows[start : start + 5000])
    return site_id


encode_observation = msgspec.json.Encoder().encode
