"""Stillness in signal space: a parked tag's radio picture holds it parked; a real move lets it go."""

from __future__ import annotations

import dataclasses

import numpy as np

from core.positioning.windows import Windows
from core.stillness import SignalReference, SignalWindows, StillnessConfig, judge, update
from core.tracking import track_series

GATEWAYS = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0], [5.0, -4.0], [5.0, 14.0]])


def _window(rng: np.random.Generator, x: float, y: float, n: int = 3, fading_db: float = 3.0):  # type: ignore[no-untyped-def]
    """One 3-sample window of every gateway: path loss with n = 2.2 plus fast fading."""
    d = np.maximum(np.hypot(GATEWAYS[:, 0] - x, GATEWAYS[:, 1] - y), 0.5)
    samples = -59.0 - 22.0 * np.log10(d)[:, None] + rng.normal(0, fading_db, (len(d), n))
    return np.arange(len(d)), samples.mean(axis=1), np.full(len(d), n), samples.var(axis=1, ddof=1)


def _signal(rng: np.random.Generator, x: float, y: float) -> SignalWindows:
    return SignalWindows(*(a[None] for a in _window(rng, x, y)))


def _windows(rng: np.random.Generator, seconds: np.ndarray, true_x: np.ndarray) -> Windows:
    """One tag's windows at `seconds`, the tag at (true_x, 5)."""
    rows = [_window(rng, float(tx), 5.0) for tx in true_x]
    return Windows(
        tag_ids=np.array(["t"]),
        fix_tag=np.zeros(len(seconds), np.int64),
        fix_ts=seconds,
        gateway=np.stack([r[0] for r in rows]),
        rssi_dbm=np.stack([r[1] for r in rows]),
        sample_count=np.stack([r[2] for r in rows]),
        age_s=np.zeros((len(seconds), len(GATEWAYS))),
        rssi_var=np.stack([r[3] for r in rows]),
    )


def _reference_after(rng: np.random.Generator, x: float, y: float, fixes: int) -> SignalReference:
    config = StillnessConfig()
    ref = SignalReference.empty(1, config.slots)
    for _ in range(fixes):
        signal = _signal(rng, x, y)
        _, score = judge(ref, signal, config)
        ref = update(ref, np.array([True]), signal, score, config)
    return ref


def test_a_parked_tag_matches_its_reference_and_a_moved_one_does_not() -> None:
    rng = np.random.default_rng(3)
    config = StillnessConfig()
    ref = _reference_after(rng, 4.0, 5.0, 60)  # 30 s parked at 2 fixes/s
    assert np.isclose(np.sqrt(ref.fading_var[0]), 3.0, atol=0.3)  # learnt from the windows themselves

    alone = dataclasses.replace(ref, score=np.full(1, np.nan))  # each window judged on its own

    def share_held(x: float, y: float) -> float:
        return float(np.mean([judge(alone, _signal(rng, x, y), config)[0][0] for _ in range(400)]))

    assert share_held(4.0, 5.0) > 0.75  # mean χ² of 6 gateways under 1.5: ~82 % of still windows
    # A tag that walked off: 3 m away a window of 3 samples still matches now and then, 5 m away hardly ever
    # (the position's own tests release it meanwhile; the hold only keeps a parked tag from hopping)
    assert share_held(7.0, 5.0) < 0.25
    assert share_held(9.0, 5.0) < 0.05


def test_a_tag_that_is_not_parked_forgets_its_reference_and_new_gateways_take_free_slots() -> None:
    rng = np.random.default_rng(4)
    config = StillnessConfig()
    ref = _reference_after(rng, 4.0, 5.0, 5)
    assert sorted(ref.gateway[0][ref.gateway[0] >= 0].tolist()) == list(range(len(GATEWAYS)))
    signal = _signal(rng, 4.0, 5.0)
    moved = update(ref, np.array([False]), signal, judge(ref, signal, config)[1], config)
    assert (moved.gateway == -1).all() and (moved.weight == 0).all() and np.isnan(moved.score).all()
    assert np.isfinite(moved.fading_var).all()  # the radio's fading is kept


