"""Pin memory: a parked tag released by a few odd fixes that settles again where it was goes straight back to its
old pin, and to a pin it had held long with that pin's certainty; a tag that really walks off starts at the pace
its drift shows and is not pulled back; the memory survives the realtime state layout, and states stored by the
previous layouts load as "never pinned"."""

import numpy as np
import pytest

from core.tracking import TrackBatch, TrackingConfig, track_update
from realtime.locator import _LEGACY, STATE_MAGIC, STATE_WIDTH, TagStates, _store_track, _track_batch

pytestmark = pytest.mark.unit

WITHOUT_MEMORY = TrackingConfig(pin_memory_s=0.0, release_speed_s=0.0)


def run(fixes_x, fixes_y, accuracy=1.0, dt=0.5, config=None):
    batch = TrackBatch.empty(1)
    outputs = []
    for k, (x, y) in enumerate(zip(fixes_x, fixes_y, strict=True)):
        batch, out = track_update(batch, [x], [y], [accuracy], k * dt, config=config)
        outputs.append(out)
    return batch, outputs


# A multipath burst that releases a parked tag: six fixes 1.8 m off. Within the reach of a walk from the pin, so
# not set aside as a hop (core/tracking.py); their drift releases the tag.
BURST = [6.8] * 6


def parked_burst_back():
    """Parked at (5, 5) for 30 s, the burst (it releases the tag), back at (5, 5)."""
    rng = np.random.default_rng(0)
    x = np.r_[5.0 + rng.normal(0, 0.4, 60), BURST, 5.0 + rng.normal(0, 0.4, 40)]
    return x, 5.0 + rng.normal(0, 0.4, len(x))


def released_by_burst(outputs, start):
    """Index of the burst's fix (it starts at fix `start`) that released the parked tag."""
    assert outputs[start - 1].stationary[0]
    return next(i for i in range(start, start + len(BURST)) if not outputs[i].stationary[0])


def repinned(outputs):
    """Index of the first fix the tag is held parked again after the burst released it."""
    release = released_by_burst(outputs, 60)
    return next(i for i in range(release + 1, len(outputs)) if outputs[i].stationary[0])


def test_falsely_released_tag_goes_back_to_its_old_pin_soon():
    _, outputs = run(*parked_burst_back())
    back = repinned(outputs)
    held = released_by_burst(outputs, 60) - 1  # the last fix it was held at its pin
    pin = outputs[held].x[0], outputs[held].y[0]
    # where it was held, averaged over 30 s of fixes, not wherever the wander after the release ended
    assert np.hypot(outputs[back].x[0] - pin[0], outputs[back].y[0] - pin[1]) < 1e-9
    assert back <= 60 + len(BURST) + 6  # 3 s after the burst; without memory it must look still for 4 s
    _, without = run(*parked_burst_back(), config=WITHOUT_MEMORY)
    assert repinned(without) > back


def burst_back_pull(parked_s, seed):
    """Parked at (5, 5) for `parked_s`, the burst releases it, 5 s of fixes back at (5, 5) return it to its pin,
    then 2 s of fixes 1.5 m off (the burst's tail) pull at the returned pin."""
    rng = np.random.default_rng(seed)
    n = int(parked_s / 0.5)
    x = np.r_[5.0 + rng.normal(0, 0.4, n), BURST, 5.0 + rng.normal(0, 0.4, 10), [6.5] * 4]
    return (x, 5.0 + rng.normal(0, 0.4, len(x))), n


def pull_on_return(parked_s, seed, config=None):
    """How far the pin moves during the pull, and whether the tag was held parked through it."""
    fixes, n = burst_back_pull(parked_s, seed)
    _, outputs = run(*fixes, config=config)
    # released by the burst, then returned to its pin
    released_by_burst(outputs, n)
    tail = n + len(BURST) + 10
    assert outputs[tail - 1].stationary[0]
    pulled = outputs[tail : tail + 4]
    return max(abs(o.x[0] - outputs[n - 1].x[0]) for o in pulled), all(o.stationary[0] for o in pulled)


@pytest.mark.parametrize("seed", range(4))
def test_tag_returned_to_a_long_held_pin_keeps_its_certainty(seed):
    # Held two minutes: the pin is an average of minutes of fixes and the return gives it back its variance.
    moved, held = pull_on_return(120.0, seed)
    assert held and moved < 0.1
    # Returned with the covariance its track grew while it followed the burst, the tail pulls it 0.35 m or
    # more, four times as far (bench/zones.py: one parked tag slid 2 m over a wall this way).
    moved_off, _ = pull_on_return(120.0, seed, TrackingConfig(pin_return_held_s=float("inf")))
    assert moved_off > 0.3
    # A pin held only 30 s (a walker's pause may be settling into it) is returned as before the rule.
    assert pull_on_return(30.0, seed) == pull_on_return(
        30.0, seed, TrackingConfig(pin_return_held_s=float("inf"))
    )


