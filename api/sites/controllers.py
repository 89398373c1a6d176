"""Sites: the places with tagged equipment and the frame (origin lat/lon, extent, floor plan) positions are in."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from advanced_alchemy.extensions.litestar.providers import create_service_provider
from advanced_alchemy.filters import LimitOffset, SearchFilter
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from api import audit
from api.pagination import OffsetPagination, Order, list_filters, paginated
from api.schemas import apply, set_fields, to_dto, to_dtos
from api.security import requires_admin
from api.sites.schemas import FloorPlan, Site, SiteCreate, SiteUpdate
from api.sites.services import SiteService

SiteSort = Literal["name", "created_at", "updated_at"]


class SiteController(Controller):
    path = "/api/v1/sites"
    tags = ["sites"]
    dependencies = {"sites": create_service_provider(SiteService)}

    @get("/", operation_id="listSites", summary="List sites")
    async def list_sites(
        self,
        sites: SiteService,
        page: LimitOffset,
        q: Annotated[
            str | None, Parameter(max_length=200, description="name contains (case-insensitive)")
        ] = None,
        sort: SiteSort = "name",
        order: Order = "asc",
    ) -> OffsetPagination[Site]:
        search = SearchFilter(field_name="name", value=q, ignore_case=True) if q else None
        items, total = await sites.list_and_count(*list_filters(page, sort, order, search))
        return paginated(to_dtos(items, Site), total, page)

    @post("/", operation_id="createSite", summary="Create a site", guards=[requires_admin])
    async def create_site(
        self, sites: SiteService, db_session: AsyncSession, data: SiteCreate, request: Request
    ) -> Site:
        site = await sites.create(data)
        audit.record(db_session, request.user, "create", "site", site.id, name=site.name)
        return to_dto(site, Site)

    @get("/{site_id:uuid}", operation_id="getSite", summary="Get a site")
    async def get_site(self, sites: SiteService, site_id: uuid.UUID) -> Site:
        return to_dto(await sites.get_or_404(site_id), Site)

    @get(
        "/{site_id:uuid}/floor-plan",
        operation_id="getSiteFloorPlan",
        summary="The site's floor plan (SVG and/or JSON)",
    )
    async def get_floor_plan(self, sites: SiteService, site_id: uuid.UUID) -> FloorPlan:
        site = await sites.get_or_404(site_id)
        return FloorPlan(site_id=site.id, svg=site.floor_plan_svg, floor_plan=site.floor_plan)

    @patch("/{site_id:uuid}", operation_id="updateSite", summary="Change a site", guards=[requires_admin])
    async def update_site(
        self,
        sites: SiteService,
        db_session: AsyncSession,
        site_id: uuid.UUID,
        data: SiteUpdate,
        request: Request,
    ) -> Site:
        changes = set_fields(data)
        site = apply(await sites.get_or_404(site_id), changes)
        await db_session.flush()
        audit.record(db_session, request.user, "update", "site", site_id, fields=sorted(changes))
        return to_dto(site, Site)

    @delete(
        "/{site_id:uuid}",
        operation_id="deleteSite",
        summary="Delete a site and everything on it",
        guards=[requires_admin],
    )
    async def delete_site(
        self, sites: SiteService, db_session: AsyncSession, site_id: uuid.UUID, request: Request
    ) -> None:
        site = await sites.get_or_404(site_id)
        await sites.delete(site.id)
        audit.record(db_session, request.user, "delete", "site", site_id, name=site.name)
