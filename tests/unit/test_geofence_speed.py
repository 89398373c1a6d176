"""Speed-aware zone membership: a walking tag's room follows it promptly, a parked one does not flap."""

from __future__ import annotations

import numpy as np
import pytest

from core.geofence import (
    ENTER,
    EXIT,
    GeofenceEngine,
    GeofenceResult,
    MembershipConfig,
    TagZoneState,
    decode_state,
    encode_state,
    polygon_zone,
)

pytestmark = pytest.mark.unit

FIX_S = 0.5
ROOMS = [
    polygon_zone("a", "s", [(0, 0), (10, 0), (10, 40), (0, 40)]),
    polygon_zone("b", "s", [(10, 0), (20, 0), (20, 40), (10, 40)]),
]


def _smooth_noise(rng: np.random.Generator, n: int, sigma_m: float) -> np.ndarray:
    """Noise correlated over a few fixes, like positions out of the tracker (std ~ sigma_m)."""
    return np.convolve(rng.normal(0.0, sigma_m, n + 5), np.ones(6) / np.sqrt(6), mode="valid")


def _run(
    x: np.ndarray, y: np.ndarray, accuracy_m: float, config: MembershipConfig | None = None
) -> GeofenceResult:
    n = len(x)
    engine = GeofenceEngine(ROOMS, config or MembershipConfig())
    return engine.evaluate(
        ["T"] * n, ["s"] * n, np.zeros(n, np.int64), np.arange(n) * FIX_S, x, y, np.full(n, accuracy_m), {}
    )


