"""Positioning accuracy: median / p75 / p90 error and the share of fixes within `accuracy_m`.

1. Real data (tests/data/kolakowski-flat, CC BY 4.0 — see its README): the robot test run, 2 s windows every
   0.5 s, truth interpolated at each fix time.
   - zero-config: gateway positions only; A and n from settings (−59 dBm, 2.0); the tag's transmit offset is
     estimated with each fix, under a prior learnt from the tag's earlier fixes (as the realtime loop does).
   - calibrated: `train_site_model` on the separate calibration walk (path-loss fit kept only where held-out
     error drops, plus the radio-map fingerprint model).
   Also printed: the person walk (error = distance to the walked polyline, zero-config) and Kalman-smoothed
   figures. Targets on the robot run: zero-config median <= 2.0 m; calibrated median <= 0.9 m, p90 <= 2.0 m;
   60-80 % within accuracy_m. Seed reference (same data): weighted centroid 3.43 m, least squares 3.71 m,
   5-NN fingerprinting 1.06 m.
2. Simulator: `SiteSimulator` (60 x 40 m, gateways every ~12 m, walls, correlated shadowing, per-gateway A/n
   that differ from the nominal values, tags with unknown tx offsets), zero-config, 2 s windows every 0.5 s;
   also calibrated from a one-minute survey of the gateways hearing each other.

Usage: uv run python bench/accuracy.py [--sim-minutes 10] [--sim-assets 40] [--seed 1]. Last line: JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from core.positioning import EstimatorConfig, GatewayTable, aggregate_windows, calibrate, estimate_windows
from core.positioning.datasets import load_anchors, load_samples
from core.positioning.training import train_site_model
from core.positioning.tx_offset import estimate_windows_learning
from core.simulation import SiteSimulator
from core.tracking import track_series

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "kolakowski-flat"
WINDOW_S, INTERVAL_S = 2.0, 0.5


def summary(error: np.ndarray, accuracy: np.ndarray) -> dict[str, float]:
    return {
        "median_m": round(float(np.median(error)), 3),
        "p75_m": round(float(np.percentile(error, 75)), 3),
        "p90_m": round(float(np.percentile(error, 90)), 3),
        "within_accuracy": round(float(np.mean(error <= accuracy)), 3),
    }


def show(name: str, figures: dict[str, float], n: int) -> None:
    print(
        f"{name:<34} n={n:<6} median {figures['median_m']:.2f} m  p75 {figures['p75_m']:.2f} m  "
        f"p90 {figures['p90_m']:.2f} m  within accuracy_m {figures['within_accuracy']:.0%}"
    )


def distance_to_polyline(x: np.ndarray, y: np.ndarray, segments: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = (segments[:, i][None, :] for i in range(4))
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(
        ((x[:, None] - x0) * dx + (y[:, None] - y0) * dy) / np.maximum(dx * dx + dy * dy, 1e-12), 0, 1
    )
    return np.min(np.hypot(x[:, None] - (x0 + t * dx), y[:, None] - (y0 + t * dy)), axis=1)


def real(results: dict[str, dict[str, float]]) -> None:
    gateways = GatewayTable.from_rows(load_anchors(DATA / "anchors.csv"))
    robot = load_samples(DATA / "tests" / "test_robot_df.csv")
    index = gateways.index_of(robot.gateway_ids)
    windows = aggregate_windows(
        robot.ts_s,
        np.zeros(len(index), int),
        index,
        robot.rssi_dbm,
        window_s=WINDOW_S,
        fix_interval_s=INTERVAL_S,
    )
    tx, ty = robot.truth_at(windows.fix_ts)
    tags = np.zeros(len(windows), int)

    fixes = estimate_windows_learning(gateways, windows)
    error = np.hypot(fixes.x - tx, fixes.y - ty)
    results["real_zero_config"] = summary(error, fixes.accuracy_m)
    show("real robot, zero-config", results["real_zero_config"], len(error))
    tracked = track_series(tags, windows.fix_ts, fixes.x, fixes.y, fixes.accuracy_m, windows=windows)
    show(
        "real robot, zero-config + Kalman",
        summary(np.hypot(tracked.x - tx, tracked.y - ty), tracked.accuracy_m),
        len(error),
    )
    print(
        f"{'':<34} estimated tag transmit offset: median {np.nanmedian(fixes.tx_offset_db):+.1f} dB vs the "
        f"default reference tag"
    )

    calib = load_samples(DATA / "calibration" / "calibration_df.csv")
    cx, cy = calib.truth_at(calib.ts_s)
    model = train_site_model(
        gateways,
        calib.ts_s,
        np.zeros(len(cx), int),
        gateways.index_of(calib.gateway_ids),
        calib.rssi_dbm,
        cx,
        cy,
        window_s=WINDOW_S,
        fix_interval_s=INTERVAL_S,
    )
    print(
        f"{'':<34} calibration: per-gateway path-loss fits kept for {int(model.calibration.fitted.sum())}/"
        f"{len(gateways)} gateways (held-out median {model.calibration.heldout_median_before_m:.2f} -> "
        f"{model.calibration.heldout_median_after_m:.2f} m); fingerprint σ {model.fingerprint.rssi_sigma_db:.1f} dB, kernel {model.fingerprint.kernel_m} m"
    )
    fixes = estimate_windows(
        model.gateways, windows, fingerprint=model.fingerprint, tx_offset_sigma_db=model.tx_offset_sigma_db
    )
    error = np.hypot(fixes.x - tx, fixes.y - ty)
    results["real_calibrated"] = summary(error, fixes.accuracy_m)
    show("real robot, calibrated (fingerprint)", results["real_calibrated"], len(error))
    path_only = estimate_windows(model.gateways, windows, tx_offset_sigma_db=model.tx_offset_sigma_db)
    show(
        "real robot, calibrated path loss only",
        summary(np.hypot(path_only.x - tx, path_only.y - ty), path_only.accuracy_m),
        len(error),
    )

    walk = load_samples(DATA / "tests" / "test_walk_df.csv")
    walk_windows = aggregate_windows(
        walk.ts_s,
        np.zeros(len(walk.ts_s), int),
        gateways.index_of(walk.gateway_ids),
        walk.rssi_dbm,
        window_s=WINDOW_S,
        fix_interval_s=INTERVAL_S,
    )
    with (DATA / "tests" / "path_reference.csv").open() as handle:
        segments = np.array([[float(v) for v in row.values()] for row in csv.DictReader(handle)])
    walk_fixes = estimate_windows_learning(gateways, walk_windows)
    off_path = distance_to_polyline(walk_fixes.x, walk_fixes.y, segments)
    show("real walk, zero-config (to path)", summary(off_path, walk_fixes.accuracy_m), len(off_path))


def simulated(results: dict[str, dict[str, float]], minutes: float, assets: int, seed: int) -> None:
    sim = SiteSimulator(seed=seed, n_assets=assets)
    run = sim.run(minutes * 60.0)
    gateways = GatewayTable.from_rows(sim.gateway_rows())
    obs = run.observations
    windows = aggregate_windows(
        obs.ts,
        obs.tag_id,
        gateways.index_of(obs.gateway_id),
        obs.rssi.astype(float),
        window_s=WINDOW_S,
        fix_interval_s=INTERVAL_S,
    )
    tags = windows.tag_ids[windows.fix_tag]
    tx, ty = run.truth.at(tags, windows.fix_ts)
    fixes = estimate_windows_learning(gateways, windows, bounds=sim.bounds())
    error = np.hypot(fixes.x - tx, fixes.y - ty)
    results["sim"] = summary(error, fixes.accuracy_m)
    show(f"sim {len(gateways)} gateways, zero-config", results["sim"], len(error))
    survey, sender_x, sender_y = sim.gateway_survey(60.0)
    calibration = calibrate(
        gateways,
        survey.ts,
        survey.tag_id,
        gateways.index_of(survey.gateway_id),
        survey.rssi.astype(float),
        sender_x,
        sender_y,
        config=EstimatorConfig(tag_height_m=sim.gateway_height_m),
    )
    surveyed = estimate_windows(
        calibration.gateways, windows, bounds=sim.bounds(), tx_offset_sigma_db=calibration.tx_offset_sigma_db
    )
    show(
        f"sim, calibrated by gateway survey ({int(calibration.fitted.sum())} fits)",
        summary(np.hypot(surveyed.x - tx, surveyed.y - ty), surveyed.accuracy_m),
        len(error),
    )
    tracked = track_series(tags, windows.fix_ts, fixes.x, fixes.y, fixes.accuracy_m, windows=windows)
    show(
        "sim, zero-config + Kalman",
        summary(np.hypot(tracked.x - tx, tracked.y - ty), tracked.accuracy_m),
        len(error),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sim-minutes", type=float, default=10.0)
    parser.add_argument("--sim-assets", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    real(results)
    simulated(results, args.sim_minutes, args.sim_assets, args.seed)
    print(json.dumps({key: results[key] for key in ("real_zero_config", "real_calibrated", "sim")}))


if __name__ == "__main__":
    main()
