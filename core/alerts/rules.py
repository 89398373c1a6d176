"""Alert rules: the kinds the engine knows, their parameters (checked, with defaults), scope and schedule.

A rule row (`alert_rules`) becomes a `Rule` through `rule_from_record`; the API calls `validate_rule` on a
request body so a bad rule is refused with a message naming the field instead of failing later in the ticker.

Every kind also accepts `channels` (notification channel names or ids; default: every enabled channel) and
`escalation_channels` (default: the same channels).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.alerts.schedule import Schedule, ScheduleError

SEVERITIES = ("critical", "warning", "info")


class RuleKind(StrEnum):
    GEOFENCE_ENTER = "geofence_enter"
    GEOFENCE_EXIT = "geofence_exit"
    RESTRICTED_ZONE = "restricted_zone"
    DWELL_EXCEEDED = "dwell_exceeded"
    ASSET_MISSING = "asset_missing"
    BATTERY_LOW = "battery_low"
    BATTERY_CRITICAL = "battery_critical"
    GATEWAY_OFFLINE = "gateway_offline"
    MOVEMENT_AFTER_HOURS = "movement_after_hours"
    LEFT_SITE = "left_site"
    MAINTENANCE_DUE = "maintenance_due"
    MAINTENANCE_OVERDUE = "maintenance_overdue"
    UNDERUTILISED = "underutilised"


# Kinds decided from zone enter/exit events as they happen (edge-triggered); all others are re-evaluated by the
# ticker from the current state of the world (level-triggered).
ZONE_EVENT_KINDS = frozenset(
    {RuleKind.GEOFENCE_ENTER, RuleKind.GEOFENCE_EXIT, RuleKind.RESTRICTED_ZONE, RuleKind.LEFT_SITE}
)
PERIODIC_KINDS = frozenset(set(RuleKind) - ZONE_EVENT_KINDS)


@dataclass(frozen=True, slots=True)
class _Param:
    default: float | None  # None = required
    minimum: float = 0.0
    unit: str = ""


# Parameters per kind, with defaults and units (names carry the unit, like settings do).
PARAMS: dict[RuleKind, dict[str, _Param]] = {
    RuleKind.GEOFENCE_ENTER: {},
    RuleKind.GEOFENCE_EXIT: {},
    RuleKind.RESTRICTED_ZONE: {},
    RuleKind.LEFT_SITE: {},
    RuleKind.DWELL_EXCEEDED: {"max_dwell_s": _Param(None, 1.0, "seconds")},
    RuleKind.ASSET_MISSING: {"missing_after_s": _Param(3600.0, 1.0, "seconds")},
    RuleKind.BATTERY_LOW: {"threshold_pct": _Param(20.0, 0.0, "percent")},
    RuleKind.BATTERY_CRITICAL: {"threshold_pct": _Param(5.0, 0.0, "percent")},
    RuleKind.GATEWAY_OFFLINE: {"offline_after_s": _Param(300.0, 1.0, "seconds")},
    RuleKind.MOVEMENT_AFTER_HOURS: {"min_distance_m": _Param(10.0, 0.1, "metres")},
    RuleKind.MAINTENANCE_DUE: {"due_within_days": _Param(7.0, 0.0, "days")},
    RuleKind.MAINTENANCE_OVERDUE: {"grace_days": _Param(0.0, 0.0, "days")},
    RuleKind.UNDERUTILISED: {
        "idle_days": _Param(7.0, 0.01, "days"),
        "min_distance_m": _Param(5.0, 0.1, "metres"),
    },
}
_COMMON = {"channels", "escalation_channels"}


class RuleError(ValueError):
    """A rule definition is unusable; the message names the field."""


@dataclass(frozen=True, slots=True)
class Rule:
    """A validated rule. Scope: `site_id` None = every site; `geofence_id`, `asset_id`, `category` narrow it."""

    id: str
    name: str
    kind: RuleKind
    severity: str = "warning"
    site_id: str | None = None
    geofence_id: str | None = None
    asset_id: str | None = None
    category: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    schedule: Schedule | None = None
    auto_resolve: bool = True
    escalate_after_s: float | None = None

    def param(self, name: str) -> float:
        return float(self.params[name])

    @property
    def channels(self) -> list[str] | None:
        value = self.params.get("channels")
        return None if value is None else [str(v) for v in value]

    @property
    def escalation_channels(self) -> list[str] | None:
        value = self.params.get("escalation_channels")
        return self.channels if value is None else [str(v) for v in value]


def validate_params(kind: RuleKind, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Params with defaults filled in; raises RuleError naming the field."""
    params = dict(params or {})
    spec = PARAMS[kind]
    unknown = set(params) - set(spec) - _COMMON
    if unknown:
        allowed = sorted(set(spec) | _COMMON)
        raise RuleError(
            f"params: unknown field(s) {sorted(unknown)} for kind {kind.value!r}; allowed: {allowed}"
        )
    out: dict[str, Any] = {}
    for name, param in spec.items():
        value = params.get(name, param.default)
        if value is None:
            raise RuleError(f"params.{name}: required for kind {kind.value!r} ({param.unit})")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RuleError(f"params.{name}: expected a number of {param.unit}, got {value!r}")
        if not value >= param.minimum:
            raise RuleError(f"params.{name}: must be >= {param.minimum} {param.unit}, got {value}")
        out[name] = float(value)
    for name in _COMMON & set(params):
        value = params[name]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise RuleError(f"params.{name}: expected a list of channel names or ids")
        out[name] = list(value)
    return out


