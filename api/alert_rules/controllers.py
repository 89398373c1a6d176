"""Alert rules: what to watch for, where and when (admins manage them, everyone with a key reads them)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from advanced_alchemy.extensions.litestar.providers import create_service_provider
from advanced_alchemy.filters import CollectionFilter, LimitOffset, SearchFilter
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from api import audit
from api.alert_rules.schemas import AlertRule, AlertRuleCreate, AlertRuleUpdate
from api.alert_rules.services import AlertRuleService, check_rule
from api.pagination import OffsetPagination, Order, list_filters, paginated
from api.schemas import apply, set_fields, to_dto, to_dtos
from api.security import requires_admin
from core.db.enums import Severity
from core.db.models import AlertRule as AlertRuleRow

RuleSort = Literal["name", "kind", "severity", "created_at", "updated_at"]


class AlertRuleController(Controller):
    path = "/api/v1/alert-rules"
    tags = ["alert rules"]
    dependencies = {"rules": create_service_provider(AlertRuleService)}

    @get("/", operation_id="listAlertRules", summary="List alert rules")
    async def list_alert_rules(
        self,
        rules: AlertRuleService,
        page: LimitOffset,
        site_id: uuid.UUID | None = None,
        kind: Annotated[str | None, Parameter(max_length=64)] = None,
        severity: Severity | None = None,
        enabled: bool | None = None,
        q: Annotated[str | None, Parameter(max_length=200)] = None,
        sort: RuleSort = "name",
        order: Order = "asc",
    ) -> OffsetPagination[AlertRule]:
        filters = list_filters(
            page,
            sort,
            order,
            CollectionFilter("site_id", [site_id]) if site_id else None,
            CollectionFilter("kind", [kind]) if kind else None,
            CollectionFilter("severity", [severity.value]) if severity else None,
            CollectionFilter("enabled", [enabled]) if enabled is not None else None,
            SearchFilter(field_name="name", value=q, ignore_case=True) if q else None,
        )
        items, total = await rules.list_and_count(*filters)
        return paginated(to_dtos(items, AlertRule), total, page)

    @post("/", operation_id="createAlertRule", summary="Create a rule", guards=[requires_admin])
    async def create_alert_rule(
        self, rules: AlertRuleService, db_session: AsyncSession, data: AlertRuleCreate, request: Request
    ) -> AlertRule:
        values = set_fields(data)
        values["severity"] = data.severity.value
        rule = AlertRuleRow(**values)
        check_rule(rule)
        rule = await rules.create(rule)
        audit.record(
            db_session, request.user, "create", "alert_rule", rule.id, name=rule.name, kind=rule.kind
        )
        return to_dto(rule, AlertRule)

    @get("/{id:uuid}", operation_id="getAlertRule", summary="Get a rule")
    async def get_alert_rule(self, rules: AlertRuleService, id: uuid.UUID) -> AlertRule:
        return to_dto(await rules.get_or_404(id), AlertRule)

    @patch("/{id:uuid}", operation_id="updateAlertRule", summary="Change a rule", guards=[requires_admin])
    async def update_alert_rule(
        self,
        rules: AlertRuleService,
        db_session: AsyncSession,
        id: uuid.UUID,
        data: AlertRuleUpdate,
        request: Request,
    ) -> AlertRule:
        changes = set_fields(data)
        if "severity" in changes:
            changes["severity"] = changes["severity"].value
        rule = apply(await rules.get_or_404(id), changes)
        check_rule(rule)
        await db_session.flush()
        audit.record(db_session, request.user, "update", "alert_rule", id, fields=sorted(changes))
        return to_dto(rule, AlertRule)

    @delete(
        "/{id:uuid}",
        operation_id="deleteAlertRule",
        summary="Delete a rule (its alerts stay as history)",
        guards=[requires_admin],
    )
    async def delete_alert_rule(
        self, rules: AlertRuleService, db_session: AsyncSession, id: uuid.UUID, request: Request
    ) -> None:
        rule = await rules.get_or_404(id)
        await rules.delete(rule.id)
        audit.record(db_session, request.user, "delete", "alert_rule", id, name=rule.name)
