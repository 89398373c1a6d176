"""Alert rules: every kind's condition, schedules in the site's time zone, scope, and lifecycle decisions."""

from __future__ import annotations

import datetime

import pytest

from core.alerts import (
    Action,
    AssetSnapshot,
    GatewaySnapshot,
    MaintenanceDue,
    OpenAlert,
    RuleError,
    RuleKind,
    Schedule,
    World,
    ZoneEventIn,
    ZoneInfo,
    decide_event,
    escalations,
    evaluate_periodic,
    evaluate_zone_events,
    movement_window_start,
    reconcile,
    rule_from_record,
    validate_rule,
)
from core.alerts.schedule import zone_info

pytestmark = pytest.mark.unit

UTC = datetime.UTC
NOW = datetime.datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday


def rule(kind: str, **fields: object):
    return rule_from_record({"id": f"r-{kind}", "name": kind, "kind": kind} | fields)


def asset(**fields: object) -> AssetSnapshot:
    values: dict[str, object] = {
        "id": "a1",
        "name": "Pump 1",
        "site_id": "s1",
        "tag_id": "AC01",
        "category": "pump",
    }
    values.update(fields)
    return AssetSnapshot(**values)  # type: ignore[arg-type]


def subjects(kind: str, world: World, **fields: object) -> list[str]:
    return [c.subject_key for c in evaluate_periodic(rule(kind, **fields), world).conditions]


def ago(**delta: float) -> datetime.datetime:
    return NOW - datetime.timedelta(**delta)


# ----------------------------------------------------------------------------------------- periodic rules
def test_asset_missing_after_the_configured_silence() -> None:
    world = World(
        NOW, assets=[asset(id="quiet", last_seen=ago(hours=2)), asset(id="fine", last_seen=ago(minutes=5))]
    )
    assert subjects("asset_missing", world, params={"missing_after_s": 3600}) == ["asset:quiet"]
    # untagged or retired assets cannot be "missing"
    world = World(
        NOW,
        assets=[asset(tag_id=None, last_seen=ago(days=9)), asset(status="retired", last_seen=ago(days=9))],
    )
    assert subjects("asset_missing", world) == []


def test_battery_low_and_critical_thresholds() -> None:
    world = World(
        NOW,
        assets=[
            asset(id="low", battery_pct=15.0),
            asset(id="dead", battery_pct=3.0),
            asset(id="ok", battery_pct=80.0),
        ],
    )
    assert subjects("battery_low", world) == ["asset:low", "asset:dead"]
    assert subjects("battery_critical", world) == ["asset:dead"]
    assert subjects("battery_low", world, params={"threshold_pct": 10}) == ["asset:dead"]


def test_gateway_offline_counts_from_last_seen_or_creation() -> None:
    world = World(
        NOW,
        gateways=[
            GatewaySnapshot("GW1", "s1", last_seen=ago(minutes=10)),
            GatewaySnapshot("GW2", "s1", last_seen=ago(seconds=30)),
            GatewaySnapshot("GW3", "s1", last_seen=None, created_at=ago(hours=1)),
            GatewaySnapshot("GW4", "s2", last_seen=ago(hours=1)),
        ],
    )
    assert subjects("gateway_offline", world, site_id="s1") == ["gateway:GW1", "gateway:GW3"]


def test_dwell_exceeded_per_zone() -> None:
    world = World(
        NOW,
        assets=[asset(zone_entered_at={"bay": ago(minutes=45), "dock": ago(minutes=5)})],
        zones={"bay": ZoneInfo("bay", "Bay", "work_area", "s1")},
    )
    assert subjects("dwell_exceeded", world, params={"max_dwell_s": 1800}) == ["asset:a1@zone:bay"]
    assert subjects("dwell_exceeded", world, params={"max_dwell_s": 1800}, geofence_id="dock") == []
    with pytest.raises(RuleError, match=r"params.max_dwell_s: required"):
        rule("dwell_exceeded")


def test_underutilised_when_not_moved_for_days() -> None:
    world = World(
        NOW,
        assets=[asset(id="idle", last_moved_at=ago(days=10)), asset(id="busy", last_moved_at=ago(days=1))],
    )
    assert subjects("underutilised", world, params={"idle_days": 7}) == ["asset:idle"]


