"""API keys (admins only) and the audit log of every change made through the API (admins only)."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated

import msgspec
from advanced_alchemy.extensions.litestar.providers import create_service_provider
from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, delete, get, post
from litestar.datastructures import State
from litestar.params import Parameter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api import audit
from api.keys.schemas import ApiKey, ApiKeyCreate, AuditEntry, IssuedApiKey
from api.keys.services import ApiKeyService, issue_key
from api.pagination import OffsetPagination, Order, list_filters, paginated
from api.schemas import to_dto, to_dtos, utc_or_none
from api.security import requires_admin
from core.db.models import ApiKey as ApiKeyRow
from core.db.models import AuditLogEntry


class ApiKeyController(Controller):
    path = "/api/v1/keys"
    tags = ["access"]
    guards = [requires_admin]
    dependencies = {"keys": create_service_provider(ApiKeyService)}

    @get("/", operation_id="listApiKeys", summary="List API keys (never their secrets)")
    async def list_keys(
        self, keys: ApiKeyService, page: LimitOffset, include_revoked: bool = False
    ) -> OffsetPagination[ApiKey]:
        extra = [] if include_revoked else [ApiKeyRow.revoked_at.is_(None)]
        items, total = await keys.list_and_count(*list_filters(page, "created_at", "desc"), *extra)
        return paginated(to_dtos(items, ApiKey), total, page)

    @post("/", operation_id="createApiKey", summary="Issue a key; the secret is shown only in this response")
    async def create_key(
        self, db_session: AsyncSession, data: ApiKeyCreate, request: Request
    ) -> IssuedApiKey:
        row, secret = await issue_key(db_session, data.name, data.role, data.expires_at)
        audit.record(db_session, request.user, "create", "api_key", row.id, name=row.name, role=row.role)
        return IssuedApiKey(**msgspec.structs.asdict(to_dto(row, ApiKey)), key=secret)

    @delete(
        "/{id:uuid}",
        operation_id="revokeApiKey",
        summary="Revoke a key (takes effect at once on this server)",
    )
    async def revoke_key(
        self, keys: ApiKeyService, db_session: AsyncSession, id: uuid.UUID, request: Request, state: State
    ) -> None:
        row = await keys.get_or_404(id)
        if row.revoked_at is None:
            row.revoked_at = datetime.datetime.now(datetime.UTC)
            await db_session.flush()
        state.key_store.forget(row.prefix)
        audit.record(db_session, request.user, "revoke", "api_key", id, name=row.name)


class AuditLogController(Controller):
    path = "/api/v1/audit-log"
    tags = ["access"]
    guards = [requires_admin]

    @get("/", operation_id="listAuditLog", summary="Who changed what, newest first")
    async def list_audit_log(
        self,
        db_session: AsyncSession,
        page: LimitOffset,
        entity: Annotated[str | None, Parameter(max_length=64)] = None,
        entity_id: Annotated[str | None, Parameter(max_length=64)] = None,
        actor: Annotated[str | None, Parameter(max_length=200)] = None,
        since: datetime.datetime | None = None,
        order: Order = "desc",
    ) -> OffsetPagination[AuditEntry]:
        query = select(AuditLogEntry)
        if entity:
            query = query.where(AuditLogEntry.entity == entity)
        if entity_id:
            query = query.where(AuditLogEntry.entity_id == entity_id)
        if actor:
            query = query.where(AuditLogEntry.actor == actor)
        if since:
            query = query.where(AuditLogEntry.ts >= utc_or_none(since))
        total = (await db_session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
        ordering = (AuditLogEntry.id.desc(),) if order == "desc" else (AuditLogEntry.id.asc(),)
        rows = await db_session.execute(query.order_by(*ordering).limit(page.limit).offset(page.offset))
        return paginated(to_dtos(rows.scalars(), AuditEntry), total, page)
