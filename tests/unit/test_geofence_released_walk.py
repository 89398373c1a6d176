"""Zone membership of a tag the tracker released: once its fixes are farther from where it was pinned than a
parked tag's fixes wander, it is walking, and its room follows it through a doorway at once — even at a slow
pace that the fixes' own speed (a mean over seconds) never counts as moving. A false release (the fixes wander
a metre or two past a wall and come back) still changes nothing, and a tag that walked off and stopped by a
wall does not flap across it while it waits to be pinned again."""

from __future__ import annotations

import numpy as np
import pytest

from core.geofence import ENTER, EXIT, GeofenceResult
from tests.unit.geofence_two_rooms import FIX_S, WALL_X, run_fixes, seconds_to_show_b, walk_from_pin

pytestmark = pytest.mark.unit

ACCURACY_M = 2.0


def _run(x: np.ndarray, y: np.ndarray, stationary: np.ndarray) -> GeofenceResult:
    return run_fixes(x, y, ACCURACY_M, stationary)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("pace_mps", [0.6, 0.7, 1.0])
def test_a_released_tag_walking_through_a_doorway_is_shown_in_the_new_room_within_a_second(
    seed: int, pace_mps: float
) -> None:
    # pinned at x = 3.5 for 20 s, then released: walks east through the wall at x = 10 and on to x = 16
    x, y, stationary = walk_from_pin(seed, 3.5, pace_mps)
    result = _run(x, y, stationary)
    assert result.zone_ids[np.count_nonzero(stationary) - 1] == ["a"]
    late = seconds_to_show_b(x, result)
    assert 0.0 <= late <= 1.0, f"shown in b {late:.1f} s after the wall"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_false_release_near_a_wall_does_not_switch_rooms(seed: int) -> None:
    # pinned 1.2 m inside a; released, its fixes wander 0.8 m past the wall for 3 s and come back; pinned again
    rng = np.random.default_rng(seed)
    wander = np.r_[np.linspace(8.8, 10.8, 6), np.full(6, 10.8), np.linspace(10.8, 8.8, 6)]
    x = np.r_[np.full(40, 8.8), wander, np.full(40, 8.8)] + rng.normal(0.0, 0.05, 98)
    y = 20.0 + rng.normal(0.0, 0.05, len(x))
    stationary = np.ones(len(x), bool)
    stationary[40 : 40 + len(wander) + 8] = False
    result = _run(x, y, stationary)
    # (a new tag near a wall gets its first room once pinned for `first_room_pin_s`: in a before the release)
    assert all(zones == ["a"] for zones in result.zone_ids[39:])
    assert not [tr for tr in result.transitions if tr.kind == EXIT]


def test_a_released_tag_heard_again_after_a_silence_far_from_its_pin_is_judged_without_error() -> None:
    # pinned in a, then not heard for 15 s (its speed estimate restarts at rest), heard again released in b
    x = np.r_[np.full(40, 3.5), np.full(2, 3.5), np.full(10, 12.0)]
    y = np.full(len(x), 20.0)
    ts = np.r_[np.arange(42) * FIX_S, 21.0 + 15.0 + np.arange(10) * FIX_S]
    stationary = np.arange(len(x)) < 40
    result = run_fixes(x, y, ACCURACY_M, stationary, ts=ts)
    assert result.zone_ids[41] == ["a"]
    assert result.zone_ids[-1] == ["b"]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_tag_that_walked_off_and_stopped_by_a_wall_does_not_flap_before_it_is_pinned_again(
    seed: int,
) -> None:
    # pinned at x = 3.5 for 20 s, walks east at 1 m/s and stops 0.3 m past the wall; for the 6 s until the tracker
    # pins it again its fixes scatter 0.3 m either way across the wall (far from the old pin, but not moving away)
    rng = np.random.default_rng(seed)
    walk = np.arange(3.5, WALL_X + 0.3, FIX_S)
    x = np.r_[np.full(40, 3.5), walk, WALL_X + 0.3 + rng.normal(0.0, 0.3, 12), np.full(40, WALL_X + 0.3)]
    y = 20.0 + rng.normal(0.0, 0.05, len(x))
    stationary = np.ones(len(x), bool)
    stationary[40 : 40 + len(walk) + 12] = False
    result = _run(x, y, stationary)
    assert [(tr.kind, tr.zone_id) for tr in result.transitions][1:] == [(EXIT, "a"), (ENTER, "b")]
