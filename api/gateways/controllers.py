"""Gateways: the fixed receivers of a site, their placement, path-loss overrides and status."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Literal

from advanced_alchemy.extensions.litestar.providers import create_service_provider
from advanced_alchemy.filters import CollectionFilter, LimitOffset, SearchFilter
from litestar import Controller, Request, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from api import audit
from api.gateways.schemas import Gateway, GatewayCreate, GatewayStatus, GatewayUpdate
from api.gateways.services import GatewayService, check_position
from api.pagination import OffsetPagination, Order, list_filters, paginated
from api.resources import ApiResources
from api.schemas import apply, set_fields, to_dto, to_dtos
from api.security import requires_admin
from core.db.enums import GatewayStatus as GatewayState

GatewaySort = Literal["gateway_id", "name", "last_seen", "created_at"]


class GatewayController(Controller):
    path = "/api/v1/gateways"
    tags = ["gateways"]
    dependencies = {"gateways": create_service_provider(GatewayService)}

    @get("/", operation_id="listGateways", summary="List gateways")
    async def list_gateways(
        self,
        gateways: GatewayService,
        page: LimitOffset,
        site_id: uuid.UUID | None = None,
        status: GatewayState | None = None,
        floor: Annotated[int | None, Parameter(ge=-100, le=1000)] = None,
        q: Annotated[str | None, Parameter(max_length=200, description="name or gateway id contains")] = None,
        sort: GatewaySort = "gateway_id",
        order: Order = "asc",
    ) -> OffsetPagination[Gateway]:
        filters = list_filters(
            page,
            sort,
            order,
            CollectionFilter("site_id", [site_id]) if site_id else None,
            CollectionFilter("status", [status.value]) if status else None,
            CollectionFilter("floor", [floor]) if floor is not None else None,
            SearchFilter(field_name={"name", "gateway_id"}, value=q, ignore_case=True) if q else None,
        )
        items, total = await gateways.list_and_count(*filters)
        return paginated(to_dtos(items, Gateway), total, page)

    @post("/", operation_id="createGateway", summary="Place a gateway", guards=[requires_admin])
    async def create_gateway(
        self, gateways: GatewayService, db_session: AsyncSession, data: GatewayCreate, request: Request
    ) -> Gateway:
        check_position(data)
        gateway = await gateways.create(data)
        audit.record(db_session, request.user, "create", "gateway", gateway.id, gateway_id=gateway.gateway_id)
        return to_dto(gateway, Gateway)

    @get("/{id:uuid}", operation_id="getGateway", summary="Get a gateway")
    async def get_gateway(self, gateways: GatewayService, id: uuid.UUID) -> Gateway:
        return to_dto(await gateways.get_or_404(id), Gateway)

    @get(
        "/{id:uuid}/status", operation_id="getGatewayStatus", summary="Status, last seen and observation rate"
    )
    async def get_gateway_status(
        self, gateways: GatewayService, id: uuid.UUID, state: State
    ) -> GatewayStatus:
        gateway = await gateways.get_or_404(id)
        resources: ApiResources = state.resources
        rate = await resources.observation_rates.rate(gateway.gateway_id)
        since = None
        if gateway.last_seen is not None:
            since = (datetime.datetime.now(datetime.UTC) - gateway.last_seen).total_seconds()
        return GatewayStatus(
            id=gateway.id,
            gateway_id=gateway.gateway_id,
            status=gateway.status,
            last_seen=gateway.last_seen,
            seconds_since_seen=since,
            observation_rate_per_s=None if rate is None else round(rate.per_s, 4),
            observation_rate_from=None if rate is None else rate.start,
            observation_rate_to=None if rate is None else rate.end,
        )

    @patch(
        "/{id:uuid}",
        operation_id="updateGateway",
        summary="Move or re-tune a gateway",
        guards=[requires_admin],
    )
    async def update_gateway(
        self,
        gateways: GatewayService,
        db_session: AsyncSession,
        id: uuid.UUID,
        data: GatewayUpdate,
        request: Request,
    ) -> Gateway:
        changes = set_fields(data)
        gateway = apply(await gateways.get_or_404(id), changes)
        check_position(gateway)
        await db_session.flush()
        audit.record(db_session, request.user, "update", "gateway", id, fields=sorted(changes))
        return to_dto(gateway, Gateway)

    @delete("/{id:uuid}", operation_id="deleteGateway", summary="Remove a gateway", guards=[requires_admin])
    async def delete_gateway(
        self, gateways: GatewayService, db_session: AsyncSession, id: uuid.UUID, request: Request
    ) -> None:
        gateway = await gateways.get_or_404(id)
        await gateways.delete(gateway.id)
        audit.record(db_session, request.user, "delete", "gateway", id, gateway_id=gateway.gateway_id)
