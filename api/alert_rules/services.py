"""Alert rules are checked by the rules engine's own validator (`core.alerts.validate_rule`) before they are
stored, so a rule the realtime path cannot evaluate never gets in."""

from __future__ import annotations

from advanced_alchemy.repository import SQLAlchemyAsyncRepository

from api.errors import Unprocessable
from api.services import EntityService
from core.alerts import RuleError, validate_rule
from core.db.models import AlertRule


class AlertRuleService(EntityService[AlertRule]):
    class Repository(SQLAlchemyAsyncRepository[AlertRule]):
        model_type = AlertRule

    repository_type = Repository
    entity = "alert rule"


def check_rule(rule: AlertRule) -> None:
    """Validate and normalise the rule's kind, params and schedule in place; 422 naming the field otherwise."""
    try:
        kind, params, _schedule = validate_rule(
            rule.kind,
            rule.params,
            rule.schedule,
            severity=rule.severity,
            escalate_after_s=rule.escalate_after_s,
        )
    except RuleError as exc:
        raise Unprocessable(str(exc), field=str(exc).split(":", 1)[0]) from None
    rule.kind = kind.value
    rule.params = params