def test_maintenance_due_and_overdue() -> None:
    world = World(
        NOW,
        assets=[asset()],
        maintenance=[
            MaintenanceDue("m-soon", "Service", "a1", NOW + datetime.timedelta(days=3)),
            MaintenanceDue("m-late", "Calibrate", "a1", ago(days=2)),
            MaintenanceDue("m-later", "Inspect", "a1", NOW + datetime.timedelta(days=30)),
        ],
    )
    assert subjects("maintenance_due", world) == ["asset:a1@maintenance:m-soon"]
    assert subjects("maintenance_overdue", world) == ["asset:a1@maintenance:m-late"]
    assert subjects("maintenance_overdue", world, params={"grace_days": 3}) == []


def test_movement_after_hours_uses_the_sites_timezone() -> None:
    night = {"days": [0, 1, 2, 3, 4], "start": "18:00", "end": "06:00"}
    theft = rule("movement_after_hours", schedule=night, params={"min_distance_m": 10})
    # 22:30 in Berlin on a Wednesday (21:30 UTC, winter time): after hours; the window began at 17:00 UTC.
    late = datetime.datetime(2026, 3, 4, 21, 30, tzinfo=UTC)
    assert movement_window_start(theft, "Europe/Berlin", late) == datetime.datetime(
        2026, 3, 4, 17, 0, tzinfo=UTC
    )
    assert movement_window_start(theft, "Europe/Berlin", NOW) is None  # 13:00 local: working hours
    moved = asset(x=30.0, y=0.0, anchor_xy={theft.id: (0.0, 0.0)})
    still = asset(id="a2", x=3.0, y=0.0, anchor_xy={theft.id: (0.0, 0.0)})
    world = World(late, assets=[moved, still], site_timezones={"s1": "Europe/Berlin"})
    assert [c.subject_key for c in evaluate_periodic(theft, world).conditions] == ["asset:a1"]
    # in working hours the rule is paused: nothing raised, and open alerts must not be resolved
    outcome = evaluate_periodic(theft, World(NOW, assets=[moved], site_timezones={"s1": "Europe/Berlin"}))
    assert outcome.conditions == [] and "s1" in outcome.paused_sites
    with pytest.raises(RuleError, match="schedule: required"):
        rule("movement_after_hours")


def test_schedule_wraps_midnight_and_belongs_to_its_start_day() -> None:
    schedule = Schedule.parse({"days": [4], "start": "18:00", "end": "06:00"})  # Friday nights
    assert schedule is not None
    utc = zone_info("UTC")
    friday_night = datetime.datetime(2026, 3, 6, 23, 0, tzinfo=UTC)
    saturday_early = datetime.datetime(2026, 3, 7, 5, 59, tzinfo=UTC)
    saturday_night = datetime.datetime(2026, 3, 7, 23, 0, tzinfo=UTC)
    assert schedule.is_active(friday_night, utc) and schedule.is_active(saturday_early, utc)
    assert not schedule.is_active(saturday_night, utc)
    assert not schedule.is_active(datetime.datetime(2026, 3, 7, 6, 0, tzinfo=UTC), utc)
    with pytest.raises(RuleError, match=r"schedule.start: expected 'HH:MM'"):
        validate_rule("battery_low", schedule={"start": "25:00", "end": "06:00"})
    with pytest.raises(RuleError, match=r"schedule.days: 7 is not a weekday"):
        validate_rule("battery_low", schedule={"days": [7]})


def test_scope_by_site_asset_and_category() -> None:
    world = World(
        NOW,
        assets=[
            asset(id="p1", battery_pct=5.0),
            asset(id="c1", category="cart", battery_pct=5.0),
            asset(id="x1", site_id="s2", category="drill", battery_pct=5.0),
        ],
    )
    assert subjects("battery_low", world, category="pump") == ["asset:p1"]
    assert subjects("battery_low", world, site_id="s2") == ["asset:x1"]
    assert subjects("battery_low", world, asset_id="c1") == ["asset:c1"]


def test_bad_rules_name_the_field() -> None:
    with pytest.raises(RuleError, match="kind: unknown rule kind 'fire'"):
        validate_rule("fire")
    with pytest.raises(RuleError, match=r"params.threshold_pct: expected a number"):
        validate_rule("battery_low", params={"threshold_pct": "low"})
    with pytest.raises(RuleError, match=r"params: unknown field\(s\) \['minutes'\]"):
        validate_rule("asset_missing", params={"minutes": 5})
    with pytest.raises(RuleError, match="severity: expected one of"):
        validate_rule("asset_missing", severity="urgent")


# ----------------------------------------------------------------------------------------- zone-event rules
ZONES = {
    "lab": ZoneInfo("lab", "Clean room", "restricted", "s1"),
    "bay": ZoneInfo("bay", "Bay 1", "work_area", "s1"),
    "site": ZoneInfo("site", "Yard fence", "site_boundary", "s1"),
}


