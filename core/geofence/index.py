"""Signed distance from every fix of a batch to every nearby zone, exactly, in plain numpy.

Membership with hysteresis needs more than "inside or not": it needs *how far* inside or outside a fix is, compared
with a margin tied to the fix's accuracy. Shapely's STRtree + `distance` answers that but costs ~20 µs per fix in
GEOS calls; the realtime path needs ~1 µs. So zones are compiled once into a uniform grid over the site:

- each cell lists the polygon edges (and circles) within `reach_m + cell diagonal / 2` of its centre: for a fix in
  the cell, every boundary point closer than `reach_m` is on that list, so the distance to the nearest listed edge
  is exact whenever it is below `reach_m` (beyond that, only "at least reach_m" matters and that is what we get);
- inside/outside comes from a reference point in the cell whose side is known (computed once with Shapely) plus the
  parity of listed edges crossed on the way from it to the fix (half-open rule, so a path through a vertex counts
  once) — holes and multi-polygons need nothing special;
- zones whose boundary is further than that from the cell but which contain the cell are listed as "deep inside".

`locate` returns (fix, zone, signed distance clipped to ±reach_m) for every zone a fix is inside of or within
`reach_m` of; positive = inside. A point on the boundary gets 0 and counts as inside (closed zones).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from core.geofence.zones import Zone

# Grid origin is nudged by an odd fraction of a cell so that cell centres rarely sit exactly on the round
# coordinates people draw walls at (a reference point on a boundary would make its side ambiguous).
_ORIGIN_NUDGE = 0.01234567
_MAX_CELLS = 4_000_000


@dataclass(frozen=True, slots=True, eq=False)
class ZoneHits:
    """Pairs (fix index, zone index into `ZoneIndex.zones`, signed distance in metres, + = inside)."""

    fix: np.ndarray
    zone: np.ndarray
    signed_m: np.ndarray

    def __len__(self) -> int:
        return len(self.fix)


def _expand(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For owners with `counts[i]` items starting at `starts[i]`: (owner of each item, item position)."""
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(counts)), counts)
    if total == 0:
        return owner, np.zeros(0, np.int64)
    first = np.cumsum(counts) - counts
    position = np.arange(total) - np.repeat(first - starts, counts)
    return owner, position


def _csr(keys: np.ndarray, n: int) -> np.ndarray:
    """Row pointers for `keys` sorted ascending in [0, n)."""
    return np.searchsorted(keys, np.arange(n + 1)).astype(np.int64)


def _segment_distance(
    px: np.ndarray, py: np.ndarray, ax: float, ay: float, bx: float, by: float
) -> np.ndarray:
    ex, ey = bx - ax, by - ay
    length2 = ex * ex + ey * ey
    dx, dy = px - ax, py - ay
    t = np.clip((dx * ex + dy * ey) / length2, 0.0, 1.0) if length2 > 0 else np.zeros_like(px)
    return np.hypot(dx - t * ex, dy - t * ey)


