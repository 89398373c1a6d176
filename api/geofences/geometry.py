"""GeoJSON in and out for geofences, with the geometry checked by shapely before anything is stored.

Coordinates are site-frame metres ([x, y]). A polygon is `{"type": "Polygon", "coordinates": [[[x, y], ...]]}`
(outer ring first, then holes; each ring closed); a circle is `{"type": "Point", "coordinates": [x, y]}` plus
`radius_m`. A GeoJSON Feature wrapping either is accepted too. Every rejection names where the problem is,
e.g. `geometry.coordinates[0]: ring is not closed`.
"""

from __future__ import annotations

import math
from typing import Any

from shapely import Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from api.errors import Unprocessable
from core.db.enums import GeofenceShape
from core.db.models import Geofence

MAX_VERTICES = 10_000
COORDINATE_LIMIT_M = 1e6


def _position(value: Any, where: str) -> tuple[float, float]:
    if (
        not isinstance(value, list | tuple)
        or len(value) < 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value[:2])
    ):
        raise Unprocessable(f"{where}: expected a position [x, y] of numbers (metres)", field="geometry")
    x, y = float(value[0]), float(value[1])
    if not (
        math.isfinite(x)
        and math.isfinite(y)
        and abs(x) <= COORDINATE_LIMIT_M
        and abs(y) <= COORDINATE_LIMIT_M
    ):
        raise Unprocessable(
            f"{where}: coordinates must be finite and within ±{COORDINATE_LIMIT_M:.0f} m", field="geometry"
        )
    return x, y


def _ring(value: Any, where: str) -> list[tuple[float, float]]:
    if not isinstance(value, list):
        raise Unprocessable(f"{where}: expected a list of positions", field="geometry")
    if len(value) > MAX_VERTICES:
        raise Unprocessable(f"{where}: at most {MAX_VERTICES} positions", field="geometry")
    points = [_position(p, f"{where}[{i}]") for i, p in enumerate(value)]
    if len(points) < 4:
        raise Unprocessable(
            f"{where}: a ring needs at least 4 positions (3 corners and the first repeated to close it)",
            field="geometry",
        )
    if points[0] != points[-1]:
        raise Unprocessable(
            f"{where}: ring is not closed: the last position {list(points[-1])} must repeat the first {list(points[0])}",
            field="geometry",
        )
    return points


def parse_geometry(geometry: dict[str, Any], radius_m: float | None) -> tuple[GeofenceShape, BaseGeometry]:
    """The shape kind and the shapely geometry of a GeoJSON geometry (or Feature); raises Unprocessable."""
    if geometry.get("type") == "Feature":
        inner = geometry.get("geometry")
        if not isinstance(inner, dict):
            raise Unprocessable("geometry.geometry: a Feature needs a geometry object", field="geometry")
        geometry = inner
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if kind == "Point":
        center = _position(coordinates, "geometry.coordinates")
        if radius_m is None:
            raise Unprocessable(
                "radius_m: a circular geofence (Point geometry) needs radius_m > 0", field="radius_m"
            )
        return GeofenceShape.CIRCLE, Point(center).buffer(radius_m, quad_segs=16)
    if kind == "Polygon":
        if not isinstance(coordinates, list) or not coordinates:
            raise Unprocessable(
                "geometry.coordinates: expected a list of rings (outer ring first)", field="geometry"
            )
        rings = [_ring(ring, f"geometry.coordinates[{i}]") for i, ring in enumerate(coordinates)]
        polygon = Polygon(rings[0], rings[1:])
        if not polygon.is_valid:
            raise Unprocessable(f"geometry: invalid polygon: {explain_validity(polygon)}", field="geometry")
        if polygon.area <= 0:
            raise Unprocessable("geometry: the polygon has no area", field="geometry")
        return GeofenceShape.POLYGON, polygon
    raise Unprocessable(
        f"geometry.type: expected 'Polygon' or 'Point' (a circle, with radius_m), got {kind!r}",
        field="geometry",
    )


def stored_columns(geometry: dict[str, Any], radius_m: float | None) -> dict[str, Any]:
    """The geofence columns for a validated GeoJSON geometry."""
    shape, _ = parse_geometry(geometry, radius_m)
    if geometry.get("type") == "Feature":
        geometry = geometry["geometry"]
    if shape is GeofenceShape.CIRCLE:
        x, y = _position(geometry["coordinates"], "geometry.coordinates")
        return {
            "shape": shape.value,
            "geometry": {"type": "Point", "coordinates": [x, y]},
            "center_x": x,
            "center_y": y,
            "radius_m": radius_m,
        }
    rings = [[list(_position(p, "")) for p in ring] for ring in geometry["coordinates"]]
    return {
        "shape": shape.value,
        "geometry": {"type": "Polygon", "coordinates": rings},
        "center_x": None,
        "center_y": None,
        "radius_m": None,
    }


def shape_of(geofence: Geofence) -> BaseGeometry:
    """The shapely geometry of a stored geofence."""
    if geofence.shape == GeofenceShape.CIRCLE.value:
        return Point(geofence.center_x or 0.0, geofence.center_y or 0.0).buffer(
            geofence.radius_m or 0.0, quad_segs=16
        )
    rings = (geofence.geometry or {}).get("coordinates") or [[]]
    return Polygon(rings[0], rings[1:])


def geojson_of(geofence: Geofence) -> dict[str, Any]:
    if geofence.shape == GeofenceShape.CIRCLE.value:
        return {"type": "Point", "coordinates": [geofence.center_x, geofence.center_y]}
    return geofence.geometry or {"type": "Polygon", "coordinates": []}