def test_hopping_fixes_of_a_parked_tag_do_not_release_it_when_its_windows_are_given() -> None:
    """Fixes that hop between two solve minima 2.5 m apart in runs of seconds (correlated shadowing) while
    the radio picture stays the same: with its windows the tracker keeps the tag parked."""
    rng = np.random.default_rng(5)
    seconds = np.arange(0, 300, 0.5)
    hop = (seconds // 6) % 4 == 3  # a 6 s run at the other minimum every 24 s
    x = np.where(hop, 6.5, 4.0) + rng.normal(0, 0.4, len(seconds))
    y = 5.0 + rng.normal(0, 0.4, len(seconds))
    acc = np.full(len(seconds), 1.2)
    windows = _windows(rng, seconds, np.full(len(seconds), 4.0))
    tags = np.zeros(len(seconds), np.int64)
    alone = track_series(tags, seconds, x, y, acc)
    held = track_series(tags, seconds, x, y, acc, windows=windows)
    late = seconds > 30
    releases_alone = int(np.count_nonzero(alone.stationary[:-1] & ~alone.stationary[1:]))
    releases_held = int(np.count_nonzero(held.stationary[:-1] & ~held.stationary[1:]))
    assert releases_alone >= 3  # the position alone cannot tell a hop from a move
    assert releases_held <= 1
    assert held.stationary[late].mean() > 0.95
    assert np.abs(held.x[late] - 4.0).max() < np.abs(alone.x[late] - 4.0).max()


def _walk_off(rng: np.random.Generator, seconds: np.ndarray, start_s: float):  # type: ignore[no-untyped-def]
    """A tag parked at (4, 5) that walks off along x at 1 m/s from `start_s`: noisy fixes and its windows."""
    true_x = 4.0 + np.clip(seconds - start_s, 0, None)
    x = true_x + rng.normal(0, 0.5, len(seconds))
    y = 5.0 + rng.normal(0, 0.5, len(seconds))
    return x, y, _windows(rng, seconds, true_x)


def test_a_parked_tag_that_walks_off_is_let_go_about_as_soon_as_without_the_signal_test() -> None:
    lags_alone, lags_held = [], []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        seconds = np.arange(0, 90, 0.5)
        x, y, windows = _walk_off(rng, seconds, start_s=60.0)
        tags, acc = np.zeros(len(seconds), np.int64), np.full(len(seconds), 1.0)
        for out, lags in (
            (track_series(tags, seconds, x, y, acc), lags_alone),
            (track_series(tags, seconds, x, y, acc, windows=windows), lags_held),
        ):
            assert out.stationary[(seconds > 20) & (seconds < 60)].mean() > 0.9  # parked before the walk
            walking = seconds >= 60.0
            lags.append(float(seconds[walking][~out.stationary[walking]][0] - 60.0))  # first fix released
    assert np.median(lags_held) <= np.median(lags_alone) + 1.0
    assert max(lags_held) < 8.0


def test_the_signal_reference_round_trips_through_the_live_store_and_older_states_start_without_one() -> None:
    from realtime.locator import _LEGACY, TagStates, _signal_reference, _store_signal

    rng = np.random.default_rng(6)
    ref = _reference_after(rng, 4.0, 5.0, 20)
    states = TagStates(capacity=1)
    codes = states.intern(["T1"])
    _store_signal(states.vec, codes, ref)
    blob = states.pack(states.vec[codes])[0]
    fresh = TagStates(capacity=1)
    fresh.load(fresh.intern(["T1"]), [blob], np.array([0]))
    restored = _signal_reference(fresh.vec[codes])
    for name in ("gateway", "total", "weight", "fading_var", "fading_dof", "score"):
        assert np.array_equal(getattr(restored, name), getattr(ref, name), equal_nan=True), name
    # a state stored before the reference existed (RT6) reads as "no reference": nothing is held
    old = b"RT6" + np.ascontiguousarray(states.vec[0, : _LEGACY[b"RT6"]], dtype="<f8").tobytes()
    fresh.load(codes, [old], np.array([0]))
    empty = _signal_reference(fresh.vec[codes])
    assert (empty.gateway == -1).all() and np.isnan(empty.score).all()
    assert not judge(empty, _signal(rng, 4.0, 5.0), StillnessConfig())[0].any()
