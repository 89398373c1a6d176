"""Every zone event says why it happened and on what evidence (reason, depth, accuracy, margin), so a person can
check a surprising enter or exit against the floor plan. One scripted track per rule of the membership."""

from __future__ import annotations

import numpy as np
import pytest

from core.geofence import ENTER, EXIT, GeofenceResult, ZoneTransition
from tests.unit.geofence_two_rooms import FIX_S, run_fixes

pytestmark = pytest.mark.unit


def _events(result: GeofenceResult) -> list[tuple[str, str, str | None]]:
    return [(t.zone_id, t.kind, t.reason) for t in result.transitions]


def _event(result: GeofenceResult, zone_id: str, kind: str) -> ZoneTransition:
    (event,) = [t for t in result.transitions if t.zone_id == zone_id and t.kind == kind]
    return event


def _along(x: np.ndarray, accuracy_m: float, stationary: np.ndarray | None = None, **kw) -> GeofenceResult:  # type: ignore[no-untyped-def]
    return run_fixes(x, np.full(len(x), 20.0), accuracy_m, stationary, **kw)


def test_a_walk_through_the_wall_leaves_a_by_entering_b_past_the_margin() -> None:
    result = _along(np.arange(5.0, 15.0, 1.0 * FIX_S), 1.0)
    assert _events(result) == [
        ("a", ENTER, "inside_margin"),
        ("a", EXIT, "entered_other"),
        ("b", ENTER, "inside_margin"),
    ]
    entered = _event(result, "b", ENTER)
    # walking out of its room, the tag is judged on a smaller margin than its 1 m accuracy asks of a parked tag
    assert entered.accuracy_m == 1.0 and entered.margin_m is not None and entered.margin_m < 1.0
    assert entered.depth_m is not None and entered.depth_m >= entered.margin_m
    left = _event(result, "a", EXIT)
    assert left.depth_m == pytest.approx(-entered.depth_m) and left.dwell_s == pytest.approx(entered.ts - 0.5)


def test_a_tag_parked_just_inside_is_admitted_by_the_dwell_time() -> None:
    result = _along(np.full(40, 10.3), 1.0)  # 0.3 m inside b, never past the 1 m margin
    (entered,) = result.transitions
    assert (entered.zone_id, entered.reason, entered.ts) == ("b", "dwelled", 5.0)
    assert entered.depth_m == pytest.approx(0.3) and entered.margin_m == 1.0


def test_a_tag_that_lingers_in_the_next_room_switches_on_its_mean_depth() -> None:
    """Clearly in a, then (after a gap, so no walk was seen) 1.8 m inside b: short of its 2.5 m margin, a switch
    by lingering, with the mean depth it lingered at as the evidence."""
    ts = np.r_[np.arange(20) * FIX_S, 70.0 + np.arange(40) * FIX_S]
    result = _along(np.r_[np.full(20, 3.0), np.full(40, 11.8)], 2.5, ts=ts)
    assert _events(result) == [
        ("a", ENTER, "inside_margin"),
        ("a", EXIT, "entered_other"),
        ("b", ENTER, "lingered"),
    ]
    entered = _event(result, "b", ENTER)
    assert entered.depth_m == pytest.approx(1.8) and entered.margin_m == 2.5 and entered.ts > 70.0


def test_a_tag_walking_out_of_every_zone_leaves_past_the_margin() -> None:
    result = _along(np.r_[np.full(10, 15.0), np.arange(15.0, 25.0, FIX_S)], 1.0)
    left = _event(result, "b", EXIT)
    assert left.reason == "outside_margin"
    assert left.depth_m is not None and left.margin_m is not None and left.depth_m <= -left.margin_m


def test_a_new_tag_pinned_by_a_wall_gets_its_first_room_from_the_tracker() -> None:
    result = _along(np.full(60, 9.7), 1.0, np.ones(60, bool))
    (entered,) = result.transitions
    assert (entered.zone_id, entered.reason, entered.ts) == ("a", "first_room", 15.0)  # pinned 15 s


def test_a_tag_that_walked_out_of_its_room_and_stopped_just_past_the_wall_settles_there() -> None:
    """Pinned in a, walks 8.6 m east and stops 0.1 m inside b, where the tracker pins it again."""
    walk = np.arange(1.5, 10.1, FIX_S)
    x = np.r_[np.full(40, 1.5), walk, np.full(60, 10.1)]
    stationary = np.r_[np.ones(40, bool), np.zeros(len(walk) + 8, bool), np.ones(52, bool)]
    result = _along(x, 1.0, stationary)
    assert _events(result)[1:] == [("a", EXIT, "entered_other"), ("b", ENTER, "settled")]
    assert _event(result, "b", ENTER).depth_m == pytest.approx(0.1)
