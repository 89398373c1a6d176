"""Pure rule evaluation: from zone events (as they happen) or from a snapshot of the world (on each tick) to
`Condition`s — "this rule holds for this subject" or "this rule no longer holds for it".

Two families, because they fail differently:
- zone-event rules (enter, exit, restricted zone, left site) are **edge-triggered**: an enter opens, the matching
  exit clears (and vice versa for exit rules). Replays are kept out upstream: only newly stored events get here.
- every other rule is **level-triggered**: each tick returns the complete set of subjects for which the condition
  holds now; an open alert whose subject is no longer in that set has cleared (asset heard again, battery replaced,
  maintenance done). Nothing is remembered here, so a restart loses nothing.

A rule whose schedule is inactive neither raises nor clears anything (an after-hours theft alert must not
resolve itself at 06:00).
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.alerts.rules import PERIODIC_KINDS, Rule, RuleKind
from core.alerts.schedule import zone_info
from core.geofence.membership import EVIDENCE
from core.geofence.zones import RESTRICTED, SITE_BOUNDARY

UTC = datetime.UTC


@dataclass(frozen=True, slots=True)
class Condition:
    """One rule about one subject. `active` False = known to have cleared. `repeat` = a new occurrence of an
    event (counts on an open alert) rather than a continuing state."""

    rule: Rule
    subject_type: str
    subject_id: str
    subject_key: str
    active: bool
    at: datetime.datetime
    message: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    asset_id: str | None = None
    site_id: str | None = None
    repeat: bool = False


@dataclass(frozen=True, slots=True)
class ZoneInfo:
    id: str
    name: str
    kind: str
    site_id: str


@dataclass(frozen=True, slots=True)
class ZoneEventIn:
    """A stored zone enter/exit (only events that were new to the database)."""

    tag_id: str
    asset_id: str | None
    zone_id: str
    kind: str  # enter | exit
    ts: datetime.datetime
    site_id: str | None = None
    dwell_s: float | None = None
    # why the membership decided it, and on what evidence (`core.geofence.ZoneTransition`; None: not known)
    reason: str | None = None
    depth_m: float | None = None
    accuracy_m: float | None = None
    margin_m: float | None = None


@dataclass(frozen=True, slots=True)
class AssetSnapshot:
    id: str
    name: str
    site_id: str | None
    category: str | None = None
    tag_id: str | None = None
    status: str = "active"
    created_at: datetime.datetime | None = None
    last_seen: datetime.datetime | None = None
    battery_pct: float | None = None
    x: float | None = None
    y: float | None = None
    zone_entered_at: Mapping[str, datetime.datetime] = field(default_factory=dict)  # zones it is in now
    last_moved_at: datetime.datetime | None = None
    # Position at the start of the current after-hours window, per movement rule id (filled by the loader).
    anchor_xy: Mapping[str, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GatewaySnapshot:
    gateway_id: str
    site_id: str | None
    name: str | None = None
    last_seen: datetime.datetime | None = None
    created_at: datetime.datetime | None = None


@dataclass(frozen=True, slots=True)
class MaintenanceDue:
    schedule_id: str
    name: str
    asset_id: str
    next_due_at: datetime.datetime


@dataclass(slots=True)
class World:
    """What the ticker knows at `now`."""

    now: datetime.datetime
    assets: Sequence[AssetSnapshot] = ()
    gateways: Sequence[GatewaySnapshot] = ()
    maintenance: Sequence[MaintenanceDue] = ()
    zones: Mapping[str, ZoneInfo] = field(default_factory=dict)
    site_timezones: Mapping[str, str] = field(default_factory=dict)


def _subject(asset_id: str | None, tag_id: str) -> tuple[str, str]:
    return ("asset", asset_id) if asset_id else ("tag", tag_id)


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _active_now(
    rule: Rule, site_id: str | None, now: datetime.datetime, timezones: Mapping[str, str]
) -> bool:
    if rule.schedule is None:
        return True
    return rule.schedule.is_active(now, zone_info(timezones.get(site_id or "", "UTC")))


def _asset_in_scope(rule: Rule, asset: AssetSnapshot) -> bool:
    if rule.site_id is not None and rule.site_id != asset.site_id:
        return False
    if rule.asset_id is not None and rule.asset_id != asset.id:
        return False
    if rule.category is not None and rule.category != asset.category:
        return False
    if rule.geofence_id is not None and rule.kind is not RuleKind.DWELL_EXCEEDED:
        return rule.geofence_id in asset.zone_entered_at  # "... while in this zone"
    return True


# ------------------------------------------------------------------------------------------ zone events
def _zone_rule_applies(rule: Rule, zone: ZoneInfo) -> bool:
    if rule.site_id is not None and rule.site_id != zone.site_id:
        return False
    if rule.geofence_id is not None:
        return rule.geofence_id == zone.id
    if rule.kind is RuleKind.RESTRICTED_ZONE:
        return zone.kind == RESTRICTED
    if rule.kind is RuleKind.LEFT_SITE:
        return zone.kind == SITE_BOUNDARY
    return True


def evaluate_zone_events(
    rules: Iterable[Rule],
    events: Iterable[ZoneEventIn],
    zones: Mapping[str, ZoneInfo],
    assets: Mapping[str, AssetSnapshot] | None = None,
    site_timezones: Mapping[str, str] | None = None,
) -> list[Condition]:
    """Conditions raised or cleared by zone transitions, in event order."""
    assets = assets or {}
    timezones = site_timezones or {}
    zone_rules = [rule for rule in rules if rule.kind not in PERIODIC_KINDS]
    out: list[Condition] = []
    for event in sorted(events, key=lambda e: e.ts):
        zone = zones.get(event.zone_id)
        if zone is None:
            continue
        asset = assets.get(event.asset_id) if event.asset_id else None
        who = asset.name if asset else event.tag_id
        subject_type, subject_id = _subject(event.asset_id, event.tag_id)
        for rule in zone_rules:
            if not _zone_rule_applies(rule, zone):
                continue
            if rule.asset_id is not None and rule.asset_id != event.asset_id:
                continue
            if rule.category is not None and (asset is None or asset.category != rule.category):
                continue
            raises_on = "exit" if rule.kind in (RuleKind.GEOFENCE_EXIT, RuleKind.LEFT_SITE) else "enter"
            active = event.kind == raises_on
            if active and not _active_now(rule, zone.site_id, event.ts, timezones):
                continue
            key = f"{subject_type}:{subject_id}@zone:{zone.id}"
            if rule.kind is RuleKind.LEFT_SITE:
                message = f"{who} left the site boundary {zone.name!r}"
            elif rule.kind is RuleKind.RESTRICTED_ZONE:
                message = f"{who} entered restricted zone {zone.name!r}"
            else:
                message = f"{who} {'entered' if event.kind == 'enter' else 'left'} {zone.name!r}"
            details: dict[str, Any] = {
                "zone_id": zone.id,
                "zone_name": zone.name,
                "tag_id": event.tag_id,
                "event": event.kind,
            }
            if event.dwell_s is not None:
                details["dwell_s"] = round(event.dwell_s, 1)
            if event.reason is not None:  # so whoever is alerted can judge the evidence
                details.update((name, getattr(event, name)) for name in EVIDENCE)
            out.append(
                Condition(
                    rule,
                    subject_type,
                    subject_id,
                    key,
                    active,
                    event.ts,
                    message,
                    details,
                    event.asset_id,
                    zone.site_id,
                    repeat=active,
                )
            )
    return out


# ------------------------------------------------------------------------------------------ periodic
@dataclass(frozen=True, slots=True)
class PeriodicOutcome:
    """Every subject a level-triggered rule holds for now, and the sites ("" = no site) where the rule is outside
    its schedule: alerts there are neither raised nor resolved."""

    conditions: list[Condition]
    paused_sites: frozenset[str] = frozenset()


def evaluate_periodic(rule: Rule, world: World) -> PeriodicOutcome:
    """Every subject for which a level-triggered rule holds at `world.now` (active conditions only)."""
    now = world.now
    tz = world.site_timezones
    out: list[Condition] = []
    kind = rule.kind
    paused: frozenset[str] = frozenset()
    if rule.schedule is not None:
        sites = {*tz, ""}
        paused = frozenset(site for site in sites if not _active_now(rule, site or None, now, tz))

    def asset_condition(asset: AssetSnapshot, message: str, key: str | None = None, **details: Any) -> None:
        subject_key = key or f"asset:{asset.id}"
        out.append(
            Condition(
                rule, "asset", asset.id, subject_key, True, now, message, details, asset.id, asset.site_id
            )
        )

    if kind is RuleKind.GATEWAY_OFFLINE:
        limit = rule.param("offline_after_s")
        for gateway in world.gateways:
            if rule.site_id is not None and rule.site_id != gateway.site_id:
                continue
            if (gateway.site_id or "") in paused:
                continue
            since = gateway.last_seen or gateway.created_at
            if since is None or (now - since).total_seconds() < limit:
                continue
            silent = (now - since).total_seconds()
            label = gateway.name or gateway.gateway_id
            out.append(
                Condition(
                    rule,
                    "gateway",
                    gateway.gateway_id,
                    f"gateway:{gateway.gateway_id}",
                    True,
                    now,
                    f"gateway {label} silent for {_duration(silent)}",
                    {
                        "last_seen": gateway.last_seen.isoformat() if gateway.last_seen else None,
                        "silent_s": round(silent),
                    },
                    None,
                    gateway.site_id,
                )
            )
        return PeriodicOutcome(out, paused)

    maintenance_by_asset: dict[str, list[MaintenanceDue]] = {}
    for item in world.maintenance:
        maintenance_by_asset.setdefault(item.asset_id, []).append(item)

    for asset in world.assets:
        if not _asset_in_scope(rule, asset):
            continue
        if (asset.site_id or "") in paused:
            continue
        if kind is RuleKind.ASSET_MISSING:
            if asset.tag_id is None or asset.status != "active":
                continue
            since = asset.last_seen or asset.created_at
            if since is not None and (now - since).total_seconds() >= rule.param("missing_after_s"):
                gone = (now - since).total_seconds()
                asset_condition(
                    asset,
                    f"{asset.name} not heard for {_duration(gone)}",
                    missing_s=round(gone),
                    last_seen=asset.last_seen.isoformat() if asset.last_seen else None,
                )
        elif kind in (RuleKind.BATTERY_LOW, RuleKind.BATTERY_CRITICAL):
            if asset.battery_pct is not None and asset.battery_pct <= rule.param("threshold_pct"):
                level = "critical" if kind is RuleKind.BATTERY_CRITICAL else "low"
                asset_condition(
                    asset,
                    f"{asset.name} battery {level}: {asset.battery_pct:.0f} %",
                    battery_pct=asset.battery_pct,
                    threshold_pct=rule.param("threshold_pct"),
                )
        elif kind is RuleKind.DWELL_EXCEEDED:
            for zone_id, entered in asset.zone_entered_at.items():
                if rule.geofence_id is not None and zone_id != rule.geofence_id:
                    continue
                stayed = (now - entered).total_seconds()
                if stayed > rule.param("max_dwell_s"):
                    zone = world.zones.get(zone_id)
                    name = zone.name if zone else zone_id
                    asset_condition(
                        asset,
                        f"{asset.name} in {name!r} for {_duration(stayed)}",
                        key=f"asset:{asset.id}@zone:{zone_id}",
                        zone_id=zone_id,
                        dwell_s=round(stayed),
                        max_dwell_s=rule.param("max_dwell_s"),
                    )
        elif kind is RuleKind.MOVEMENT_AFTER_HOURS:
            anchor = asset.anchor_xy.get(rule.id)
            if anchor is None or asset.x is None or asset.y is None:
                continue
            moved = math.hypot(asset.x - anchor[0], asset.y - anchor[1])
            if moved > rule.param("min_distance_m"):
                asset_condition(
                    asset,
                    f"{asset.name} moved {moved:.0f} m after hours",
                    moved_m=round(moved, 1),
                    min_distance_m=rule.param("min_distance_m"),
                )
        elif kind is RuleKind.UNDERUTILISED:
            since = asset.last_moved_at or asset.created_at
            idle_s = rule.param("idle_days") * 86400.0
            if since is not None and (now - since).total_seconds() >= idle_s:
                idle = (now - since).total_seconds()
                asset_condition(
                    asset,
                    f"{asset.name} has not moved for {_duration(idle)}",
                    idle_days=round(idle / 86400.0, 1),
                )
        elif kind in (RuleKind.MAINTENANCE_DUE, RuleKind.MAINTENANCE_OVERDUE):
            for item in maintenance_by_asset.get(asset.id, []):
                key = f"asset:{asset.id}@maintenance:{item.schedule_id}"
                due = item.next_due_at
                if kind is RuleKind.MAINTENANCE_OVERDUE:
                    late = (now - due).total_seconds() - rule.param("grace_days") * 86400.0
                    if late > 0:
                        asset_condition(
                            asset,
                            f"{asset.name}: {item.name!r} overdue since {due:%Y-%m-%d}",
                            key=key,
                            schedule_id=item.schedule_id,
                            next_due_at=due.isoformat(),
                        )
                else:
                    ahead = (due - now).total_seconds()
                    if 0 <= ahead <= rule.param("due_within_days") * 86400.0:
                        asset_condition(
                            asset,
                            f"{asset.name}: {item.name!r} due {due:%Y-%m-%d}",
                            key=key,
                            schedule_id=item.schedule_id,
                            next_due_at=due.isoformat(),
                        )
    return PeriodicOutcome(out, paused)


def movement_window_start(
    rule: Rule, site_timezone: str | None, now: datetime.datetime
) -> datetime.datetime | None:
    """For a movement-after-hours rule: when the current after-hours window began (None = not after hours).
    The loader fetches each asset's position at that moment as its anchor."""
    if rule.schedule is None:
        return None
    return rule.schedule.window_start(now, zone_info(site_timezone))
