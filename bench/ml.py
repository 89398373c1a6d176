"""Figures for the ML note: accuracy on the real data set before/after calibration and with the fingerprint model,
and training time. Trained on the Kolakowski calibration run, scored on its separate test run (issue 3's protocol:
2 s windows every 0.5 s), raw fixes and after the project's Kalman tracker.

    uv run python bench/ml.py [--window-s 2.0]

Last line: one JSON object {"zero_config": {...}, "path_loss": {...}, "fingerprint": {...}, "train_s": ...}.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from core.ml.dataset import CalibrationData
from core.ml.location_model import LocationModel
from core.ml.training import TrainingConfig, train_location_model
from core.positioning.datasets import load_anchors, load_samples
from core.positioning.gateways import GatewayTable
from core.tracking import track_series

DATA = Path(__file__).parents[1] / "tests" / "data" / "kolakowski-flat"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--window-s", type=float, default=2.0)
    args = parser.parse_args()
    gateways = GatewayTable.from_rows(
        load_anchors(DATA / "anchors.csv"), default_ref_rssi_1m_dbm=-59.0, default_path_loss_exponent=2.0
    )
    calibration = CalibrationData.from_samples(load_samples(DATA / "calibration" / "calibration_df.csv"))
    test = CalibrationData.from_samples(load_samples(DATA / "tests" / "test_robot_df.csv"))
    started = time.perf_counter()
    result = train_location_model(gateways, calibration, TrainingConfig(window_s=args.window_s), heldout=test)
    train_s = time.perf_counter() - started
    figures: dict[str, object] = {}
    calibrated = LocationModel(result.model.gateways, None, result.model.tx_offset_sigma_db)
    models = {"zero_config": LocationModel(gateways), "path_loss": calibrated, "fingerprint": result.model}
    for kind, evaluation in result.evaluations.items():
        entry: dict[str, float] = {
            "median_m": round(evaluation.median_m, 3),
            "p75_m": round(evaluation.p75_m, 3),
            "p90_m": round(evaluation.p90_m, 3),
            "within_accuracy": round(evaluation.within_accuracy, 3),
        }
        model = models[kind]
        if model.kind == kind or kind == "zero_config":
            w = result.heldout.windows
            fixes = model.estimate(
                result.heldout.gateways, w.gateway, w.rssi_dbm, sample_count=w.sample_count
            )
            track = track_series(np.zeros(len(w)), w.fix_ts, fixes.x, fixes.y, fixes.accuracy_m, windows=w)
            error = np.hypot(track.x - result.heldout.true_x, track.y - result.heldout.true_y)
            entry["tracked_median_m"] = round(float(np.nanmedian(error)), 3)
            entry["tracked_p90_m"] = round(float(np.nanquantile(error, 0.9)), 3)
        figures[kind] = entry
        print(f"{kind:12s} " + "  ".join(f"{k}={v}" for k, v in entry.items()))
    figures["chosen"] = result.model.kind
    figures["train_s"] = round(train_s, 2)
    figures["train_s_parts"] = {k: round(v, 2) for k, v in result.seconds.items()}
    print(f"training: {train_s:.1f} s ({', '.join(f'{k} {v:.1f} s' for k, v in result.seconds.items())})")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