def parse_kind(kind: Any) -> RuleKind:
    try:
        return RuleKind(str(kind))
    except ValueError:
        raise RuleError(f"kind: unknown rule kind {kind!r}; one of {[k.value for k in RuleKind]}") from None


def validate_rule(
    kind: Any,
    params: Mapping[str, Any] | None = None,
    schedule: Mapping[str, Any] | None = None,
    severity: str = "warning",
    escalate_after_s: float | None = None,
) -> tuple[RuleKind, dict[str, Any], Schedule | None]:
    """Check a rule definition (for the API): the kind, normalised params, parsed schedule."""
    rule_kind = parse_kind(kind)
    if severity not in SEVERITIES:
        raise RuleError(f"severity: expected one of {list(SEVERITIES)}, got {severity!r}")
    if escalate_after_s is not None and not escalate_after_s > 0:
        raise RuleError(f"escalate_after_s: must be > 0 seconds, got {escalate_after_s}")
    checked = validate_params(rule_kind, params)
    try:
        parsed = Schedule.parse(schedule)
    except ScheduleError as exc:
        raise RuleError(str(exc)) from None
    if rule_kind is RuleKind.MOVEMENT_AFTER_HOURS and parsed is None:
        raise RuleError("schedule: required for movement_after_hours (it defines the after-hours window)")
    return rule_kind, checked, parsed


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def rule_from_record(record: Mapping[str, Any] | object) -> Rule:
    """A `Rule` from an `AlertRule` row or a mapping with the same fields."""

    def get(key: str, default: Any = None) -> Any:
        if isinstance(record, Mapping):
            return record.get(key, default)
        return getattr(record, key, default)

    name = str(get("name") or get("id") or "")
    try:
        kind, params, schedule = validate_rule(
            get("kind"), get("params"), get("schedule"), get("severity") or "warning", get("escalate_after_s")
        )
    except RuleError as exc:
        raise RuleError(f"rule {name!r}: {exc}") from None
    escalate = get("escalate_after_s")
    auto_resolve = get("auto_resolve")
    return Rule(
        id=str(get("id")),
        name=name,
        kind=kind,
        severity=get("severity") or "warning",
        site_id=_text(get("site_id")),
        geofence_id=_text(get("geofence_id")),
        asset_id=_text(get("asset_id")),
        category=get("category"),
        params=params,
        schedule=schedule,
        auto_resolve=True if auto_resolve is None else bool(auto_resolve),
        escalate_after_s=None if escalate is None else float(escalate),
    )
