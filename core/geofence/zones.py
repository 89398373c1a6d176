"""Zones as the geofence engine sees them: a circle or a polygon (holes allowed) on a site and floor, in metres.

A `Zone` is built from a `geofences` row (or the same fields as a mapping, e.g. an API request body) by
`zone_from_record`, which checks the geometry and says which field is wrong instead of letting Shapely or numpy
fail later inside the realtime loop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

CIRCLE = "circle"
POLYGON = "polygon"
RESTRICTED = "restricted"
SITE_BOUNDARY = "site_boundary"


class ZoneError(ValueError):
    """A zone definition is unusable; the message names the zone and the field."""


@dataclass(frozen=True, slots=True, eq=False)
class Zone:
    """One geofence. `floor` None = on every floor. Dwell times None = the engine's defaults.

    For circles `geometry` is the circle's polygon approximation (used only to find candidate cells); membership
    is decided on the exact circle (`center_x`, `center_y`, `radius_m`).
    """

    id: str
    site_id: str
    name: str
    kind: str
    shape: str
    geometry: BaseGeometry
    floor: int | None = None
    center_x: float = math.nan
    center_y: float = math.nan
    radius_m: float = math.nan
    enter_dwell_s: float | None = None
    exit_dwell_s: float | None = None

    @property
    def is_circle(self) -> bool:
        return self.shape == CIRCLE


def circle_zone(zone_id: str, site_id: str, x: float, y: float, radius_m: float, **fields: Any) -> Zone:
    """A circular zone centred on (x, y) site metres."""
    return zone_from_record(
        {
            "id": zone_id,
            "site_id": site_id,
            "shape": CIRCLE,
            "center_x": x,
            "center_y": y,
            "radius_m": radius_m,
        }
        | fields
    )


def polygon_zone(
    zone_id: str,
    site_id: str,
    shell: list[tuple[float, float]],
    holes: list[list[tuple[float, float]]] | None = None,
    **fields: Any,
) -> Zone:
    """A polygonal zone from its outer ring and optional holes (lists of (x, y) site metres)."""
    rings = [[list(p) for p in shell], *[[list(p) for p in hole] for hole in holes or []]]
    geometry = {"type": "Polygon", "coordinates": rings}
    return zone_from_record(
        {"id": zone_id, "site_id": site_id, "shape": POLYGON, "geometry": geometry} | fields
    )


def _get(record: Mapping[str, Any] | object, key: str, default: Any = None) -> Any:
    if isinstance(record, Mapping):
        return record.get(key, default)
    return getattr(record, key, default)


def _finite(value: Any, where: str, field: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ZoneError(f"{where}: {field} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ZoneError(f"{where}: {field} must be finite, got {value!r}")
    return number


def _ring(coords: Any, where: str, field: str) -> list[tuple[float, float]]:
    if not isinstance(coords, list | tuple) or len(coords) < 3:
        raise ZoneError(f"{where}: {field} must be a list of at least 3 [x, y] points")
    ring = []
    for i, point in enumerate(coords):
        if not isinstance(point, list | tuple) or len(point) < 2:
            raise ZoneError(f"{where}: {field}[{i}] must be an [x, y] pair, got {point!r}")
        ring.append(
            (_finite(point[0], where, f"{field}[{i}][0]"), _finite(point[1], where, f"{field}[{i}][1]"))
        )
    return ring


def _polygon_geometry(geometry: Any, where: str) -> BaseGeometry:
    if not isinstance(geometry, Mapping):
        raise ZoneError(f"{where}: geometry must be a GeoJSON-like object with 'type' and 'coordinates'")
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if kind == "Polygon":
        polygons_coords = [coords]
    elif kind == "MultiPolygon":
        if not isinstance(coords, list) or not coords:
            raise ZoneError(f"{where}: geometry.coordinates must be a non-empty list of polygons")
        polygons_coords = coords
    else:
        raise ZoneError(f"{where}: geometry.type must be 'Polygon' or 'MultiPolygon', got {kind!r}")
    polygons = []
    for p, rings in enumerate(polygons_coords):
        field = "geometry.coordinates" if kind == "Polygon" else f"geometry.coordinates[{p}]"
        if not isinstance(rings, list) or not rings:
            raise ZoneError(f"{where}: {field} must be a list of rings (outer ring first, then holes)")
        shell = _ring(rings[0], where, f"{field}[0]")
        holes = [_ring(ring, where, f"{field}[{h}]") for h, ring in enumerate(rings[1:], start=1)]
        polygons.append(shapely.Polygon(shell, holes))
    shape = polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)
    if not shape.is_valid:
        reason = shapely.is_valid_reason(shape)
        raise ZoneError(f"{where}: geometry is not a valid polygon ({reason}); rings must not self-intersect")
    if shape.is_empty or shape.area <= 0:
        raise ZoneError(f"{where}: geometry encloses no area")
    return shape


def zone_from_record(record: Mapping[str, Any] | object) -> Zone:
    """A `Zone` from a `Geofence` ORM row or a mapping with the same fields (id, site_id, name, kind, shape,
    geometry or center_x/center_y/radius_m, floor, enter_dwell_s, exit_dwell_s)."""
    zone_id = str(_get(record, "id") or "")
    name = str(_get(record, "name") or zone_id)
    where = f"geofence {name!r}" if name else "geofence"
    if not zone_id:
        raise ZoneError(f"{where}: id is required")
    shape_name = _get(record, "shape")
    if shape_name is None:
        shape_name = CIRCLE if _get(record, "radius_m") is not None else POLYGON
    shape_name = str(shape_name)
    floor = _get(record, "floor")
    if floor is not None:
        if isinstance(floor, bool) or not float(floor).is_integer():
            raise ZoneError(f"{where}: floor must be an integer or null, got {floor!r}")
        floor = int(floor)
    dwell: dict[str, float | None] = {}
    for key in ("enter_dwell_s", "exit_dwell_s"):
        value = _get(record, key)
        if value is not None:
            value = _finite(value, where, key)
            if value < 0:
                raise ZoneError(f"{where}: {key} must be >= 0 seconds, got {value}")
        dwell[key] = value
    common = {
        "id": zone_id,
        "site_id": str(_get(record, "site_id") or ""),
        "name": name,
        "kind": str(_get(record, "kind") or "other"),
        "floor": floor,
        **dwell,
    }
    if shape_name == CIRCLE:
        cx = _finite(_get(record, "center_x"), where, "center_x")
        cy = _finite(_get(record, "center_y"), where, "center_y")
        radius = _finite(_get(record, "radius_m"), where, "radius_m")
        if radius <= 0:
            raise ZoneError(f"{where}: radius_m must be > 0 metres, got {radius}")
        outline = shapely.Point(cx, cy).buffer(radius, quad_segs=16)
        return Zone(shape=CIRCLE, geometry=outline, center_x=cx, center_y=cy, radius_m=radius, **common)
    if shape_name == POLYGON:
        return Zone(shape=POLYGON, geometry=_polygon_geometry(_get(record, "geometry"), where), **common)
    raise ZoneError(f"{where}: shape must be 'circle' or 'polygon', got {shape_name!r}")
