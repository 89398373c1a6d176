"""Batch estimator throughput: fixes per second of `estimate_batch` vs a per-fix scipy loop on the same inputs.

Inputs: a 60 x 40 m site with 30 gateways; each fix hears its 3-8 nearest gateways (uniformly), with RSSI from
the path-loss model plus 5 dB noise. The batch path runs all fixes in one call; the loop calls
`scipy.optimize.least_squares` (soft-L1 loss, bounded, same dB-domain model and unknowns x, y, offset) once per
fix on a subset. Figures are fixes per second of CPU time on one core (`time.process_time`), so a busy shared
machine does not distort them; wall-clock is printed too. Median of `--repeats` runs.

The fingerprint model on the same site (60 x 40 m at 10 cm: ~230,000 cells), trained on a calibration walk in
lanes 2 m apart (a window every 0.5 m, its 8 strongest gateways, 5 dB noise): training time and peak memory
(tracemalloc), then fixes/s of its two-pass search against scoring every cell (the reference; a subset of the
fixes), with both median errors.

Usage: uv run python bench/estimator.py [--fixes 100000] [--loop-fixes 1000] [--repeats 5]. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import tracemalloc

import numpy as np
from scipy.optimize import least_squares

from core.positioning import EstimatorConfig, FingerprintModel, GatewayTable, estimate_batch
from core.positioning.fingerprint import dense_rssi

A, N = -59.0, 2.0


def make_inputs(
    n_fixes: int, seed: int = 0
) -> tuple[GatewayTable, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xs, ys = np.meshgrid(np.linspace(3, 57, 6), np.linspace(3, 37, 5))
    rows = [
        {"gateway_id": f"GW{i}", "x": float(x), "y": float(y), "z": 3.0}
        for i, (x, y) in enumerate(zip(xs.ravel(), ys.ravel(), strict=True))
    ]
    gateways = GatewayTable.from_rows(rows, default_ref_rssi_1m_dbm=A, default_path_loss_exponent=N)
    tx, ty = rng.uniform(0, 60, n_fixes), rng.uniform(0, 40, n_fixes)
    distance2 = (gateways.x - tx[:, None]) ** 2 + (gateways.y - ty[:, None]) ** 2
    nearest = np.argsort(distance2, axis=1)[:, :8]
    heard = np.arange(8) < rng.integers(3, 9, n_fixes)[:, None]
    gw = np.where(heard, nearest, -1)
    d = np.sqrt(np.take_along_axis(distance2, nearest, axis=1) + 4.0)
    rssi = np.where(heard, A - 10 * N * np.log10(d) + rng.normal(0, 5.0, d.shape), np.nan)
    return gateways, gw, rssi, tx, ty


def loop_estimate(
    gateways: GatewayTable, gw: np.ndarray, rssi: np.ndarray, config: EstimatorConfig
) -> np.ndarray:
    """The textbook way: one bounded robust least-squares solve per fix."""
    out = np.empty((len(gw), 2))
    box = gateways.bounds(config.site_margin_m)
    dz2 = (gateways.z - config.tag_height_m) ** 2
    for i in range(len(gw)):
        idx = gw[i][gw[i] >= 0]
        r = rssi[i][gw[i] >= 0]
        gx, gy = gateways.x[idx], gateways.y[idx]

        def residuals(
            p: np.ndarray, gx: np.ndarray = gx, gy: np.ndarray = gy, idx: np.ndarray = idx, r: np.ndarray = r
        ) -> np.ndarray:
            d = np.sqrt((p[0] - gx) ** 2 + (p[1] - gy) ** 2 + dz2[idx])
            model = A + p[2] - 10 * N * np.log10(np.maximum(d, 0.1))
            return np.append((r - model) / 5.0, p[2] / config.tx_offset_sigma_db)

        weight = 10 ** (r / 20.0)
        start = [
            np.clip(np.average(gx, weights=weight), box[0], box[2]),
            np.clip(np.average(gy, weights=weight), box[1], box[3]),
            0.0,
        ]
        fit = least_squares(
            residuals, start, loss="soft_l1", bounds=([box[0], box[1], -40], [box[2], box[3], 40])
        )
        out[i] = fit.x[:2]
    return out


def fingerprint_figures(
    gateways: GatewayTable, gw: np.ndarray, rssi: np.ndarray, tx: np.ndarray, ty: np.ndarray, repeats: int
) -> dict[str, float]:
    rng = np.random.default_rng(1)
    lanes = [(x, y) for k, y in enumerate(np.arange(1.0, 40.0, 2.0))
             for x in np.arange(1.0, 59.0, 0.5)[:: 1 if k % 2 == 0 else -1]]  # fmt: skip
    wx, wy = np.array(lanes).T
    d = np.sqrt((gateways.x - wx[:, None]) ** 2 + (gateways.y - wy[:, None]) ** 2 + 4.0)
    heard = A - 10 * N * np.log10(d) + rng.normal(0, 5.0, d.shape)
    strongest = np.argsort(-heard, axis=1)[:, :8]

    def fit() -> FingerprintModel:
        return FingerprintModel.fit(
            strongest,
            np.take_along_axis(heard, strongest, axis=1),
            wx,
            wy,
            gateway_xyz=(gateways.x, gateways.y, gateways.z),
            ref_rssi_1m_dbm=gateways.ref_rssi_1m_dbm,
            path_loss_exponent=gateways.path_loss_exponent,
            ts_s=np.arange(len(wx), dtype=float),
        )

    cpu = time.process_time()
    model = fit()
    fit_s = time.process_time() - cpu
    tracemalloc.start()  # a second fit for the memory: tracing allocations slows the one timed above
    fit()
    fit_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    n = min(len(gw), 5_000)
    rates = []
    for _ in range(repeats):
        cpu = time.process_time()
        x, y, _, _ = model.predict(gw[:n], rssi[:n])
        rates.append(n / (time.process_time() - cpu))
    features = dense_rssi(gw[:n], rssi[:n], len(gateways))  # (fix, gateway) RSSI, as the model scores it
    m = min(n, 300)
    cpu = time.process_time()
    fx, fy, _, _ = model._posterior(features[:m], local=False)
    full_rate = m / (time.process_time() - cpu)
    rate = statistics.median(rates)
    error = np.hypot(x - tx[:n], y - ty[:n])
    full_error = np.hypot(fx - tx[:m], fy - ty[:m])
    print(
        f"fingerprint: {len(model.cell_x):,} cells, {len(wx):,} training windows; trained in {fit_s:.1f} s CPU, "
        f"peak {fit_peak / 1e6:.0f} MB"
    )
    print(
        f"fingerprint two-pass: {rate:,.0f} fixes/s CPU (runs: {', '.join(f'{r:,.0f}' for r in rates)}); "
        f"median error {np.median(error):.2f} m ({np.median(error[:m]):.2f} m on the reference's fixes); "
        f"every cell (reference): {full_rate:,.0f} fixes/s on {m} fixes, median error {np.median(full_error):.2f} m; "
        f"speed-up {rate / full_rate:,.0f}x"
    )
    return {
        "fingerprint_fixes_per_s": round(rate),
        "fingerprint_every_cell_fixes_per_s": round(full_rate),
        "fingerprint_ratio": round(rate / full_rate, 1),
        "fingerprint_fit_s": round(fit_s, 1),
        "fingerprint_fit_peak_mb": round(fit_peak / 1e6),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixes", type=int, default=100_000)
    parser.add_argument("--loop-fixes", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    config = EstimatorConfig()
    gateways, gw, rssi, tx, ty = make_inputs(args.fixes)
    estimate_batch(gateways, gw[:1000], rssi[:1000], config=config)  # warm-up

    batch_rates, batch_wall = [], []
    for _ in range(args.repeats):
        cpu, wall = time.process_time(), time.perf_counter()
        fixes = estimate_batch(gateways, gw, rssi, config=config)
        batch_rates.append(args.fixes / (time.process_time() - cpu))
        batch_wall.append(args.fixes / (time.perf_counter() - wall))
    error = np.hypot(fixes.x - tx, fixes.y - ty)
    loop_rates = []
    for _ in range(max(1, args.repeats // 2)):
        cpu = time.process_time()
        looped = loop_estimate(gateways, gw[: args.loop_fixes], rssi[: args.loop_fixes], config)
        loop_rates.append(args.loop_fixes / (time.process_time() - cpu))
    loop_error = np.hypot(looped[:, 0] - tx[: args.loop_fixes], looped[:, 1] - ty[: args.loop_fixes])

    rate, loop_rate = statistics.median(batch_rates), statistics.median(loop_rates)
    print(
        f"inputs: {args.fixes:,} fixes, 3-8 gateways each (mean {np.mean((gw >= 0).sum(1)):.1f}), 5 dB noise"
    )
    print(
        f"batch estimate_batch: {rate:,.0f} fixes/s CPU (runs: {', '.join(f'{r:,.0f}' for r in batch_rates)}); "
        f"wall {statistics.median(batch_wall):,.0f} fixes/s; median error {np.median(error):.2f} m"
    )
    print(
        f"per-fix scipy least_squares loop: {loop_rate:,.0f} fixes/s CPU on {args.loop_fixes:,} fixes; "
        f"median error {np.median(loop_error):.2f} m (batch on the same fixes: {np.median(error[: args.loop_fixes]):.2f} m)"
    )
    print(f"speed-up: {rate / loop_rate:,.0f}x")
    figures = {
        "fixes_per_s": round(rate),
        "loop_fixes_per_s": round(loop_rate),
        "ratio": round(rate / loop_rate, 1),
    }
    figures |= fingerprint_figures(gateways, gw, rssi, tx, ty, args.repeats)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
