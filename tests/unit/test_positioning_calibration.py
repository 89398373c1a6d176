"""Path-loss calibration and the fingerprint estimator on synthetic sites with known physics."""

import tracemalloc

import numpy as np
import pytest

from core.positioning import (
    FingerprintModel,
    GatewayTable,
    aggregate_windows,
    calibrate,
    estimate_windows,
    expected_rssi,
    fit_path_loss,
)
from core.positioning.fingerprint import dense_rssi

pytestmark = pytest.mark.unit

POINTS = [(0.0, 0.0), (12.0, 0.0), (12.0, 9.0), (0.0, 9.0), (6.0, 4.5)]
TRUE_A = np.array([-48.0, -52.0, -45.0, -50.0, -47.0])
TRUE_N = np.array([2.2, 2.6, 1.9, 3.0, 2.4])


def walk(seed=0, n=3000, noise_db=3.0):
    """A calibration walk over the site, sampled at 5 Hz, with RSSI from the true per-gateway physics."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 5.0
    x = 6.0 + 5.0 * np.sin(t / 23.0) * np.cos(t / 7.0)
    y = 4.5 + 3.8 * np.sin(t / 11.0)
    gw = np.tile(np.arange(5), n)
    ts, xs, ys = np.repeat(t, 5), np.repeat(x, 5), np.repeat(y, 5)
    d = np.sqrt((np.array(POINTS)[gw, 0] - xs) ** 2 + (np.array(POINTS)[gw, 1] - ys) ** 2 + 1.0)
    rssi = expected_rssi(d, TRUE_A[gw], TRUE_N[gw]) + rng.normal(0, noise_db, gw.size)
    return ts, gw, rssi, xs, ys


def default_table():
    rows = [{"gateway_id": f"G{i}", "x": x, "y": y, "z": 2.0} for i, (x, y) in enumerate(POINTS)]
    return GatewayTable.from_rows(rows, default_ref_rssi_1m_dbm=-59.0, default_path_loss_exponent=2.0)


def test_fit_recovers_per_gateway_parameters():
    ts, gw, rssi, xs, ys = walk(noise_db=1.0)
    a, n, counts = fit_path_loss(default_table(), gw, rssi, xs, ys)
    assert np.allclose(a, TRUE_A, atol=1.0)
    assert np.allclose(n, TRUE_N, atol=0.15)
    assert list(counts) == [3000] * 5


def test_calibration_is_kept_because_it_lowers_heldout_error():
    ts, gw, rssi, xs, ys = walk()
    result = calibrate(default_table(), ts, np.zeros(len(ts), int), gw, rssi, xs, ys)
    assert result.heldout_median_after_m < result.heldout_median_before_m
    assert result.fitted.any()
    assert result.tx_offset_sigma_db is not None


def test_calibration_keeps_defaults_when_they_are_already_right():
    rng = np.random.default_rng(3)
    ts, gw, _, xs, ys = walk()
    table = default_table()
    d = np.sqrt((table.x[gw] - xs) ** 2 + (table.y[gw] - ys) ** 2 + 1.0)
    rssi = expected_rssi(d, -59.0, 2.0) + rng.normal(0, 3.0, gw.size)
    result = calibrate(table, ts, np.zeros(len(ts), int), gw, rssi, xs, ys)
    assert np.allclose(result.gateways.ref_rssi_1m_dbm, -59.0, atol=1.5)
    assert np.allclose(result.gateways.path_loss_exponent, 2.0, atol=0.2)


def test_fingerprint_model_locates_held_out_walk():
    table = default_table()
    ts, gw, rssi, xs, ys = walk(seed=1)
    train = aggregate_windows(ts, np.zeros(len(ts), int), gw, rssi, window_s=2.0, fix_interval_s=0.5)
    tx, ty = np.interp(train.fix_ts, ts, xs), np.interp(train.fix_ts, ts, ys)
    model = FingerprintModel.fit(
        train.gateway,
        train.rssi_dbm,
        tx,
        ty,
        gateway_xyz=(table.x, table.y, table.z),
        ref_rssi_1m_dbm=TRUE_A,
        path_loss_exponent=TRUE_N,
        ts_s=train.fix_ts,
    )
    ts2, gw2, rssi2, xs2, ys2 = walk(seed=2, n=600)
    test = aggregate_windows(ts2 + 3.0, np.zeros(len(ts2), int), gw2, rssi2, window_s=2.0)
    fixes = estimate_windows(table, test, fingerprint=model)
    error = np.hypot(
        fixes.x - np.interp(test.fix_ts, ts2 + 3.0, xs2), fixes.y - np.interp(test.fix_ts, ts2 + 3.0, ys2)
    )
    assert set(fixes.method_names) == {"fingerprint"}
    assert np.median(error) < 1.0
    assert 0.5 < np.mean(error <= fixes.accuracy_m) < 0.9


def warehouse(seed=0, width=60.0, depth=40.0, spacing=10.0):
    """A warehouse floor: gateways every `spacing` m, a calibration walk in lanes 2 m apart (a window every
    0.5 m, its 8 strongest gateways, 3 dB noise) and held-out points anywhere on the floor."""
    rng = np.random.default_rng(seed)
    gx, gy = (v.ravel() for v in np.meshgrid(np.arange(5.0, width, spacing), np.arange(5.0, depth, spacing)))

    def windows(x, y):
        d = np.hypot(x[:, None] - gx, y[:, None] - gy)
        rssi = expected_rssi(np.maximum(d, 0.5), -59.0, 2.0) + rng.normal(0, 3.0, d.shape)
        strongest = np.argsort(-rssi, axis=1)[:, :8]
        return strongest, np.take_along_axis(rssi, strongest, axis=1)

    lanes = [(x, y) for k, y in enumerate(np.arange(1.0, depth, 2.0))
             for x in (np.arange(1.0, width - 1, 0.5)[:: 1 if k % 2 == 0 else -1])]  # fmt: skip
    tx, ty = np.array(lanes).T
    qx, qy = rng.uniform(2, width - 2, 2000), rng.uniform(2, depth - 2, 2000)
    model = FingerprintModel.fit(
        *windows(tx, ty),
        tx,
        ty,
        gateway_xyz=(gx, gy, np.full(len(gx), np.nan)),
        ref_rssi_1m_dbm=np.full(len(gx), -59.0),
        path_loss_exponent=np.full(len(gx), 2.0),
        ts_s=np.arange(len(tx), dtype=float),
    )
    return model, windows(qx, qy), qx, qy


def test_fingerprint_two_pass_search_agrees_with_scoring_every_cell():
    model, (gw, rssi), qx, qy = warehouse(width=30.0, depth=20.0, spacing=6.0)
    assert model._grid() is not None  # a regular grid, larger than the search window: both passes run
    features = dense_rssi(gw, rssi, model.expected.shape[1])
    x, y, spread, ok = model._posterior(features)
    fx, fy, fspread, fok = model._posterior(features, local=False)
    assert ok.all() and fok.all()
    moved = np.hypot(x - fx, y - fy)
    assert np.median(moved) < 0.02  # the window holds nearly all of the posterior's mass...
    assert np.percentile(moved, 75) < 0.05
    assert np.median(np.abs(spread - fspread)) < 0.05
    # ... and where it does not (a broad or two-moded posterior), the fix is no worse
    assert np.median(np.hypot(x - qx, y - qy)) <= np.median(np.hypot(fx - qx, fy - qy)) + 0.02


def test_fingerprint_on_a_warehouse_floor_trains_and_locates_in_bounded_memory():
    # 60 x 40 m at 10 cm is 240,000 cells: scoring every cell for 2,000 fixes at once, or weighting every
    # training window for every cell, would need gigabytes
    tracemalloc.start()
    try:
        model, (gw, rssi), qx, qy = warehouse()
        x, y, accuracy, ok = model.predict(gw, rssi)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(model.cell_x) > 200_000
    assert peak < 400e6
    assert ok.all()
    error = np.hypot(x - qx, y - qy)
    assert np.median(error) < 2.5  # gateways 10 m apart, 3 dB per window
    features = dense_rssi(gw[:300], rssi[:300], model.expected.shape[1])
    fx, fy, _, _ = model._posterior(features, local=False)
    assert np.median(error[:300]) <= np.median(np.hypot(fx - qx[:300], fy - qy[:300])) + 0.02