class ZoneIndex:
    """The zones of one site and floor, compiled for `locate`."""

    def __init__(self, zones: Sequence[Zone], *, reach_m: float = 3.0, cell_m: float = 1.0) -> None:
        if reach_m <= 0 or cell_m <= 0:
            raise ValueError("reach_m and cell_m must be > 0 metres")
        self.zones = list(zones)
        self.reach_m = float(reach_m)
        if not self.zones:
            self.cell_m, self.nx, self.ny, self.ox, self.oy = cell_m, 0, 0, 0.0, 0.0
            self._empty_tables()
            return
        bounds = np.array([zone.geometry.bounds for zone in self.zones])
        minx, miny = bounds[:, 0].min(), bounds[:, 1].min()
        maxx, maxy = bounds[:, 2].max(), bounds[:, 3].max()
        span = max(maxx - minx, maxy - miny, 1.0) + 2 * (reach_m + cell_m)
        while (span / cell_m) ** 2 > _MAX_CELLS:  # huge outdoor sites: coarser cells, same exactness
            cell_m *= 2
        self.cell_m = float(cell_m)
        self.radius = reach_m + cell_m * math.sqrt(0.5) + 1e-6
        pad = self.radius + cell_m
        self.ox = minx - pad - _ORIGIN_NUDGE * cell_m
        self.oy = miny - pad - _ORIGIN_NUDGE * 1.7 * cell_m
        self.nx = int(math.ceil((maxx + pad - self.ox) / cell_m)) + 1
        self.ny = int(math.ceil((maxy + pad - self.oy) / cell_m)) + 1
        self._build()

    # ---------------------------------------------------------------- compile
    def _empty_tables(self) -> None:
        empty_i = np.zeros(0, np.int64)
        empty_f = np.zeros(0)
        ncell = self.nx * self.ny
        self.deep_ptr, self.deep_zone = np.zeros(ncell + 1, np.int64), empty_i
        self.group_ptr, self.group_zone = np.zeros(ncell + 1, np.int64), empty_i
        self.group_ref_x, self.group_ref_y = empty_f, empty_f
        self.group_ref_inside = np.zeros(0, bool)
        self.group_edge_ptr, self.group_edge = np.zeros(1, np.int64), empty_i
        self.circle_ptr, self.circle_zone = np.zeros(ncell + 1, np.int64), empty_i
        self.edge_ax = self.edge_ay = self.edge_bx = self.edge_by = empty_f
        empty32 = np.zeros(0, np.float32)
        self.row_ax = self.row_ay = self.row_ex = self.row_ey = self.row_inv_len2 = empty32
        self.row_side_ref = np.zeros(0, bool)

    def _cells_near_box(self, x0: float, y0: float, x1: float, y1: float) -> tuple[np.ndarray, np.ndarray]:
        i0 = max(int((x0 - self.radius - self.ox) // self.cell_m), 0)
        i1 = min(int((x1 + self.radius - self.ox) // self.cell_m) + 1, self.nx - 1)
        j0 = max(int((y0 - self.radius - self.oy) // self.cell_m), 0)
        j1 = min(int((y1 + self.radius - self.oy) // self.cell_m) + 1, self.ny - 1)
        ii, jj = np.meshgrid(np.arange(i0, i1 + 1), np.arange(j0, j1 + 1), indexing="ij")
        return ii.ravel(), jj.ravel()

    def _centres(self, ii: np.ndarray, jj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.ox + (ii + 0.5) * self.cell_m, self.oy + (jj + 0.5) * self.cell_m

    def _build(self) -> None:
        ax: list[float] = []
        ay: list[float] = []
        bx: list[float] = []
        by: list[float] = []
        near_cell: list[np.ndarray] = []  # (cell, zone, edge) triples for polygon edges near a cell
        near_zone: list[np.ndarray] = []
        near_edge: list[np.ndarray] = []
        near_dist: list[np.ndarray] = []
        circle_cells: list[np.ndarray] = []
        circle_zones: list[np.ndarray] = []
        deep_cells: list[np.ndarray] = []
        deep_zones: list[np.ndarray] = []
        for z, zone in enumerate(self.zones):
            x0, y0, x1, y1 = zone.geometry.bounds
            ii, jj = self._cells_near_box(x0, y0, x1, y1)
            cx, cy = self._centres(ii, jj)
            cells = ii * self.ny + jj
            if zone.is_circle:
                gap = np.hypot(cx - zone.center_x, cy - zone.center_y) - zone.radius_m
                near = np.abs(gap) <= self.radius
                circle_cells.append(cells[near])
                circle_zones.append(np.full(int(near.sum()), z))
                deep = gap < -self.radius
                deep_cells.append(cells[deep])
                deep_zones.append(np.full(int(deep.sum()), z))
                continue
            nearest = np.full(len(cells), np.inf)
            for polygon in getattr(zone.geometry, "geoms", [zone.geometry]):
                for ring in [polygon.exterior, *polygon.interiors]:
                    coords = np.asarray(ring.coords)
                    for (pax, pay), (pbx, pby) in zip(coords[:-1], coords[1:], strict=True):
                        if pax == pbx and pay == pby:
                            continue
                        distance = _segment_distance(cx, cy, pax, pay, pbx, pby)
                        nearest = np.minimum(nearest, distance)
                        hit = distance <= self.radius
                        near_cell.append(cells[hit])
                        near_zone.append(np.full(int(hit.sum()), z))
                        near_edge.append(np.full(int(hit.sum()), len(ax)))
                        near_dist.append(distance[hit])
                        ax.append(pax)
                        ay.append(pay)
                        bx.append(pbx)
                        by.append(pby)
            far = nearest > self.radius
            inside_far = far & shapely.contains_xy(zone.geometry, cx, cy)
            deep_cells.append(cells[inside_far])
            deep_zones.append(np.full(int(inside_far.sum()), z))

        ncell = self.nx * self.ny
        self.edge_ax, self.edge_ay = np.asarray(ax, float), np.asarray(ay, float)
        self.edge_bx, self.edge_by = np.asarray(bx, float), np.asarray(by, float)

        def cat(parts: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

        dc, dz = cat(deep_cells), cat(deep_zones)
        order = np.lexsort((dz, dc))
        self.deep_zone, self.deep_ptr = dz[order], _csr(dc[order], ncell)

        cc, cz = cat(circle_cells), cat(circle_zones)
        order = np.lexsort((cz, cc))
        self.circle_zone, self.circle_ptr = cz[order], _csr(cc[order], ncell)
        self.circle_x = np.array([zone.center_x for zone in self.zones])
        self.circle_y = np.array([zone.center_y for zone in self.zones])
        self.circle_r = np.array([zone.radius_m for zone in self.zones])

        nc, nz, ne = cat(near_cell), cat(near_zone), cat(near_edge)
        nd = np.concatenate(near_dist) if near_dist else np.zeros(0)
        order = np.lexsort((ne, nz, nc))
        nc, nz, ne, nd = nc[order], nz[order], ne[order], nd[order]
        group_key = nc * max(len(self.zones), 1) + nz
        starts = (
            np.flatnonzero(np.r_[True, group_key[1:] != group_key[:-1]]) if len(nc) else np.zeros(0, np.int64)
        )
        group_cell, self.group_zone = nc[starts], nz[starts]
        self.group_ptr = _csr(group_cell, ncell)
        self.group_edge_ptr = np.r_[starts, len(nc)].astype(np.int64)
        self.group_edge = ne
        gx, gy = self._centres(group_cell // self.ny, group_cell % self.ny)
        # A reference point on the boundary has no side; move it off (still well within the cell).
        on_edge = np.minimum.reduceat(nd, starts) < 1e-7 if len(starts) else np.zeros(0, bool)
        self.group_ref_x = gx + np.where(on_edge, 1e-4 * self.cell_m, 0.0)
        self.group_ref_y = gy + np.where(on_edge, 1.3e-4 * self.cell_m, 0.0)
        self.group_ref_inside = np.zeros(len(group_cell), bool)
        by_zone = np.argsort(self.group_zone, kind="stable")
        bounds = np.searchsorted(self.group_zone[by_zone], np.arange(len(self.zones) + 1))
        for z, zone in enumerate(self.zones):
            mine = by_zone[bounds[z] : bounds[z + 1]]
            if len(mine):
                refs = (self.group_ref_x[mine], self.group_ref_y[mine])
                self.group_ref_inside[mine] = shapely.contains_xy(zone.geometry, *refs)
        # Per (group, edge) row, the edge relative to its group's reference point, in locate's order.
        row_group = np.repeat(np.arange(len(group_cell)), np.diff(self.group_edge_ptr))
        ref_x, ref_y = self.group_ref_x[row_group], self.group_ref_y[row_group]
        ax_rel, ay_rel = self.edge_ax[ne] - ref_x, self.edge_ay[ne] - ref_y
        ex, ey = self.edge_bx[ne] - self.edge_ax[ne], self.edge_by[ne] - self.edge_ay[ne]
        self.row_ax, self.row_ay = ax_rel.astype(np.float32), ay_rel.astype(np.float32)
        self.row_ex, self.row_ey = ex.astype(np.float32), ey.astype(np.float32)
        self.row_inv_len2 = (1.0 / (ex * ex + ey * ey)).astype(np.float32)
        self.row_side_ref = ex * (-ay_rel) - ey * (-ax_rel) > 0

    # ---------------------------------------------------------------- query
    def locate(self, x: np.ndarray, y: np.ndarray) -> ZoneHits:
        """Zones each fix is inside of or within `reach_m` of, with the signed distance (clipped to ±reach_m)."""
        x = np.asarray(x, float)
        y = np.asarray(y, float)
        if self.nx == 0 or len(x) == 0:
            empty = np.zeros(0, np.int64)
            return ZoneHits(empty, empty.copy(), np.zeros(0))
        with np.errstate(invalid="ignore"):
            fi = np.floor((x - self.ox) / self.cell_m)
            fj = np.floor((y - self.oy) / self.cell_m)
        ok = (fi >= 0) & (fi < self.nx) & (fj >= 0) & (fj < self.ny)
        fixes = np.flatnonzero(ok)
        cell = fi[ok].astype(np.int64) * self.ny + fj[ok].astype(np.int64)

        parts_fix, parts_zone, parts_signed = [], [], []
        # deep inside
        owner, pos = _expand(self.deep_ptr[cell], self.deep_ptr[cell + 1] - self.deep_ptr[cell])
        parts_fix.append(fixes[owner])
        parts_zone.append(self.deep_zone[pos])
        parts_signed.append(np.full(len(pos), self.reach_m))
        # circles near their rim
        owner, pos = _expand(self.circle_ptr[cell], self.circle_ptr[cell + 1] - self.circle_ptr[cell])
        if len(pos):
            f, z = fixes[owner], self.circle_zone[pos]
            signed = self.circle_r[z] - np.hypot(x[f] - self.circle_x[z], y[f] - self.circle_y[z])
            parts_fix.append(f)
            parts_zone.append(z)
            parts_signed.append(signed)
        # polygons near their boundary
        owner, group = _expand(self.group_ptr[cell], self.group_ptr[cell + 1] - self.group_ptr[cell])
        if len(group):
            f = fixes[owner]
            counts = self.group_edge_ptr[group + 1] - self.group_edge_ptr[group]
            row_pair, row = _expand(self.group_edge_ptr[group], counts)
            # everything relative to the group's reference point: small numbers, exact enough in float32
            fx = (x[f] - self.group_ref_x[group]).astype(np.float32)
            fy = (y[f] - self.group_ref_y[group]).astype(np.float32)
            px, py = fx[row_pair], fy[row_pair]
            ax, ay = self.row_ax[row], self.row_ay[row]
            ex, ey = self.row_ex[row], self.row_ey[row]
            dx, dy = px - ax, py - ay
            t = np.clip((dx * ex + dy * ey) * self.row_inv_len2[row], 0.0, 1.0)
            qx, qy = dx - t * ex, dy - t * ey
            d2 = qx * qx + qy * qy
            # does the path reference -> fix cross this edge? (half-open at the edge's end points)
            above_a = px * ay - py * ax > 0
            above_b = px * (ay + ey) - py * (ax + ex) > 0
            side_p = ex * dy - ey * dx > 0
            crosses = (above_a != above_b) & (self.row_side_ref[row] != side_p)
            first = np.cumsum(counts) - counts
            nearest = np.sqrt(np.minimum.reduceat(d2, first)).astype(float)
            flips = np.bitwise_xor.reduceat(crosses.astype(np.uint8), first).astype(bool)
            inside = self.group_ref_inside[group] ^ flips
            parts_fix.append(f)
            parts_zone.append(self.group_zone[group])
            parts_signed.append(np.where(inside, nearest, -nearest))

        fix = np.concatenate(parts_fix)
        zone = np.concatenate(parts_zone)
        signed = np.clip(np.concatenate(parts_signed), -self.reach_m, self.reach_m)
        keep = signed > -self.reach_m
        order = np.argsort(fix[keep], kind="stable")
        return ZoneHits(fix[keep][order], zone[keep][order], signed[keep][order])
