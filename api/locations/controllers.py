"""Current locations of a site's tags, optionally inside a polygon (or a stored geofence) or near a point."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import NotFound, Unprocessable
from api.geofences.geometry import shape_of
from api.locations.schemas import SiteLocations
from api.locations.services import filter_fixes, fix_from_row, parse_polygon
from core.db.models import CurrentLocation, Geofence, Site

Coordinate = Annotated[float | None, Parameter(ge=-1e6, le=1e6)]


class LocationController(Controller):
    path = "/api/v1/sites/{site_id:uuid}/locations"
    tags = ["locations"]

    @get("/", operation_id="listSiteLocations", summary="Current locations on a site")
    async def list_site_locations(
        self,
        db_session: AsyncSession,
        site_id: uuid.UUID,
        floor: Annotated[int | None, Parameter(ge=-100, le=1000)] = None,
        polygon: Annotated[
            str | None, Parameter(max_length=20_000, description="only inside 'x1,y1;x2,y2;x3,y3' (metres)")
        ] = None,
        geofence_id: Annotated[uuid.UUID | None, Parameter(description="only inside this geofence")] = None,
        near_x: Coordinate = None,
        near_y: Coordinate = None,
        radius_m: Annotated[float | None, Parameter(gt=0, le=1e6, description="with near_x/near_y")] = None,
        max_age_s: Annotated[
            float | None, Parameter(gt=0, le=1e9, description="only fixes newer than this")
        ] = None,
    ) -> SiteLocations:
        if await db_session.get(Site, site_id) is None:
            raise NotFound(f"site {site_id} does not exist")
        if (near_x is None) != (near_y is None):
            raise Unprocessable("near_x, near_y: give both coordinates of the point", field="near_x")
        if radius_m is not None and near_x is None:
            raise Unprocessable("radius_m: needs near_x and near_y", field="radius_m")
        area: BaseGeometry | None = parse_polygon(polygon) if polygon else None
        if geofence_id is not None:
            geofence = await db_session.get(Geofence, geofence_id)
            if geofence is None or geofence.site_id != site_id:
                raise NotFound(f"geofence {geofence_id} does not exist on site {site_id}")
            fence = shape_of(geofence)
            area = fence if area is None else area.intersection(fence)
        query = select(CurrentLocation).where(CurrentLocation.site_id == site_id)
        if floor is not None:
            query = query.where(CurrentLocation.floor == floor)
        if max_age_s is not None:
            cutoff = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=max_age_s)
            query = query.where(CurrentLocation.ts >= cutoff)
        rows = (await db_session.execute(query.order_by(CurrentLocation.tag_id))).scalars().all()
        near = (near_x, near_y) if near_x is not None and near_y is not None else None
        items = filter_fixes([fix_from_row(row) for row in rows], area, near, radius_m)
        return SiteLocations(site_id=site_id, count=len(items), items=items)
