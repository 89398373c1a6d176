"""Two rooms side by side, a (x 0-10 m) and b (x 10-20 m), 40 m long, and one tag's fixes through the zone engine
with the tracker's stationary flag: the scripted tracks of the tracker-flag and released-walk tests."""

from __future__ import annotations

import numpy as np

from core.geofence import GeofenceEngine, GeofenceResult, MembershipConfig, polygon_zone

FIX_S = 0.5
WALL_X = 10.0
ROOMS = [
    polygon_zone("a", "s", [(0, 0), (WALL_X, 0), (WALL_X, 40), (0, 40)]),
    polygon_zone("b", "s", [(WALL_X, 0), (20, 0), (20, 40), (WALL_X, 40)]),
]


def run_fixes(
    x: np.ndarray,
    y: np.ndarray,
    accuracy_m: float,
    stationary: np.ndarray | None,
    ts: np.ndarray | None = None,
    config: MembershipConfig | None = None,
) -> GeofenceResult:
    """Tag "T"'s fixes, one every FIX_S unless `ts` is given, all with `accuracy_m`."""
    n = len(x)
    return GeofenceEngine(ROOMS, config or MembershipConfig()).evaluate(
        ["T"] * n,
        ["s"] * n,
        np.zeros(n, np.int64),
        np.arange(n) * FIX_S if ts is None else ts,
        x,
        y,
        np.full(n, accuracy_m),
        {},
        stationary=stationary,
    )
