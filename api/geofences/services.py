from __future__ import annotations

from typing import Any

from advanced_alchemy.repository import SQLAlchemyAsyncRepository

from api.geofences.geometry import geojson_of
from api.geofences.schemas import Geofence as GeofenceDto
from api.services import EntityService
from core.db.models import Geofence


class GeofenceService(EntityService[Geofence]):
    class Repository(SQLAlchemyAsyncRepository[Geofence]):
        model_type = Geofence

    repository_type = Repository
    entity = "geofence"


def to_geofence(row: Geofence) -> GeofenceDto:
    return GeofenceDto(
        id=row.id,
        site_id=row.site_id,
        name=row.name,
        floor=row.floor,
        kind=row.kind,
        shape=row.shape,
        geometry=geojson_of(row),
        radius_m=row.radius_m,
        enter_dwell_s=row.enter_dwell_s,
        exit_dwell_s=row.exit_dwell_s,
        enabled=row.enabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def feature(row: Geofence) -> dict[str, Any]:
    """A GeoJSON Feature of the geofence (site-frame metres), its settings as properties."""
    return {
        "type": "Feature",
        "id": str(row.id),
        "geometry": geojson_of(row),
        "properties": {
            "name": row.name,
            "site_id": str(row.site_id),
            "floor": row.floor,
            "kind": row.kind,
            "shape": row.shape,
            "radius_m": row.radius_m,
            "enter_dwell_s": row.enter_dwell_s,
            "exit_dwell_s": row.exit_dwell_s,
            "enabled": row.enabled,
        },
    }
