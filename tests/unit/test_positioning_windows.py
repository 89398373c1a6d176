"""Event-time window aggregation."""

import numpy as np
import pytest

from core.positioning import aggregate_windows

pytestmark = pytest.mark.unit


def test_trimmed_mean_ignores_a_multipath_fade():
    ts = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    rssi = np.array([-60, -61, -59, -60, -95, -60, -61, -59, -60, -60], dtype=float)  # one deep fade
    w = aggregate_windows(
        ts,
        np.zeros(10, int),
        np.zeros(10, int),
        rssi,
        window_s=2.0,
        eval_ts=np.array([1.0]),
        eval_tag=np.array([0]),
    )
    assert w.rssi_dbm[0, 0] == pytest.approx(-60.0, abs=0.2)
    assert w.sample_count[0, 0] == 10
    assert w.age_s[0, 0] == pytest.approx(0.0)


def test_window_is_half_open_and_per_tag():
    ts = np.array([0.0, 1.0, 2.0, 2.0])
    tag = np.array(["A", "A", "A", "B"])
    gw = np.array([0, 0, 0, 1])
    rssi = np.array([-50.0, -60.0, -70.0, -40.0])
    w = aggregate_windows(
        ts, tag, gw, rssi, window_s=2.0, eval_ts=np.array([2.0, 2.0]), eval_tag=np.array(["A", "B"])
    )
    # (0, 2] for tag A holds the samples at 1 and 2 s, not the one at 0 s.
    assert list(w.tag_ids[w.fix_tag]) == ["A", "B"]
    assert w.sample_count[0, 0] == 2 and w.rssi_dbm[0, 0] == pytest.approx(-65.0)
    assert w.gateway[1, 0] == 1 and w.rssi_dbm[1, 0] == -40.0


def test_grid_of_fixes_every_interval_while_heard_and_strongest_first():
    rng = np.random.default_rng(0)
    n = 600
    ts = np.sort(rng.uniform(100.0, 110.0, n))
    gw = rng.integers(0, 10, n)
    rssi = -40.0 - 3.0 * gw + rng.normal(0, 0.5, n)  # gateway 0 loudest
    gw[ts > 105.0] = -1  # unknown gateways are ignored
    w = aggregate_windows(ts, np.zeros(n, int), gw, rssi, window_s=2.0, fix_interval_s=0.5, max_gateways=4)
    assert w.fix_ts[0] == pytest.approx(100.5) and w.fix_ts[-1] <= 107.0
    assert np.allclose(np.diff(w.fix_ts), 0.5)
    assert w.gateway.shape[1] == 4
    assert list(w.gateway[5]) == [0, 1, 2, 3]
    assert np.all(np.diff(w.rssi_dbm, axis=1) < 0)
    assert np.all(w.gateway_count == 4)


def test_rejects_bad_window_length():
    with pytest.raises(ValueError, match="window_s must be positive"):
        aggregate_windows(np.zeros(1), np.zeros(1), np.zeros(1, int), np.zeros(1), window_s=0)
