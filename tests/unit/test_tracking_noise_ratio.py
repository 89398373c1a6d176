"""Fix noise learnt from the innovations: a parked tag whose fixes hop between two minima of the position solve
(static, spatially correlated shadowing) is held where the evidence of both puts it instead of being walked
back and forth between them."""

import numpy as np
import pytest

from core.tracking import TrackBatch, TrackingConfig, track_series, track_update
from realtime.locator import TagStates, _store_track, _track_batch

pytestmark = pytest.mark.unit


def hopping_tag(seed: int = 0) -> tuple[np.ndarray, ...]:
    """A tag parked at (5, 6) for 10 min whose fixes (every 0.5 s, claiming 2.3 m accuracy) sit in runs of
    ~2.5 s either near it or 6 m away, as bench/zones.py's correlated radio gives a tag 0.8 m from a wall."""
    rng = np.random.default_rng(seed)
    ts = np.arange(0.0, 600.0, 0.5)
    far = np.cumsum(rng.random(len(ts)) < 0.2) % 2 == 1
    x = 5.0 + rng.normal(0, 0.5, len(ts))
    y = np.where(far, 12.0, 6.0) + rng.normal(0, 0.5, len(ts))
    return np.zeros(len(ts), int), ts, x, y, np.full(len(ts), 2.3)


def held(config: TrackingConfig | None = None) -> tuple[float, float]:
    """Share of the last 8 min the track is held parked, and how far (m, 95th percentile) it moves in 5 s."""
    tag, ts, x, y, accuracy = hopping_tag()
    out = track_series(tag, ts, x, y, accuracy, config)
    late = ts >= 120.0
    step = np.hypot(out.x[10:] - out.x[:-10], out.y[10:] - out.y[:-10])[late[10:]]
    return float(out.stationary[late].mean()), float(np.percentile(step, 95))


def test_a_tag_whose_fixes_hop_between_two_spots_is_held_parked():
    pinned, moves = held()
    pinned_off, moves_off = held(TrackingConfig(noise_adapt_s=0.0))
    # ~0.96 held, 95 % of 5 s moves within ~1.1 m; with the claimed noise: ~0.21 held, moves up to ~6.3 m
    assert pinned > 0.6 and pinned > pinned_off + 0.3
    assert moves < 0.6 * moves_off


def _learnt() -> TrackBatch:
    """The hopping tag's track after its first 200 s of fixes."""
    tag, ts, x, y, accuracy = hopping_tag()
    batch = TrackBatch.empty(1)
    for t, fx, fy in zip(ts[:400], x[:400], y[:400], strict=True):
        batch, _ = track_update(batch, np.array([fx]), np.array([fy]), np.array([2.3]), t)
    assert batch.noise_ratio is not None and batch.noise_ratio[0] > 1.5
    return batch


def test_the_learnt_noise_survives_the_stored_state():
    batch = _learnt()
    restored = TrackBatch.from_states(batch.to_states())
    assert restored.noise_ratio is not None
    assert restored.noise_ratio[0] == pytest.approx(batch.noise_ratio[0])


def test_the_learnt_noise_survives_the_realtime_live_store_and_older_states_take_fixes_as_claimed():
    batch = _learnt()
    states = TagStates(capacity=1)
    codes = states.intern(["T1"])
    _store_track(states.vec, codes, batch)
    blob = states.pack(states.vec[codes])[0]
    states.load(codes, [blob], np.array([0]))
    restored = _track_batch(states.vec[codes]).noise_ratio
    assert restored is not None and restored[0] == pytest.approx(batch.noise_ratio[0])
    # stored before the ratio was kept (layout RT5, 32 floats): its fixes count as claimed until it learns
    old = b"RT5" + np.ascontiguousarray(states.vec[codes][0, :32], dtype="<f8").tobytes()
    states.load(codes, [old], np.array([0]))
    assert _track_batch(states.vec[codes]).noise_ratio[0] == 1.0


def test_a_noisy_tags_hops_do_not_release_it_but_a_walk_still_does():
    """Its hops come in runs, so its drift wanders farther than its learnt noise allows for independent fixes:
    the drift release threshold grows with the learnt ratio (`drift_noise_power`)."""
    pinned, moves = held()
    pinned_off, moves_off = held(TrackingConfig(drift_noise_power=0.0))
    # ~1.0 held, 95 % of 5 s moves within ~0.13 m; without: ~0.96 held, released on hop runs, moves ~1.1 m
    assert pinned > 0.99 and pinned > pinned_off
    assert moves < 0.5 * moves_off
    # after learning its noise for 200 s the tag walks off at 1 m/s: released within seconds all the same
    tag, ts, x, y, accuracy = hopping_tag()
    rng = np.random.default_rng(1)
    walk_ts = np.arange(200.0, 240.0, 0.5)
    walk_x = 5.0 + (walk_ts - 200.0) + rng.normal(0, 0.5, len(walk_ts))
    walk_y = 6.0 + rng.normal(0, 0.5, len(walk_ts))
    t_all, x_all, y_all = np.r_[ts[:400], walk_ts], np.r_[x[:400], walk_x], np.r_[y[:400], walk_y]
    out = track_series(np.zeros(len(t_all), int), t_all, x_all, y_all, np.full(len(t_all), 2.3))
    walking = t_all >= 200.0
    released = t_all[walking][~out.stationary[walking]]
    assert released[0] - 200.0 <= 5.0  # ~4 s (~3.5 s without the rule)
    at_215 = t_all == 215.0
    assert abs(out.x[at_215][0] - 20.0) < 2.0