def test_tag_that_walks_off_is_not_pulled_back_to_its_old_pin():
    rng = np.random.default_rng(1)
    t = np.arange(140) * 0.5
    true_x = np.clip(5.0 + 1.0 * (t - 30), 5.0, 17.0)  # parked 30 s at x = 5, walks 12 m, parks at x = 17
    _, outputs = run(true_x + rng.normal(0, 0.5, len(t)), 5.0 + rng.normal(0, 0.5, len(t)))
    assert outputs[55].stationary[0] and outputs[-1].stationary[0]
    assert outputs[-1].x[0] == pytest.approx(17.0, abs=0.5)


def test_release_starts_the_track_at_the_pace_of_its_drift():
    rng = np.random.default_rng(4)
    t = np.arange(120) * 0.5
    true_x = np.where(t < 30, 5.0, 5.0 + 0.3 * (t - 30))  # parked 30 s, then pushed slowly along x
    x, y = true_x + rng.normal(0, 0.3, len(t)), 5.0 + rng.normal(0, 0.3, len(t))
    for config, moving in ((None, True), (WITHOUT_MEMORY, False)):
        _, outputs = run(x, y, config=config)
        release = next(
            i for i in range(60, len(t)) if outputs[i - 1].stationary[0] and not outputs[i].stationary[0]
        )
        assert (
            bool(outputs[release].vx[0] > 0.1) == moving
        )  # from rest, the velocity builds up only fix by fix


def _row_of(batch: TrackBatch) -> np.ndarray:
    states = TagStates(capacity=1)
    states.intern(["T1"])
    _store_track(states.vec, np.array([0]), batch)
    states.vec[0, 0] = batch.ts[0]
    return states.vec[0].copy()


def test_pin_memory_round_trips_through_the_live_store_layout():
    batch, _ = run(*parked_burst_back())
    assert np.isfinite(batch.pin).all() and np.isfinite(batch.pin_ts).all()
    states = TagStates(capacity=2)
    codes = states.intern(["T1"])
    blob = states.pack(_row_of(batch)[None, :])[0]
    assert blob.startswith(STATE_MAGIC) and len(blob) == STATE_WIDTH * 8 + len(STATE_MAGIC)
    states.load(codes, [blob], np.array([0]))
    restored = _track_batch(states.vec[codes])
    assert np.array_equal(restored.pin, batch.pin) and np.array_equal(restored.pin_ts, batch.pin_ts)
    assert np.isfinite(batch.pin_var).all() and np.isfinite(batch.pin_since).all()
    assert np.array_equal(restored.pin_var, batch.pin_var) and np.array_equal(
        restored.pin_since, batch.pin_since
    )


@pytest.mark.parametrize("magic", sorted(_LEGACY))
def test_states_stored_by_older_layouts_load_as_never_pinned(magic):
    # A tag just released at (0.5, 0.3) at t = 2 s, stored by an older version (no pin fields). Read as zeros,
    # the missing fields would say "pinned at (0, 0) at t = 0" and pull the tag there as soon as it looks still.
    batch, _ = run([0.5] * 4, [0.3] * 4)
    row = _row_of(batch)
    old = magic + np.ascontiguousarray(row[: _LEGACY[magic]], dtype="<f8").tobytes()
    states = TagStates(capacity=1)
    codes = states.intern(["T1"])
    states.load(codes, [old], np.array([0]))
    loaded = _track_batch(states.vec[codes])
    assert np.isnan(loaded.pin).all() and np.isneginf(loaded.pin_ts).all()
    assert np.isnan(loaded.pin_var).all() and np.isnan(loaded.pin_since).all()
    assert np.allclose(loaded.state, batch.state) and loaded.active[0]
    rng = np.random.default_rng(3)
    for k in range(12):
        loaded, out = track_update(
            loaded, [0.5 + rng.normal(0, 0.1)], [0.3 + rng.normal(0, 0.1)], [1.0], 2.0 + 0.5 * k
        )
        assert np.hypot(out.x[0] - 0.5, out.y[0] - 0.3) < 0.3
