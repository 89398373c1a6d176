"""Zone membership with hysteresis: when a tag is *in* a zone, decided so that it does not flap.

Per (tag, zone) the only inputs are the signed distance of each fix to the zone boundary (+ inside) and the fix's
`accuracy_m`. The margin a fix must clear is tied to its accuracy (`margin_per_accuracy · accuracy_m`, kept within
[`min_margin_m`, `max_margin_m`]):

- **enter** when fixes are inside by more than the margin for `enter_confirm_s` (one outlier fix is not enough),
  or have been inside (at all) continuously for the zone's enter dwell time — a tag parked just inside a wall is
  admitted, but only after it stayed there;
- **exit** only when the fix is outside by more than the margin ("clearly outside"), continuously for the exit
  dwell time; a fix back inside restarts that clock, a fix in the grey band between neither restarts nor completes it;
- **rooms are exclusive** (with `overlaps`): a tag in room A switches to an adjacent, non-overlapping room B on
  clear evidence (inside B beyond the margin) and leaves A at that moment; lingering past the wall switches it
  after the enter dwell only if its fixes were on average deep enough inside B: `switch_depth_m` at the enter
  dwell, less the longer it stayed (a mean over more fixes is surer: the depth asked falls as 1/sqrt(time), down
  to `switch_min_depth_m`), or after `switch_dwell_s` continuously in B — a tag parked on the wall does not
  ping-pong between two rooms, and a tag parked just past it is moved there within a minute or so;
- **unknown** when the fix's accuracy is worse than `max_accuracy_m`: such a fix changes nothing (it neither
  confirms nor breaks membership) and the tag's membership is reported as unknown until a usable fix arrives.

Fixes older than the last one applied for the tag are ignored, so replaying a batch after a crash cannot emit a
transition twice once the state was saved. The state per tag is a small msgspec value (`TagZoneState`) stored
in Redis (or memory) between batches.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import msgspec

ENTER = "enter"
EXIT = "exit"


@dataclass(frozen=True, slots=True)
class MembershipConfig:
    """Tunable numbers of the hysteresis (units in the names). Zones may override the dwell times."""

    enter_dwell_s: float = 5.0
    enter_confirm_s: float = 0.5
    exit_dwell_s: float = 2.0
    switch_depth_m: float = 1.5
    switch_dwell_s: float = 300.0
    switch_min_depth_m: float = 0.3  # a lingering switch asks ever less depth (1/sqrt(time)), down to this
    margin_per_accuracy: float = 1.0
    min_margin_m: float = 0.5
    max_margin_m: float = 3.0
    reach_m: float = 3.0  # signed distances are computed (and clipped) within this distance of a boundary
    max_accuracy_m: float = 10.0

    def __post_init__(self) -> None:
        for name in (
            "enter_dwell_s",
            "enter_confirm_s",
            "exit_dwell_s",
            "switch_dwell_s",
            "switch_depth_m",
            "switch_min_depth_m",
            "margin_per_accuracy",
            "min_margin_m",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_margin_m < self.min_margin_m or self.max_margin_m <= 0:
            raise ValueError("max_margin_m must be > 0 and >= min_margin_m")
        if self.reach_m < self.max_margin_m:
            raise ValueError("reach_m must be >= max_margin_m (distances beyond the reach are not measured)")
        if self.max_accuracy_m <= 0:
            raise ValueError(f"max_accuracy_m must be > 0, got {self.max_accuracy_m}")

    def margin_m(self, accuracy_m: float) -> float:
        return min(max(self.margin_per_accuracy * accuracy_m, self.min_margin_m), self.max_margin_m)


class ZoneMembership(msgspec.Struct, array_like=True):
    """One zone of one tag: whether it is in, since when, and the start of a pending enter/exit (None = none)."""

    inside: bool
    since: float  # entered at (inside) / first seen inside (pending enter)
    pending: float | None = (
        None  # start of a clearly-outside run (inside) / clearly-inside run (not yet inside)
    )
    depth_sum: float = 0.0  # pending enter: sum of the signed distances (m) of the fixes since `since`
    fixes: int = 0  # ... and how many there were


class TagZoneState(msgspec.Struct, array_like=True):
    """All zones a tag is in or about to enter; zones it is plainly outside of are not stored."""

    ts: float = float("-inf")  # event time (epoch s) of the last fix applied
    zones: dict[str, ZoneMembership] = {}
    unknown_since: float | None = None

    def inside_zones(self) -> list[str]:
        return sorted(zone_id for zone_id, membership in self.zones.items() if membership.inside)


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(TagZoneState)


def encode_state(state: TagZoneState) -> bytes:
    return _encoder.encode(state)


def decode_state(data: bytes | None) -> TagZoneState:
    """A stored state, or a fresh one when there is none or it cannot be read (e.g. an older format)."""
    if not data:
        return TagZoneState()
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError:
        return TagZoneState()


@dataclass(frozen=True, slots=True)
class ZoneTransition:
    """A tag entered or left a zone at event time `ts`; on exit, `dwell_s` is how long it was inside."""

    tag_id: str
    zone_id: str
    kind: str  # ENTER or EXIT
    ts: float
    dwell_s: float | None = None


@dataclass(frozen=True, slots=True)
class ZoneDwell:
    """Per-zone dwell times in seconds (None = the config default)."""

    enter_dwell_s: float | None = None
    exit_dwell_s: float | None = None


def apply_fix(
    tag_id: str,
    state: TagZoneState,
    ts: float,
    accuracy_m: float,
    signed_m: Mapping[str, float],
    config: MembershipConfig,
    dwell: Mapping[str, ZoneDwell] | None = None,
    overlaps: Mapping[str, frozenset[str]] | None = None,
) -> tuple[TagZoneState, list[ZoneTransition]]:
    """Apply one fix to a tag's state. `signed_m` holds the signed distance to every zone the fix is inside of or
    near (zones not listed are taken as clearly outside). Returns the new state and the transitions it caused.

    `overlaps` (zone -> zones whose area intersects it) makes zones that do *not* overlap mutually exclusive —
    adjacent rooms: a tag in room A moves to room B only on clear evidence (inside B beyond the margin, not by
    lingering at the wall), and leaves A at that moment instead of being in both during A's exit dwell.
    Without it, every zone is judged on its own."""
    if ts <= state.ts:
        return state, []
    if not accuracy_m <= config.max_accuracy_m:  # also catches NaN
        unknown_since = state.unknown_since if state.unknown_since is not None else ts
        return TagZoneState(ts=ts, zones=state.zones, unknown_since=unknown_since), []

    if state.unknown_since is None and _steady(state.zones, signed_m):
        return TagZoneState(ts=ts, zones=state.zones), []  # the common case, kept cheap: nothing can change

    margin = config.margin_m(accuracy_m)
    dwell = dwell or {}
    inside_before = [zone_id for zone_id, m in state.zones.items() if m.inside]
    zones: dict[str, ZoneMembership] = {}
    transitions: list[ZoneTransition] = []
    entered: list[str] = []
    for zone_id in set(state.zones) | set(signed_m):
        d = signed_m.get(zone_id, float("-inf"))
        current = state.zones.get(zone_id)
        overrides = dwell.get(zone_id)
        if current is None or not current.inside:
            if d < 0:
                continue  # outside (clearly or not): nothing pending
            started = current.since if current is not None else ts
            clear_since = None
            if d >= margin:
                clear_since = current.pending if current is not None and current.pending is not None else ts
            enter_dwell = _pick(overrides.enter_dwell_s if overrides else None, config.enter_dwell_s)
            clearly_in = clear_since is not None and ts - clear_since >= min(
                config.enter_confirm_s, enter_dwell
            )
            depth_sum = (current.depth_sum if current is not None else 0.0) + min(d, margin)
            fixes = (current.fixes if current is not None else 0) + 1
            lingered = ts - started >= enter_dwell
            if lingered and not clearly_in and overlaps is not None and ts - started < config.switch_dwell_s:
                mine = overlaps.get(zone_id, frozenset())
                if any(other not in mine for other in inside_before):  # would leave another room: be surer
                    # a mean over longer is surer: the depth asked falls as 1/sqrt(time spent), to a floor
                    needed = config.switch_depth_m * math.sqrt(enter_dwell / max(ts - started, 1e-9))
                    lingered = depth_sum / fixes >= max(needed, config.switch_min_depth_m)
            if clearly_in or lingered:
                zones[zone_id] = ZoneMembership(inside=True, since=ts)
                transitions.append(ZoneTransition(tag_id, zone_id, ENTER, ts))
                entered.append(zone_id)
            else:
                zones[zone_id] = ZoneMembership(False, started, clear_since, depth_sum, fixes)
            continue
        # inside
        if d >= 0:
            zones[zone_id] = ZoneMembership(inside=True, since=current.since)
        elif d <= -margin:
            pending = current.pending if current.pending is not None else ts
            exit_dwell = _pick(overrides.exit_dwell_s if overrides else None, config.exit_dwell_s)
            if ts - pending >= exit_dwell:
                transitions.append(ZoneTransition(tag_id, zone_id, EXIT, ts, dwell_s=ts - current.since))
            else:
                zones[zone_id] = ZoneMembership(inside=True, since=current.since, pending=pending)
        else:
            zones[zone_id] = current  # grey band: keep the membership and any pending exit as they are
    if overlaps is not None and entered:
        for zone_id in entered:
            mine = overlaps.get(zone_id, frozenset())
            for other in inside_before:
                kept = zones.get(other)
                if other not in mine and kept is not None and kept.inside:
                    del zones[other]
                    transitions.append(ZoneTransition(tag_id, other, EXIT, ts, dwell_s=ts - kept.since))
    transitions.sort(key=lambda t: (t.kind != EXIT, t.zone_id))  # exits first: leave A, then enter B
    return TagZoneState(ts=ts, zones=zones, unknown_since=None), transitions


def _steady(zones: Mapping[str, ZoneMembership], signed_m: Mapping[str, float]) -> bool:
    """Inside every stored zone with nothing pending, and not inside any other zone."""
    for zone_id, membership in zones.items():
        if not membership.inside or membership.pending is not None or signed_m.get(zone_id, -1.0) < 0:
            return False
    return all(d < 0 or zone_id in zones for zone_id, d in signed_m.items())


def _pick(override: float | None, default: float) -> float:
    return default if override is None else override


def walk(
    tag_id: str,
    fixes: Iterable[tuple[float, float, Mapping[str, float]]],
    config: MembershipConfig,
    state: TagZoneState | None = None,
    dwell: Mapping[str, ZoneDwell] | None = None,
    overlaps: Mapping[str, frozenset[str]] | None = None,
) -> tuple[TagZoneState, list[ZoneTransition]]:
    """Apply a sequence of (ts, accuracy_m, signed distances) fixes in order; handy for scripted tracks."""
    state = state or TagZoneState()
    events: list[ZoneTransition] = []
    for ts, accuracy_m, signed in fixes:
        state, new = apply_fix(tag_id, state, ts, accuracy_m, signed, config, dwell, overlaps)
        events.extend(new)
    return state, events
