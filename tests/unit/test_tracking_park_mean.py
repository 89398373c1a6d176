"""Park at the still mean: a tag that walks and stops is parked at the mean of its fixes since it began to look
still, so its position right after the stop is as good as that mean, not the walking filter's lagging guess;
the mean survives the per-tag state the realtime path stores."""

import numpy as np
import pytest

from core.tracking import TrackBatch, TrackingConfig, track_series, track_update
from realtime.locator import TagStates, _store_track, _track_batch

pytestmark = pytest.mark.unit

STOP_S, STOP_X, Y = 20.0, 20.0, 5.0


def walk_then_park(tags: int = 100, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Tags walk along x at 1 m/s for 20 s, then park at x = 20. A fix summarises the last 3 s of beacons (it
    lags 1.5 s behind) plus 0.6 m of noise per axis, every 0.5 s."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, 60.0, 0.5)
    ts = np.tile(t, tags)
    tag = np.repeat(np.arange(tags), len(t))
    x = np.tile(np.clip(t - 1.5, 0.0, STOP_S), tags) + rng.normal(0, 0.6, len(ts))
    y = Y + rng.normal(0, 0.6, len(ts))
    return tag, ts, x, y, np.full(len(ts), 1.2)


def settling_error(config: TrackingConfig | None = None) -> float:
    """RMS error of the tracked position 6-15 s after the stop (when the tag has just been parked)."""
    tag, ts, x, y, accuracy = walk_then_park()
    out = track_series(tag, ts, x, y, accuracy, config)
    after = (ts >= STOP_S + 6.0) & (ts < STOP_S + 15.0)
    assert out.stationary[after].mean() > 0.8  # parked by then: this is the parked position's error
    return float(np.sqrt(np.mean(np.hypot(out.x - STOP_X, out.y - Y)[after] ** 2)))


def test_a_tag_that_stops_is_parked_at_the_mean_of_its_still_fixes():
    # the mean of ~8 fixes since it looked still, then a running mean: ~0.28 m; parking at the filter's
    # position (a short exponential average still carrying the walk in) gives ~0.33 m
    assert settling_error() < 0.30
    assert settling_error(TrackingConfig(park_at_still_mean=False)) > settling_error() + 0.03


def test_still_mean_survives_the_stored_state():
    tag, ts, x, y, accuracy = walk_then_park(tags=1)
    straight, restored = TrackBatch.empty(1), TrackBatch.empty(1)
    for k in range(len(ts)):
        straight, out = track_update(straight, x[k : k + 1], y[k : k + 1], accuracy[k : k + 1], ts[k])
        restored = TrackBatch.from_states(restored.to_states())  # every fix goes through the stored state
        restored, out_restored = track_update(
            restored, x[k : k + 1], y[k : k + 1], accuracy[k : k + 1], ts[k]
        )
        assert out_restored.x[0] == pytest.approx(out.x[0], abs=1e-9)
        assert out_restored.y[0] == pytest.approx(out.y[0], abs=1e-9)
    assert out.stationary[0]


def test_still_mean_survives_the_realtime_state_layout():
    # the realtime path stores each tag's state as packed floats between batches (realtime.locator)
    tag, ts, x, y, accuracy = walk_then_park(tags=1)
    states = TagStates(capacity=1)
    codes = states.intern(["T1"])
    straight = TrackBatch.empty(1)
    for k in range(len(ts)):
        straight, out = track_update(straight, x[k : k + 1], y[k : k + 1], accuracy[k : k + 1], ts[k])
        restored, out_restored = track_update(
            _track_batch(states.vec[codes]), x[k : k + 1], y[k : k + 1], accuracy[k : k + 1], ts[k]
        )
        _store_track(states.vec, codes, restored)
        states.load(codes, states.pack(states.vec[codes]), np.array([0]))
        assert out_restored.x[0] == pytest.approx(out.x[0], abs=1e-9)
        assert out_restored.y[0] == pytest.approx(out.y[0], abs=1e-9)


def test_a_state_stored_by_the_previous_layout_mid_settle_parks_at_its_fixes():
    # Stored by the RT4 layout (no still-mean columns) while the tag was settling: read as zeros, the missing mean
    # would say "still at (0, 0)" and park the tag metres off; it loads as unknown and parks at the filter's spot.
    tag, ts, x, y, accuracy = walk_then_park(tags=1)
    batch = TrackBatch.empty(1)
    k = 0
    while not 0 < batch.still_s[0] < 2.0 or ts[k] < STOP_S:
        batch, _ = track_update(batch, x[k : k + 1], y[k : k + 1], accuracy[k : k + 1], ts[k])
        k += 1
    states = TagStates(capacity=1)
    codes = states.intern(["T1"])
    _store_track(states.vec, codes, batch)
    old = b"RT4" + np.ascontiguousarray(states.vec[0, :30], dtype="<f8").tobytes()
    states.load(codes, [old], np.array([0]))
    restored = _track_batch(states.vec[codes])
    assert np.isnan(restored.still_mean).all()
    for j in range(k, k + 20):
        restored, out = track_update(restored, x[j : j + 1], y[j : j + 1], accuracy[j : j + 1], ts[j])
    assert out.stationary[0]
    assert np.hypot(out.x[0] - STOP_X, out.y[0] - Y) < 1.0
