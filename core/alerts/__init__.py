"""Alert rules, evaluated without I/O: what to watch for (`rules`), when (`schedule`), whether it holds
(`evaluate`), and what that means for the alert (`lifecycle`). Persistence and delivery live in
`realtime.alerting`."""

from core.alerts.evaluate import (
    AssetSnapshot,
    Condition,
    GatewaySnapshot,
    MaintenanceDue,
    PeriodicOutcome,
    World,
    ZoneEventIn,
    ZoneInfo,
    evaluate_periodic,
    evaluate_zone_events,
    movement_window_start,
)
from core.alerts.lifecycle import Action, Decision, OpenAlert, decide_event, escalations, reconcile
from core.alerts.rules import (
    PERIODIC_KINDS,
    ZONE_EVENT_KINDS,
    Rule,
    RuleError,
    RuleKind,
    rule_from_record,
    validate_rule,
)
from core.alerts.schedule import Schedule, ScheduleError

__all__ = [
    "PERIODIC_KINDS",
    "ZONE_EVENT_KINDS",
    "Action",
    "AssetSnapshot",
    "Condition",
    "Decision",
    "GatewaySnapshot",
    "MaintenanceDue",
    "OpenAlert",
    "PeriodicOutcome",
    "Rule",
    "RuleError",
    "RuleKind",
    "Schedule",
    "ScheduleError",
    "World",
    "ZoneEventIn",
    "ZoneInfo",
    "decide_event",
    "escalations",
    "evaluate_periodic",
    "evaluate_zone_events",
    "movement_window_start",
    "reconcile",
    "rule_from_record",
    "validate_rule",
]
