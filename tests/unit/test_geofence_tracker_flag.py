"""Zone membership given the tracker's stationary flag: a short walk that the fixes' own speed misses is still
seen as a walk once the tracker pins the tag again somewhere else, and a tag pinned in place stays put."""

from __future__ import annotations

import numpy as np
import pytest

from core.geofence import ENTER, EXIT, MembershipConfig, decode_state, encode_state
from tests.unit.geofence_two_rooms import FIX_S
from tests.unit.geofence_two_rooms import run_fixes as _run

pytestmark = pytest.mark.unit

PIN_AFTER_S = 4.0  # the tracker pins a tag that looked still this long (core.tracking's still_after_s)


def _short_walk(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Parked in a at x = 1.5 for 20 s, walks 8.7 m east (1 m/s) and parks 0.2 m inside b for two minutes: the
    tracker's fixes (jitter ±0.1 m) and its flag, pinned PIN_AFTER_S after each stop; returns the time it re-pins."""
    rng = np.random.default_rng(seed)
    walk = 18
    x = np.r_[np.full(40, 1.5), np.linspace(1.5, 10.2, walk), np.full(240, 10.2)]
    x = x + rng.normal(0.0, 0.03, len(x))
    y = 20.0 + rng.normal(0.0, 0.03, len(x))
    t = np.arange(len(x)) * FIX_S
    stopped = (40 + walk) * FIX_S
    stationary = (t >= PIN_AFTER_S) & (t < 40 * FIX_S) | (t >= stopped + PIN_AFTER_S)
    return x, y, stationary, stopped + PIN_AFTER_S


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_short_walk_is_seen_when_the_tracker_pins_the_tag_elsewhere(seed: int) -> None:
    x, y, stationary, pinned_at = _short_walk(seed)
    result = _run(x, y, accuracy_m=1.0, stationary=stationary)
    assert [(t.kind, t.zone_id) for t in result.transitions] == [(ENTER, "a"), (EXIT, "a"), (ENTER, "b")]
    # the pin is an averaged spot: the switch comes with it at the latest, without the settling dwell on top (a
    # released tag this far from its old pin is walking: it may switch as soon as its fixes are in b)
    in_b = np.arange(len(x))[x > 10.0][0] * FIX_S
    assert in_b <= result.transitions[2].ts <= pinned_at + 1e-9
    # with fixes too poor (3 m) for that rule over 8.7 m, the switch comes with the pin: no dwell on top
    coarse = _run(x, y, accuracy_m=3.0, stationary=stationary)
    assert [(t.kind, t.zone_id) for t in coarse.transitions] == [(ENTER, "a"), (EXIT, "a"), (ENTER, "b")]
    assert coarse.transitions[2].ts == pytest.approx(pinned_at)
    # from the fixes alone the walk is too short to register: the old room is kept for the whole two minutes
    for flag in (None, np.zeros(len(x), bool)):
        alone = _run(x, y, accuracy_m=1.0, stationary=flag)
        assert [(t.kind, t.zone_id) for t in alone.transitions] == [(ENTER, "a")]


def test_tag_pinned_on_the_wall_does_not_flap_when_the_tracker_releases_and_repins_it() -> None:
    # Twenty minutes on the wall between a and b; the tracker releases it every minute and pins it again 4 s later
    # (its fixes drift a few decimetres meanwhile): a new pin near the last one is no walk.
    rng = np.random.default_rng(7)
    n = 2400
    t = np.arange(n) * FIX_S
    x = 9.95 + 0.25 * np.sin(2 * np.pi * t / 150.0) + rng.normal(0.0, 0.03, n)
    y = 20.0 + rng.normal(0.0, 0.05, n)
    stationary = (t % 60.0) >= PIN_AFTER_S
    assert np.count_nonzero(np.diff(x >= 10.0)) > 10  # an inside test would flap
    result = _run(x, y, accuracy_m=1.0, stationary=stationary)
    assert len(result.transitions) == 1 and result.transitions[0].kind == ENTER
    assert result.states["T"].moved_ts is None  # never taken for a walk


def _through_a_door(
    seed: int, from_x: float, to_x: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Parked in a at `from_x` for 20 s, walks east at 1 m/s and parks at `to_x` for two minutes (fixes jitter
    ±3 cm), pinned PIN_AFTER_S after each stop; returns the time it re-pins."""
    rng = np.random.default_rng(seed)
    walk = np.arange(from_x, to_x, FIX_S)
    x = np.r_[np.full(40, from_x), walk, np.full(240, to_x)] + rng.normal(0.0, 0.03, 280 + len(walk))
    y = 20.0 + rng.normal(0.0, 0.03, len(x))
    t = np.arange(len(x)) * FIX_S
    stopped = (40 + len(walk)) * FIX_S
    return x, y, (t >= PIN_AFTER_S) & (t < 40 * FIX_S) | (t >= stopped + PIN_AFTER_S), stopped + PIN_AFTER_S


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_few_metres_through_a_door_is_a_walk_once_pinned_past_the_wall(seed: int) -> None:
    # 4.2 m from x = 7 to 1.2 m inside b, with 3 m fixes (within the margin): too short for the speed or the
    # 8 m pin rule, but the new pin is clearly out of a: it walked, and b comes with the pin
    x, y, pinned, pinned_at = _through_a_door(seed, 7.0, 11.2)
    result = _run(x, y, accuracy_m=3.0, stationary=pinned)
    assert [(t.kind, t.zone_id) for t in result.transitions] == [(ENTER, "a"), (EXIT, "a"), (ENTER, "b")]
    assert result.transitions[2].ts == pytest.approx(pinned_at)
    # without the rule the lingering switch holds it in a for seconds after the pin (the tag is new: its first
    # room is provisional, and a pin that deep in b would move it too, so that is off here as well)
    no_depth = MembershipConfig(pinned_walk_out_m=float("inf"), first_room_pin_depth_m=float("inf"))
    off = _run(x, y, 3.0, pinned, config=no_depth)
    assert off.transitions[2].ts >= pinned_at + 3.0
    # a pin as far away but only 0.3 m past the wall is no walk: the tag keeps a
    x, y, pinned, _ = _through_a_door(seed, 6.0, 10.3)
    shallow = _run(x, y, accuracy_m=3.0, stationary=pinned)
    assert [(t.kind, t.zone_id) for t in shallow.transitions] == [(ENTER, "a")]
    assert shallow.states["T"].moved_ts is None


def test_the_pin_is_kept_in_the_state_and_older_states_still_decode() -> None:
    x, y, stationary, pinned_at = _short_walk(1)
    state = _run(x, y, accuracy_m=1.0, stationary=stationary).states["T"]
    assert state.pinned_since == pytest.approx(pinned_at)
    assert state.pinned_x == pytest.approx(10.2, abs=0.2)
    assert decode_state(encode_state(state)) == state
    # a state stored before the flag was used (eleven fields) decodes as not pinned
    old = decode_state(b'[12.5,{"a":[true,3.0,null,0.0,0]},null,1.0,2.0,12.0,0.1,0.0,null,4.0]')
    assert old.inside_zones() == ["a"] and old.moved_ts == 4.0 and old.pinned_since is None


def test_bad_pinned_walk_setting_names_the_field() -> None:
    with pytest.raises(ValueError, match="pinned_walk_m must be >= 0"):
        MembershipConfig(pinned_walk_m=-1.0)
    with pytest.raises(ValueError, match="pinned_switch_depth_m must be >= 0"):
        MembershipConfig(pinned_switch_depth_m=-0.1)


def _pin_moves(
    seed: int, from_x: float, to_x: float, moves_at_s: float = 20.0, over_s: float = 10.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pinned from 4 s on at `from_x`; from `moves_at_s`, over `over_s`, the tracker's pinned spot moves to `to_x`
    (its bias, or the track settling where the tag is, not a walk) and stays there for four minutes."""
    rng = np.random.default_rng(seed)
    before, during = int(moves_at_s / FIX_S), int(over_s / FIX_S)
    x = np.r_[np.full(before, from_x), np.linspace(from_x, to_x, during), np.full(480, to_x)]
    x = x + rng.normal(0.0, 0.03, len(x))
    y = 20.0 + rng.normal(0.0, 0.03, len(x))
    return x, y, np.arange(len(x)) * FIX_S >= PIN_AFTER_S


@pytest.mark.parametrize("seed", [1, 2])
def test_pinned_tag_is_not_switched_by_a_shallow_bias_however_long_it_lasts(seed: int) -> None:
    # Parked 1 m inside a; over 20-30 s its pinned spot drifts to 0.5 m past the wall (its bias, not a walk): a
    # mean over minutes of scattered fixes would be sure enough to switch (and does, without the flag), but a
    # pinned tag's fixes are one averaged spot: its bias does not average out.
    x, y, pinned = _pin_moves(seed, 9.0, 10.5)
    result = _run(x, y, accuracy_m=1.0, stationary=pinned)
    assert [(t.kind, t.zone_id) for t in result.transitions] == [(ENTER, "a")]
    alone = _run(x, y, accuracy_m=1.0, stationary=None)
    assert [(t.kind, t.zone_id) for t in alone.transitions] == [(ENTER, "a"), (EXIT, "a"), (ENTER, "b")]
    # pinned clearly deeper in b, it is moved there like any lingering tag
    x, y, pinned = _pin_moves(seed, 9.0, 11.0)
    deep = _run(x, y, accuracy_m=1.0, stationary=pinned)
    assert [(t.kind, t.zone_id) for t in deep.transitions] == [(ENTER, "a"), (EXIT, "a"), (ENTER, "b")]


def _switched_on_by_the_wall(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A tag switched on 0.3 m inside b: its first 10 s of tracked fixes sit 0.5 m on the wrong side of the wall
    (part-filled windows, an unsettled track), then settle where it is; the tracker pins it from 4 s on."""
    rng = np.random.default_rng(seed)
    x = np.r_[np.full(20, 9.5), np.linspace(9.5, 10.3, 4), np.full(216, 10.3)] + rng.normal(0.0, 0.03, 240)
    y = 20.0 + rng.normal(0.0, 0.03, 240)
    return x, y, np.arange(240) * FIX_S >= PIN_AFTER_S


@pytest.mark.parametrize("seed", [1, 2])
def test_new_tag_by_a_wall_gets_the_room_the_tracker_settles_it_in(seed: int) -> None:
    x, y, pinned = _switched_on_by_the_wall(seed)
    result = _run(x, y, accuracy_m=1.0, stationary=pinned)
    assert [(t.kind, t.zone_id) for t in result.transitions] == [(ENTER, "b")]
    assert result.transitions[0].ts == pytest.approx(PIN_AFTER_S + MembershipConfig().first_room_pin_s)
    # judged on its first fixes alone it is put in a first, and moved to b only later: two spurious events
    alone = _run(x, y, accuracy_m=1.0, stationary=None)
    assert [(t.kind, t.zone_id) for t in alone.transitions][0] == (ENTER, "a")


@pytest.mark.parametrize("seed", [1, 2])
def test_new_tag_pinned_deep_inside_a_room_gets_it_without_waiting(seed: int) -> None:
    # Switched on 1.5 m inside b with 2 m fixes (within the margin: admitted by lingering), pinned from 4 s on:
    # the pin is deeper than its bias reaches, so b comes with the enter dwell, not 15 s after the pin.
    rng = np.random.default_rng(seed)
    x, y = 11.5 + rng.normal(0.0, 0.03, 240), 20.0 + rng.normal(0.0, 0.03, 240)
    pinned = np.arange(240) * FIX_S >= PIN_AFTER_S
    result = _run(x, y, accuracy_m=2.0, stationary=pinned)
    assert [(t.kind, t.zone_id) for t in result.transitions] == [(ENTER, "b")]
    assert result.transitions[0].ts == pytest.approx(MembershipConfig().enter_dwell_s)
    # with the rule off it waits for the pin to age, as a tag pinned near the wall still does
    off = _run(x, y, 2.0, pinned, config=MembershipConfig(first_room_pin_depth_m=float("inf")))
    assert off.transitions[0].ts == pytest.approx(PIN_AFTER_S + MembershipConfig().first_room_pin_s)
    shallow = _run(x - 1.0, y, accuracy_m=2.0, stationary=pinned)
    assert shallow.transitions[0].ts == pytest.approx(PIN_AFTER_S + MembershipConfig().first_room_pin_s)


@pytest.mark.parametrize("seed", [1, 2])
def test_new_tag_whose_first_pin_was_on_the_wrong_side_is_moved_when_its_pin_is_deep(seed: int) -> None:
    # Its first room, a, came from a pin 0.3 m inside it. Once the pin is 0.9 m inside b, as deep as would have
    # admitted it to b at once, it moves there after the enter dwell since it crossed (at ~31.5 s).
    x, y, pinned = _pin_moves(seed, 9.7, 10.9, moves_at_s=30.0, over_s=5.0)
    result = _run(x, y, accuracy_m=1.0, stationary=pinned)
    assert [(t.kind, t.zone_id) for t in result.transitions] == [(ENTER, "a"), (EXIT, "a"), (ENTER, "b")]
    assert result.transitions[0].ts == pytest.approx(PIN_AFTER_S + MembershipConfig().first_room_pin_s)
    moved = result.transitions[2].ts
    assert moved <= 37.0
    # without it, the lingering switch waits for the mean depth since the pin crossed (12 s later here)
    off = _run(x, y, 1.0, pinned, config=MembershipConfig(first_room_pin_depth_m=float("inf")))
    assert [(t.kind, t.zone_id) for t in off.transitions][-1] == (ENTER, "b")
    assert off.transitions[-1].ts >= moved + 8


@pytest.mark.parametrize("seed", [1, 2])
def test_first_room_decided_on_a_shallow_pin_yields_to_a_later_shallow_pin(seed: int) -> None:
    # a was decided on a pin 0.3 m inside it; a later pin 0.6 m inside b moves it once the mean depth since the
    # pin crossed meets the lingering switch's curve (~35 s on), without the floor a pinned tag is held to
    x, y, pinned = _pin_moves(seed, 9.7, 10.6, moves_at_s=30.0, over_s=5.0)
    result = _run(x, y, 1.0, pinned)
    assert [(t.kind, t.zone_id) for t in result.transitions] == [(ENTER, "a"), (EXIT, "a"), (ENTER, "b")]
    assert result.transitions[2].ts <= 70.0
    # a first room decided at once, 1.1 m deep, is held against the same later pin: the floor (a mean of 0.7 m)
    # applies, and the four minutes stay in a
    x, y, pinned = _pin_moves(seed, 8.9, 10.6, moves_at_s=30.0, over_s=5.0)
    deep = _run(x, y, 1.0, pinned)
    assert [(t.kind, t.zone_id) for t in deep.transitions] == [(ENTER, "a")]
    assert deep.transitions[0].ts <= MembershipConfig().enter_dwell_s


def test_new_tag_the_tracker_never_pins_is_still_admitted() -> None:
    # 0.5 m inside a (within the margin: admitted by lingering), never pinned: it waits first_room_max_s, not forever
    n = 240
    x, y = np.full(n, 9.5), np.full(n, 20.0)
    result = _run(x, y, accuracy_m=1.0, stationary=np.zeros(n, bool))
    assert [(t.kind, t.zone_id) for t in result.transitions] == [(ENTER, "a")]
    assert result.transitions[0].ts == pytest.approx(MembershipConfig().first_room_max_s)
    # callers without the flag linger the enter dwell as before
    assert _run(x, y, accuracy_m=1.0, stationary=None).transitions[0].ts == pytest.approx(
        MembershipConfig().enter_dwell_s
    )


def test_new_tag_is_admitted_nowhere_by_its_first_window_of_fixes() -> None:
    # Switched on 1 m inside a; its first fix (one beacon) is 6 m off in b, and the track converges back over
    # 2.5 s, clearly inside b (beyond the 2.5 m margin) for a second on the way: no room from that.
    n = 120
    x = np.r_[16.0, 16.0, 14.5, 13.0, 11.5, 10.0, np.full(n - 6, 9.0)]
    y = np.full(n, 20.0)
    result = _run(x, y, accuracy_m=2.5, stationary=np.arange(n) * FIX_S >= PIN_AFTER_S + 3.0)
    assert [(t.kind, t.zone_id) for t in result.transitions] == [(ENTER, "a")]
    # without the first-window rule, b is entered and left again at once: two spurious events
    early = _run(
        x, y, 2.5, np.arange(n) * FIX_S >= PIN_AFTER_S + 3.0, config=MembershipConfig(first_window_s=0.0)
    )
    assert [(t.kind, t.zone_id) for t in early.transitions][:2] == [(ENTER, "b"), (EXIT, "b")]
