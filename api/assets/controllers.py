"""Assets: CRUD and search, plus where an asset is now, where it has been, its zone events and alerts."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Literal

from advanced_alchemy.extensions.litestar.providers import create_service_provider
from advanced_alchemy.filters import BeforeAfter, CollectionFilter, LimitOffset, SearchFilter
from litestar import Controller, Request, delete, get, patch, post
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter
from litestar.response.base import ASGIResponse
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api import audit
from api.alerts.controllers import AlertSort
from api.alerts.schemas import Alert
from api.alerts.services import AlertService
from api.assets.schemas import Asset, AssetCreate, AssetUpdate
from api.assets.services import AssetService
from api.errors import NotFound, Unprocessable
from api.locations.schemas import LocationFix, LocationHistory, ZoneEvent
from api.locations.services import downsample, parse_every, stored_current_fix, utc
from api.pagination import OffsetPagination, Order, list_filters, paginated
from api.resources import ApiResources
from api.schemas import apply, set_fields, to_dto, to_dtos, utc_or_none
from api.security import requires_operator
from core.db.enums import AlertStatus, AssetStatus
from core.db.models import LocationHistory as HistoryRow
from core.db.models import ZoneEvent as ZoneEventRow
from core.db.models import normalise_tag_id

AssetSort = Literal["name", "category", "status", "last_seen", "created_at", "updated_at"]
MAX_HISTORY_ROWS = 200_000
JSON = "application/json"


class AssetController(Controller):
    path = "/api/v1/assets"
    tags = ["assets"]
    dependencies = {
        "assets": create_service_provider(AssetService),
        "alerts": create_service_provider(AlertService),
    }

    @get("/", operation_id="listAssets", summary="List and search assets")
    async def list_assets(
        self,
        assets: AssetService,
        page: LimitOffset,
        q: Annotated[str | None, Parameter(max_length=200, description="name or tag id contains")] = None,
        site_id: uuid.UUID | None = None,
        category: Annotated[str | None, Parameter(max_length=100)] = None,
        status: AssetStatus | None = None,
        tag_id: Annotated[
            str | None, Parameter(max_length=100, description="exact tag id, any separators")
        ] = None,
        sort: AssetSort = "name",
        order: Order = "asc",
    ) -> OffsetPagination[Asset]:
        if tag_id is not None:
            try:
                tag_id = normalise_tag_id(tag_id)
            except ValueError as exc:
                raise Unprocessable(str(exc), field="tag_id") from None
        filters = list_filters(
            page,
            sort,
            order,
            SearchFilter(field_name={"name", "tag_id"}, value=q, ignore_case=True) if q else None,
            CollectionFilter("site_id", [site_id]) if site_id else None,
            CollectionFilter("category", [category]) if category else None,
            CollectionFilter("status", [status.value]) if status else None,
            CollectionFilter("tag_id", [tag_id]) if tag_id else None,
        )
        items, total = await assets.list_and_count(*filters)
        return paginated(to_dtos(items, Asset), total, page)

    @post("/", operation_id="createAsset", summary="Register an asset", guards=[requires_operator])
    async def create_asset(
        self, assets: AssetService, db_session: AsyncSession, data: AssetCreate, request: Request
    ) -> Asset:
        asset = await assets.create({**set_fields(data), "status": data.status.value})
        audit.record(
            db_session, request.user, "create", "asset", asset.id, name=asset.name, tag_id=asset.tag_id
        )
        return to_dto(asset, Asset)

    @get("/{id:uuid}", operation_id="getAsset", summary="Get an asset")
    async def get_asset(self, assets: AssetService, id: uuid.UUID) -> Asset:
        return to_dto(await assets.get_or_404(id), Asset)

    @patch(
        "/{id:uuid}",
        operation_id="updateAsset",
        summary="Change an asset (re-tag, move, retire)",
        guards=[requires_operator],
    )
    async def update_asset(
        self,
        assets: AssetService,
        db_session: AsyncSession,
        id: uuid.UUID,
        data: AssetUpdate,
        request: Request,
        state: State,
    ) -> Asset:
        changes = set_fields(data)
        if "status" in changes:
            changes["status"] = changes["status"].value
        asset = apply(await assets.get_or_404(id), changes)
        await db_session.flush()
        state.resources.tags.forget(id)
        audit.record(db_session, request.user, "update", "asset", id, fields=sorted(changes))
        return to_dto(asset, Asset)

    @delete("/{id:uuid}", operation_id="deleteAsset", summary="Delete an asset", guards=[requires_operator])
    async def delete_asset(
        self, assets: AssetService, db_session: AsyncSession, id: uuid.UUID, request: Request, state: State
    ) -> None:
        asset = await assets.get_or_404(id)
        await assets.delete(asset.id)
        state.resources.tags.forget(id)
        audit.record(db_session, request.user, "delete", "asset", id, name=asset.name)

    @get(
        "/{id:uuid}/location",
        operation_id="getAssetLocation",
        summary="Where the asset is now",
        description="The latest fix from the live store (Redis), falling back to PostgreSQL.",
        responses={200: ResponseSpec(LocationFix, description="The latest fix")},
    )
    async def get_asset_location(self, id: uuid.UUID, request: Request) -> ASGIResponse:
        # The API's hot path: no ORM session, no `state` injection (Litestar copies it), bytes passed through.
        resources: ApiResources = request.app.state.resources
        tag_id = await resources.tags.tag_of(id)
        if tag_id is None:
            raise NotFound(f"asset {id} has no tag, so it has no location")
        body = await resources.live.get(resources.live.keys.current_location(tag_id))
        if body is None:
            body = await stored_current_fix(resources.sessions, tag_id)
        if body is None:
            raise NotFound(f"asset {id} (tag {tag_id}) has not been located yet")
        # The pre-encoded fix, passed through as a bare ASGI response: a `Response` would be converted into one
        # on every request (the schema comes from `responses=`).
        return ASGIResponse(body=body, media_type=JSON)

    @get(
        "/{id:uuid}/history", operation_id="getAssetHistory", summary="Where the asset has been, downsampled"
    )
    async def get_asset_history(
        self,
        assets: AssetService,
        db_session: AsyncSession,
        id: uuid.UUID,
        start: Annotated[
            datetime.datetime | None, Parameter(query="from", description="default: 24 h before `to`")
        ] = None,
        end: Annotated[datetime.datetime | None, Parameter(query="to", description="default: now")] = None,
        every: Annotated[
            str | None, Parameter(max_length=20, description="one point per interval: 30s, 5m, 1h")
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=10_000, description="at most this many points")] = 1000,
    ) -> LocationHistory:
        asset = await assets.get_or_404(id)
        end = utc(end) if end else datetime.datetime.now(datetime.UTC)
        start = utc(start) if start else end - datetime.timedelta(hours=24)
        if start >= end:
            raise Unprocessable("from: must be before to", field="from")
        every_s = parse_every(every) if every else None
        query = (
            select(HistoryRow)
            .where(HistoryRow.asset_id == id, HistoryRow.ts >= start, HistoryRow.ts < end)
            .order_by(HistoryRow.ts)
            .limit(MAX_HISTORY_ROWS)
        )
        rows = (await db_session.execute(query)).scalars().all()
        points = downsample(rows, every_s)
        truncated = len(points) > limit or len(rows) == MAX_HISTORY_ROWS
        return LocationHistory(
            asset_id=id,
            tag_id=asset.tag_id,
            start=start,
            end=end,
            every_s=every_s,
            count=min(len(points), limit),
            truncated=truncated,
            points=points[:limit],
        )

    @get(
        "/{id:uuid}/zone-events",
        operation_id="listAssetZoneEvents",
        summary="Zones the asset entered and left",
    )
    async def list_asset_zone_events(
        self,
        assets: AssetService,
        db_session: AsyncSession,
        id: uuid.UUID,
        page: LimitOffset,
        start: Annotated[datetime.datetime | None, Parameter(query="from")] = None,
        end: Annotated[datetime.datetime | None, Parameter(query="to")] = None,
        geofence_id: uuid.UUID | None = None,
        order: Order = "desc",
    ) -> OffsetPagination[ZoneEvent]:
        await assets.get_or_404(id)
        query = select(ZoneEventRow).where(ZoneEventRow.asset_id == id)
        if start:
            query = query.where(ZoneEventRow.ts >= utc(start))
        if end:
            query = query.where(ZoneEventRow.ts < utc(end))
        if geofence_id:
            query = query.where(ZoneEventRow.geofence_id == geofence_id)
        total = (await db_session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
        ordering = ZoneEventRow.ts.desc() if order == "desc" else ZoneEventRow.ts.asc()
        rows = (
            await db_session.execute(
                query.order_by(ordering, ZoneEventRow.id).limit(page.limit).offset(page.offset)
            )
        ).scalars()
        return paginated(to_dtos(rows, ZoneEvent), total, page)

    @get("/{id:uuid}/alerts", operation_id="listAssetAlerts", summary="The asset's alerts")
    async def list_asset_alerts(
        self,
        assets: AssetService,
        alerts: AlertService,
        id: uuid.UUID,
        page: LimitOffset,
        status: Annotated[list[AlertStatus] | None, Parameter(description="repeat for several")] = None,
        opened_after: datetime.datetime | None = None,
        sort: AlertSort = "opened_at",
        order: Order = "desc",
    ) -> OffsetPagination[Alert]:
        await assets.get_or_404(id)
        filters = list_filters(
            page,
            sort,
            order,
            CollectionFilter("asset_id", [id]),
            CollectionFilter("status", [s.value for s in status]) if status else None,
            BeforeAfter("opened_at", before=None, after=utc_or_none(opened_after)) if opened_after else None,
        )
        items, total = await alerts.list_and_count(*filters)
        return paginated(to_dtos(items, Alert), total, page)
