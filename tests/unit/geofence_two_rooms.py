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
    noise_ratio: np.ndarray | None = None,
) -> GeofenceResult:
    """Tag "T"'s fixes, one every FIX_S unless `ts` is given, all with `accuracy_m` (and the tracker's learnt fix
    noise `noise_ratio`, when given)."""
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
        noise_ratio=noise_ratio,
    )


def walk_from_pin(seed: int, start_x: float, pace_mps: float, parked: int = 40) -> tuple[np.ndarray, ...]:
    """(x, y, stationary): pinned at x = `start_x` for `parked` fixes, then released, walking east at `pace_mps`
    through the wall and on to x = 16 (fixes jitter by 5 cm)."""
    rng = np.random.default_rng(seed)
    walk = np.arange(start_x, 16.0, pace_mps * FIX_S)
    x = np.r_[np.full(parked, start_x), walk] + rng.normal(0.0, 0.05, parked + len(walk))
    y = 20.0 + rng.normal(0.0, 0.05, len(x))
    return x, y, np.arange(len(x)) < parked


def seconds_to_show_b(x: np.ndarray, result: GeofenceResult) -> float:
    """How long after its fixes crossed the wall the tag was first shown in b."""
    crossed = int(np.argmax(x > WALL_X))
    shown_b = int(np.argmax([zones == ["b"] for zones in result.zone_ids]))
    return (shown_b - crossed) * FIX_S