def _crossing(seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Parked in a for 20 s, walks east at 1 m/s from x = 2 to x = 18, parks in b; returns x, y, crossing time."""
    rng = np.random.default_rng(seed)
    x = np.r_[np.full(40, 2.0), np.linspace(2.0, 18.0, 33), np.full(60, 18.0)]
    x = x + _smooth_noise(rng, len(x), 0.2)
    y = 20.0 + _smooth_noise(rng, len(x), 0.2)
    return x, y, (40 + 16) * FIX_S  # at x = 10 after 8 s of walking


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_walking_crossing_gives_one_exit_and_one_enter_promptly(seed: int) -> None:
    x, y, crossed_at = _crossing(seed)
    result = _run(x, y, accuracy_m=2.0)  # typical accuracy of a walking tag's fixes
    events = [(t.kind, t.zone_id) for t in result.transitions]
    assert events == [(ENTER, "a"), (EXIT, "a"), (ENTER, "b")]
    switched_at = result.transitions[2].ts
    assert result.transitions[1].ts == switched_at  # never in both rooms, never in none
    assert crossed_at <= switched_at <= crossed_at + 1.5
    # judged as parked (a 2 m margin), the same walk would show the old room for seconds after the door
    blind = _run(x, y, accuracy_m=2.0, config=MembershipConfig(speed_aware=False))
    assert [(t.kind, t.zone_id) for t in blind.transitions] == events
    assert blind.transitions[2].ts >= crossed_at + 2.0


def test_walk_along_a_wall_does_not_flap() -> None:
    # Ten minutes walking up and down a 36 m wall (up to 1.6 m/s) 0.4 m inside a, fixes scattered ±0.3 m across
    # it: fast, but not *out of* the room, so it is judged on the parked margin.
    rng = np.random.default_rng(11)
    t = np.arange(1200) * FIX_S
    y = 20.0 + 18.0 * np.sin(t * np.pi / 36.0)
    x = 9.6 + _smooth_noise(rng, len(t), 0.3)
    assert np.count_nonzero(np.diff(x >= 10.0)) > 50  # an inside test would flap all along the wall
    result = _run(x, y, accuracy_m=1.5)
    assert [(e.kind, e.zone_id) for e in result.transitions] == [(ENTER, "a")]


def test_tag_parked_near_a_wall_stays_put_through_its_scatter() -> None:
    # Twenty minutes parked 0.3 m inside a; the tracker's fixes jitter ±0.4 m and now and then hop 0.8 m
    # towards b for 1.5 s — an apparent speed, but not a walk.
    rng = np.random.default_rng(12)
    n = 2400
    x = 9.7 + _smooth_noise(rng, n, 0.4)
    for h in rng.choice(n - 4, 12, replace=False):
        x[h : h + 3] += 0.8
    y = 20.0 + _smooth_noise(rng, n, 0.4)
    assert np.count_nonzero(np.diff(x >= 10.0)) > 50
    result = _run(x, y, accuracy_m=1.5)
    assert [(e.kind, e.zone_id) for e in result.transitions] == [(ENTER, "a")]
    assert result.states["T"].speed_mps < MembershipConfig().parked_speed_mps


def test_speed_is_kept_in_the_state_and_older_states_still_decode() -> None:
    x, y, _ = _crossing(4)
    half = 60  # mid-walk
    first = _run(x[:half], y[:half], accuracy_m=2.0)
    state = first.states["T"]
    assert state.speed_mps > 0.5 and state.x == pytest.approx(x[half - 1])
    assert decode_state(encode_state(state)) == state
    # a state stored before speed awareness (three fields) decodes, at rest, keeping its zones
    old = decode_state(b'[12.5,{"a":[true,3.0,null,0.0,0]},null]')
    assert old.inside_zones() == ["a"] and old.speed_mps == 0.0 and old.x is None
    assert isinstance(old, TagZoneState)


def test_bad_speed_settings_name_the_field() -> None:
    with pytest.raises(ValueError, match="moving_speed_mps must be > parked_speed_mps"):
        MembershipConfig(parked_speed_mps=1.0, moving_speed_mps=0.5)
    with pytest.raises(ValueError, match="speed_time_constant_s must be > 0"):
        MembershipConfig(speed_time_constant_s=0.0)
    with pytest.raises(ValueError, match="min_heading_share"):
        MembershipConfig(min_heading_share=1.5)
    with pytest.raises(ValueError, match="moving_switch_depth_m must be >= 0"):
        MembershipConfig(moving_switch_depth_m=-0.3)


def _walk_and_park(
    seed: int, park_x: float, park_fixes: int, noise_m: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """Parked in a for 20 s, walks 12.9 m out of a (north-east, 1 m/s) to (park_x, 20), parks there; x, y, stop."""
    rng = np.random.default_rng(seed)
    walk = 26
    x = np.r_[np.full(40, 2.0), np.linspace(2.0, park_x, walk), np.full(park_fixes, park_x)]
    y = np.r_[np.full(40, 10.0), np.linspace(10.0, 20.0, walk), np.full(park_fixes, 20.0)]
    noise = _smooth_noise(rng, 2 * len(x), noise_m)
    return x + noise[: len(x)], y + noise[len(x) :], (40 + walk) * FIX_S


@pytest.mark.parametrize("seed", [2, 3, 5])
def test_tag_that_walked_and_parked_just_past_the_wall_is_shown_there_soon(seed: int) -> None:
    # It stops 0.2 m inside b: too shallow for the moving margin while it walks, and for a parked tag's switch
    # depth — but the room it was in was decided before it walked, so that room keeps no advantage.
    x, y, stopped_at = _walk_and_park(seed, 10.2, 240, 0.15)
    result = _run(x, y, accuracy_m=1.0)
    assert [(t.kind, t.zone_id) for t in result.transitions] == [(ENTER, "a"), (EXIT, "a"), (ENTER, "b")]
    assert result.transitions[2].ts <= stopped_at + 30.0
    # without settling, the old room is kept for the whole two minutes
    held = _run(x, y, accuracy_m=1.0, config=MembershipConfig(settle_s=0.0))
    assert [(t.kind, t.zone_id) for t in held.transitions] == [(ENTER, "a")]


def _walk_then_fixes_settle(seed: int, settle_x: float) -> tuple[np.ndarray, np.ndarray, float]:
    """The walk ends at x = 9.5 in a; 6 s later the fixes (3 s windows lag a walk by ~1.5 m and catch up slowly)
    hop to x = `settle_x` in b within 2 s and stay there; x, y, the time they arrived."""
    rng = np.random.default_rng(seed)
    walk, wait, hop = 26, 12, 4
    x = np.r_[
        np.full(40, 2.0),
        np.linspace(2.0, 9.5, walk),
        np.full(wait, 9.5),
        np.linspace(9.5, settle_x, hop),
        np.full(60, settle_x),
    ]
    y = np.r_[np.full(40, 10.0), np.linspace(10.0, 20.0, walk), np.full(wait + hop + 60, 20.0)]
    noise = _smooth_noise(rng, 2 * len(x), 0.15)
    return x + noise[: len(x)], y + noise[len(x) :], (40 + walk + wait + hop) * FIX_S


@pytest.mark.parametrize(
    ("settle_x", "within_s", "slow_after_s"),
    [
        # 1.5 m inside b: too shallow for a parked tag's margin of its 2 m accuracy, deep enough at once
        (11.5, 1.5, 3.0),
        # only 0.6 m inside: the shallower, the longer the mean over the fixes must run (about 1.4 s here), still
        # well before the settle dwell
        (10.6, 2.5, 3.5),
    ],
)
@pytest.mark.parametrize("seed", [1, 4, 7])
def test_tag_whose_fixes_settle_past_the_wall_after_its_walk_switches_within_seconds(
    seed: int, settle_x: float, within_s: float, slow_after_s: float
) -> None:
    x, y, arrived_at = _walk_then_fixes_settle(seed, settle_x)
    result = _run(x, y, accuracy_m=2.0)
    assert [(t.kind, t.zone_id) for t in result.transitions] == [(ENTER, "a"), (EXIT, "a"), (ENTER, "b")]
    assert result.transitions[2].ts <= arrived_at + within_s
    # asking the settle dwell continuously inside b, it is shown in a for seconds longer
    slow = _run(x, y, accuracy_m=2.0, config=MembershipConfig(settle_deep_m=float("inf")))
    assert [(t.kind, t.zone_id) for t in slow.transitions] == [(ENTER, "a"), (EXIT, "a"), (ENTER, "b")]
    assert slow.transitions[2].ts >= arrived_at + slow_after_s


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_walk_drifting_across_a_wall_at_a_shallow_angle_switches_rooms_soon(seed: int) -> None:
    # Walking 36 m north at 1.1 m/s while drifting 3 m east, across the wall at ~5 degrees: too little of its
    # speed heads out of a for the moving margin, and its fixes never clear a parked tag's margin of their 2 m
    # accuracy before the walk ends. Walking on 0.3 m past the wall is enough.
    rng = np.random.default_rng(seed)
    n = int(36.0 / 1.1 / FIX_S)
    drift = np.linspace(8.5, 11.5, n)
    x = np.r_[np.full(40, 8.5), drift, np.full(40, 11.5)]
    y = np.r_[np.full(40, 2.0), np.linspace(2.0, 38.0, n), np.full(40, 38.0)]
    noise = _smooth_noise(rng, 2 * len(x), 0.15)
    x, y = x + noise[: len(x)], y + noise[len(x) :]
    past_wall_at = (40 + int(np.argmax(drift >= 10.3))) * FIX_S  # the walk 0.3 m into b
    result = _run(x, y, accuracy_m=2.0)
    assert [(t.kind, t.zone_id) for t in result.transitions] == [(ENTER, "a"), (EXIT, "a"), (ENTER, "b")]
    assert result.transitions[2].ts <= past_wall_at + 4.5
    off = _run(x, y, accuracy_m=2.0, config=MembershipConfig(moving_switch_dwell_s=float("inf")))
    assert [(t.kind, t.zone_id) for t in off.transitions] == [(ENTER, "a"), (EXIT, "a"), (ENTER, "b")]
    assert off.transitions[2].ts >= past_wall_at + 8.0


@pytest.mark.parametrize("seed", [3, 6])
def test_tag_that_walked_and_parked_on_the_wall_stops_switching_after_settling(seed: int) -> None:
    # Ten minutes parked exactly on the wall after the walk: it may switch while settling, never after.
    config = MembershipConfig()
    x, y, stopped_at = _walk_and_park(seed, 10.0, 1200, 0.3)
    assert np.count_nonzero(np.diff(x[200:] >= 10.0)) > 100  # its fixes keep crossing the wall
    result = _run(x, y, accuracy_m=1.5, config=config)
    assert all(t.ts <= stopped_at + config.settle_s + 5.0 for t in result.transitions)
    assert sum(t.kind == EXIT for t in result.transitions) <= 3


def test_settling_is_kept_in_the_state() -> None:
    x, y, stopped_at = _walk_and_park(2, 10.2, 4, 0.15)
    state = _run(x, y, accuracy_m=1.0).states["T"]
    assert state.moved_ts is not None and stopped_at - 3.0 <= state.moved_ts <= stopped_at + 2.0
    assert decode_state(encode_state(state)) == state
    # a state stored before settling (eight fields) decodes, never having walked
    old = decode_state(b'[12.5,{"a":[true,3.0,null,0.0,0]},null,1.0,2.0,12.0,0.1,0.0]')
    assert old.inside_zones() == ["a"] and old.moved_ts is None and old.moving_since is None
