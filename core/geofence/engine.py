"""The geofence engine: the zones of every site, compiled per (site, floor), applied to a batch of fixes.

`GeofenceEngine.evaluate` takes the columns of a batch of fixes and the tags' stored `TagZoneState`s and returns
the new states, the enter/exit transitions (event time order per tag) and, per fix, the zones the tag is in
after that fix — the `zone_ids` of the location-fix contract — plus whether its membership is unknown.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from core.geofence.index import ZoneIndex
from core.geofence.membership import (
    MembershipConfig,
    TagZoneState,
    ZoneDwell,
    ZoneTransition,
    apply_fix,
)
from core.geofence.zones import Zone


@dataclass(frozen=True, slots=True, eq=False)
class GeofenceResult:
    states: dict[str, TagZoneState]  # new state of every tag in the batch
    transitions: list[ZoneTransition]
    zone_ids: list[list[str]]  # per input fix: zones the tag is in after it
    unknown: np.ndarray  # per input fix: accuracy too poor to say (zone_ids are then the last known ones)


def _overlaps(by_site: Mapping[str, list[Zone]]) -> dict[str, frozenset[str]]:
    """zone -> zones on the same site (and a shared floor) whose areas intersect it (itself included)."""
    out: dict[str, frozenset[str]] = {}
    for zones in by_site.values():
        geometries = [zone.geometry for zone in zones]
        tree = shapely.STRtree(geometries)
        left, right = tree.query(geometries, predicate="intersects")
        found: dict[int, set[int]] = {i: {i} for i in range(len(zones))}
        for a, b in zip(left.tolist(), right.tolist(), strict=True):
            same_floor = zones[a].floor is None or zones[b].floor is None or zones[a].floor == zones[b].floor
            if a != b and same_floor and geometries[a].intersection(geometries[b]).area > 1e-6:
                found[a].add(b)
        for i, zone in enumerate(zones):
            out[zone.id] = frozenset(zones[j].id for j in found[i])
    return out


class GeofenceEngine:
    """Zones of many sites; one compiled `ZoneIndex` per (site, floor), built on first use.

    `exclusive_rooms`: zones whose areas do not overlap are mutually exclusive (see `apply_fix`); nested or
    overlapping zones (a site boundary around rooms, a circle inside a hall) are unaffected."""

    def __init__(
        self,
        zones: Iterable[Zone],
        config: MembershipConfig | None = None,
        cell_m: float = 1.0,
        exclusive_rooms: bool = True,
    ) -> None:
        self.config = config or MembershipConfig()
        self.cell_m = cell_m
        self.zones: dict[str, Zone] = {}
        self._by_site: dict[str, list[Zone]] = defaultdict(list)
        for zone in zones:
            self.zones[zone.id] = zone
            self._by_site[zone.site_id].append(zone)
        self.dwell = {
            zone.id: ZoneDwell(zone.enter_dwell_s, zone.exit_dwell_s)
            for zone in self.zones.values()
            if zone.enter_dwell_s is not None or zone.exit_dwell_s is not None
        }
        self._indexes: dict[tuple[str, int], ZoneIndex] = {}
        self.overlaps = _overlaps(self._by_site) if exclusive_rooms else None

    def index_for(self, site_id: str, floor: int) -> ZoneIndex:
        key = (site_id, floor)
        index = self._indexes.get(key)
        if index is None:
            zones = [z for z in self._by_site.get(site_id, []) if z.floor is None or z.floor == floor]
            index = ZoneIndex(zones, reach_m=self.config.reach_m, cell_m=self.cell_m)
            self._indexes[key] = index
        return index

    def zones_of_site(self, site_id: str) -> list[Zone]:
        return list(self._by_site.get(site_id, []))

    def locate(
        self, site_ids: Sequence[str], floors: np.ndarray, x: np.ndarray, y: np.ndarray
    ) -> list[dict[str, float]]:
        """Per fix: signed distance (m, + inside, clipped to ±reach_m) to each zone it is in or near."""
        n = len(x)
        result: list[dict[str, float]] = [{} for _ in range(n)]
        site_arr = np.asarray([str(s) for s in site_ids], dtype=object)
        floor_arr = np.nan_to_num(np.asarray(floors, dtype=float), nan=0.0).astype(np.int64)
        x = np.asarray(x, float)
        y = np.asarray(y, float)
        groups: dict[tuple[str, int], list[int]] = defaultdict(list)
        for i, (site, floor) in enumerate(zip(site_arr, floor_arr, strict=True)):
            groups[(site, int(floor))].append(i)
        for (site, floor), members in groups.items():
            if site not in self._by_site:
                continue
            rows = np.asarray(members)
            index = self.index_for(site, floor)
            hits = index.locate(x[rows], y[rows])
            zone_ids = [zone.id for zone in index.zones]
            for f, z, signed in zip(
                hits.fix.tolist(), hits.zone.tolist(), hits.signed_m.tolist(), strict=True
            ):
                result[members[f]][zone_ids[z]] = signed
        return result

    def evaluate(
        self,
        tag_ids: Sequence[str],
        site_ids: Sequence[str],
        floors: np.ndarray,
        ts: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        accuracy_m: np.ndarray,
        states: Mapping[str, TagZoneState],
        *,
        stationary: np.ndarray | None = None,
        noise_ratio: np.ndarray | None = None,
    ) -> GeofenceResult:
        """Apply a batch of fixes (any order; each tag's fixes are applied in event-time order).

        `stationary` (optional, per fix): whether the tracker had pinned the tag as parked at that fix (see
        `apply_fix`). Without it, membership is what the fixes alone say. `noise_ratio` (optional, per fix): the
        tracker's learnt fix noise (see `apply_fix`)."""
        x = np.asarray(x, float)
        y = np.asarray(y, float)
        still = (
            None if stationary is None else np.broadcast_to(np.asarray(stationary, bool), x.shape).tolist()
        )
        noise = (
            None if noise_ratio is None else np.broadcast_to(np.asarray(noise_ratio, float), x.shape).tolist()
        )
        signed = self.locate(site_ids, floors, x, y)
        ts = np.asarray(ts, float)
        accuracy = np.asarray(accuracy_m, float)
        new_states: dict[str, TagZoneState] = {}
        transitions: list[ZoneTransition] = []
        zone_ids: list[list[str]] = [[] for _ in range(len(ts))]
        unknown = np.zeros(len(ts), bool)
        tag_arr = np.asarray(tag_ids, dtype=object)
        order = np.lexsort((ts, tag_arr.astype(str))).tolist() if len(ts) else []
        for i in order:
            tag = tag_ids[i]
            state = new_states.get(tag) or states.get(tag) or TagZoneState()
            state, events = apply_fix(
                tag,
                state,
                float(ts[i]),
                float(accuracy[i]),
                signed[i],
                self.config,
                self.dwell,
                self.overlaps,
                float(x[i]),
                float(y[i]),
                stationary=None if still is None else still[i],
                noise_ratio=None if noise is None else noise[i],
            )
            new_states[tag] = state
            transitions.extend(events)
            zone_ids[i] = state.inside_zones()
            unknown[i] = state.unknown_since is not None
        return GeofenceResult(new_states, transitions, zone_ids, unknown)
