"""Geofences (zones) drawn on a site, as GeoJSON in site-frame metres."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from advanced_alchemy.extensions.litestar.providers import create_service_provider
from advanced_alchemy.filters import CollectionFilter, LimitOffset, SearchFilter
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from api import audit
from api.geofences.geometry import stored_columns
from api.geofences.schemas import FeatureCollection, Geofence, GeofenceCreate, GeofenceUpdate
from api.geofences.services import GeofenceService, feature, to_geofence
from api.pagination import OffsetPagination, Order, list_filters, paginated
from api.schemas import apply, set_fields
from api.security import requires_operator
from core.db.enums import GeofenceKind
from core.db.models import Geofence as GeofenceRow

GeofenceSort = Literal["name", "kind", "created_at", "updated_at"]


class GeofenceController(Controller):
    path = "/api/v1/geofences"
    tags = ["geofences"]
    dependencies = {"geofences": create_service_provider(GeofenceService)}

    @get("/", operation_id="listGeofences", summary="List geofences")
    async def list_geofences(
        self,
        geofences: GeofenceService,
        page: LimitOffset,
        site_id: uuid.UUID | None = None,
        kind: GeofenceKind | None = None,
        enabled: bool | None = None,
        q: Annotated[str | None, Parameter(max_length=200)] = None,
        sort: GeofenceSort = "name",
        order: Order = "asc",
    ) -> OffsetPagination[Geofence]:
        filters = list_filters(
            page,
            sort,
            order,
            CollectionFilter("site_id", [site_id]) if site_id else None,
            CollectionFilter("kind", [kind.value]) if kind else None,
            CollectionFilter("enabled", [enabled]) if enabled is not None else None,
            SearchFilter(field_name="name", value=q, ignore_case=True) if q else None,
        )
        items, total = await geofences.list_and_count(*filters)
        return paginated([to_geofence(row) for row in items], total, page)

    @get(
        "/geojson",
        operation_id="getGeofencesGeoJson",
        summary="A site's geofences as a GeoJSON FeatureCollection",
    )
    async def geofences_geojson(self, geofences: GeofenceService, site_id: uuid.UUID) -> FeatureCollection:
        rows = await geofences.list(CollectionFilter("site_id", [site_id]))
        return FeatureCollection(type="FeatureCollection", features=[feature(row) for row in rows])

    @post("/", operation_id="createGeofence", summary="Draw a geofence", guards=[requires_operator])
    async def create_geofence(
        self, geofences: GeofenceService, db_session: AsyncSession, data: GeofenceCreate, request: Request
    ) -> Geofence:
        columns = stored_columns(data.geometry, data.radius_m)
        row = GeofenceRow(
            site_id=data.site_id,
            name=data.name,
            floor=data.floor,
            kind=data.kind.value,
            enter_dwell_s=data.enter_dwell_s,
            exit_dwell_s=data.exit_dwell_s,
            enabled=data.enabled,
            **columns,
        )
        row = await geofences.create(row)
        audit.record(db_session, request.user, "create", "geofence", row.id, name=row.name, shape=row.shape)
        return to_geofence(row)

    @get("/{id:uuid}", operation_id="getGeofence", summary="Get a geofence")
    async def get_geofence(self, geofences: GeofenceService, id: uuid.UUID) -> Geofence:
        return to_geofence(await geofences.get_or_404(id))

    @patch(
        "/{id:uuid}", operation_id="updateGeofence", summary="Change a geofence", guards=[requires_operator]
    )
    async def update_geofence(
        self,
        geofences: GeofenceService,
        db_session: AsyncSession,
        id: uuid.UUID,
        data: GeofenceUpdate,
        request: Request,
    ) -> Geofence:
        row = await geofences.get_or_404(id)
        changes = set_fields(data)
        if "kind" in changes:
            changes["kind"] = changes["kind"].value
        geometry = changes.pop("geometry", None)
        radius = changes.pop("radius_m", row.radius_m)
        if geometry is not None or "radius_m" in set_fields(data):
            changes.update(stored_columns(geometry or row.geometry or {}, radius))
        apply(row, changes)
        await db_session.flush()
        audit.record(db_session, request.user, "update", "geofence", id, fields=sorted(set_fields(data)))
        return to_geofence(row)

    @delete(
        "/{id:uuid}", operation_id="deleteGeofence", summary="Delete a geofence", guards=[requires_operator]
    )
    async def delete_geofence(
        self, geofences: GeofenceService, db_session: AsyncSession, id: uuid.UUID, request: Request
    ) -> None:
        row = await geofences.get_or_404(id)
        await geofences.delete(row.id)
        audit.record(db_session, request.user, "delete", "geofence", id, name=row.name)
