"""Geofences: zones in site-frame metres, exact signed distances for a batch of fixes, and membership with
hysteresis so that assets parked by a wall do not flap in and out of a room.

- `core.geofence.zones`: `Zone`, `zone_from_record` (from a `geofences` row or API body), `circle_zone`, `polygon_zone`
- `core.geofence.index`: `ZoneIndex.locate` — signed distance of every fix to every nearby zone, vectorised
- `core.geofence.membership`: `MembershipConfig`, `TagZoneState`, `apply_fix` — the hysteresis state machine
- `core.geofence.engine`: `GeofenceEngine.evaluate` — all of the above over a batch of fixes of many sites
"""

from core.geofence.engine import GeofenceEngine, GeofenceResult
from core.geofence.index import ZoneHits, ZoneIndex
from core.geofence.membership import (
    ENTER,
    EVIDENCE,
    EXIT,
    REASONS,
    MembershipConfig,
    TagZoneState,
    ZoneTransition,
    apply_fix,
    decode_state,
    encode_state,
)
from core.geofence.zones import Zone, ZoneError, circle_zone, polygon_zone, zone_from_record

__all__ = [
    "ENTER",
    "EVIDENCE",
    "EXIT",
    "GeofenceEngine",
    "GeofenceResult",
    "MembershipConfig",
    "REASONS",
    "TagZoneState",
    "Zone",
    "ZoneError",
    "ZoneHits",
    "ZoneIndex",
    "ZoneTransition",
    "apply_fix",
    "circle_zone",
    "decode_state",
    "encode_state",
    "polygon_zone",
    "zone_from_record",
]