def event(zone: str, kind: str, minute: int = 0) -> ZoneEventIn:
    return ZoneEventIn("AC01", "a1", zone, kind, NOW + datetime.timedelta(minutes=minute), "s1")


def test_zone_event_rules_raise_and_clear() -> None:
    rules = [rule(k) for k in ("geofence_enter", "geofence_exit", "restricted_zone", "left_site")]
    got = evaluate_zone_events(rules, [event("lab", "enter"), event("site", "exit", 1)], ZONES)
    raised = sorted((c.rule.kind.value, c.subject_key) for c in got if c.active)
    assert raised == [
        ("geofence_enter", "asset:a1@zone:lab"),
        ("geofence_exit", "asset:a1@zone:site"),
        ("left_site", "asset:a1@zone:site"),
        ("restricted_zone", "asset:a1@zone:lab"),
    ]
    # Coming back in clears left_site; leaving the lab clears the restricted-zone alert.
    cleared = evaluate_zone_events(rules, [event("site", "enter", 5), event("lab", "exit", 6)], ZONES)
    assert sorted(
        (c.rule.kind.value, c.active)
        for c in cleared
        if c.rule.kind in (RuleKind.LEFT_SITE, RuleKind.RESTRICTED_ZONE)
    ) == [
        ("left_site", False),
        ("restricted_zone", False),
    ]


def test_zone_rule_schedule_and_geofence_scope() -> None:
    night_only = rule("geofence_enter", geofence_id="bay", schedule={"start": "20:00", "end": "06:00"})
    assert evaluate_zone_events([night_only], [event("bay", "enter")], ZONES) == []  # noon: inactive
    late = ZoneEventIn("AC01", "a1", "bay", "enter", NOW.replace(hour=22), "s1")
    assert [c.subject_key for c in evaluate_zone_events([night_only], [late], ZONES)] == ["asset:a1@zone:bay"]
    assert evaluate_zone_events([night_only], [event("lab", "enter")], ZONES) == []


# ----------------------------------------------------------------------------------------- lifecycle
def test_event_repeat_updates_the_open_alert_instead_of_opening_another() -> None:
    enter = rule("restricted_zone")
    first, again = evaluate_zone_events([enter], [event("lab", "enter"), event("lab", "enter", 9)], ZONES)
    assert decide_event(first, None).action is Action.OPEN  # type: ignore[union-attr]
    existing = OpenAlert("al1", enter.id, first.subject_key, "open", NOW)
    assert decide_event(again, existing).action is Action.REPEAT  # type: ignore[union-attr]
    (clear,) = evaluate_zone_events([enter], [event("lab", "exit", 10)], ZONES)
    assert decide_event(clear, existing).action is Action.RESOLVE  # type: ignore[union-attr]
    manual = rule("restricted_zone", auto_resolve=False)
    (clear,) = evaluate_zone_events([manual], [event("lab", "exit", 10)], ZONES)
    assert decide_event(clear, existing) is None


def test_reconcile_opens_new_subjects_and_resolves_cleared_ones() -> None:
    low = rule("battery_low")
    world = World(NOW, assets=[asset(id="a", battery_pct=10.0), asset(id="b", battery_pct=90.0)])
    existing = {
        "asset:b": OpenAlert(
            "al-b", low.id, "asset:b", "acknowledged", ago(days=1), "s1"
        ),  # battery replaced
        "asset:a": OpenAlert("al-a", low.id, "asset:a", "open", ago(hours=1), "s1"),  # still low: untouched
    }
    decisions = reconcile(low, evaluate_periodic(low, world), existing)
    assert [(d.action, d.alert.id if d.alert else None) for d in decisions] == [(Action.RESOLVE, "al-b")]
    decisions = reconcile(low, evaluate_periodic(low, world), {})
    assert [(d.action, d.condition.subject_key) for d in decisions] == [(Action.OPEN, "asset:a")]  # type: ignore[union-attr]


def test_escalation_after_unacknowledged_time_only_once() -> None:
    urgent = rule("asset_missing", escalate_after_s=600)
    rules = {urgent.id: urgent}
    alerts = [
        OpenAlert("old", urgent.id, "asset:a", "open", ago(minutes=15)),
        OpenAlert("new", urgent.id, "asset:b", "open", ago(minutes=5)),
        OpenAlert("seen", urgent.id, "asset:c", "acknowledged", ago(minutes=30)),
        OpenAlert("done", urgent.id, "asset:d", "open", ago(minutes=30), escalated_at=ago(minutes=20)),
    ]
    assert [d.alert.id for d in escalations(rules, alerts, NOW)] == ["old"]  # type: ignore[union-attr]
