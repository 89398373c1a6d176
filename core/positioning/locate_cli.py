"""`assettag locate`: offline estimation of a file of observations, for backtests and tuning.

    assettag locate --gateways gateways.csv --observations observations.csv --out fixes.csv \
        [--calibration calib.csv] [--window-s S] [--smooth]

With `--calibration` (observations plus the true x, y per row) the gateways' path-loss parameters are fitted
(kept only where they lower held-out error) and a radio-map fingerprint model is trained before locating.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from core.errors import CommandError
from core.positioning.estimator import confidence_from_accuracy, estimate_windows
from core.positioning.gateways import GatewayTable, GatewayTableError
from core.positioning.locate_io import ObservationFile, read_gateway_rows, read_observations, write_fixes
from core.positioning.training import train_site_model
from core.positioning.tx_offset import estimate_windows_learning
from core.positioning.windows import aggregate_windows


def _say(message: str) -> None:
    """Progress and warnings go to stderr, so `--out -` style pipelines stay clean."""
    sys.stderr.write(f"{message}\n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--gateways",
        required=True,
        type=Path,
        help="CSV: gateway_id,x,y[,z][,floor][,ref_rssi_1m][,path_loss_exponent][,sensitivity_dbm] (site metres)",
    )
    parser.add_argument(
        "--observations",
        required=True,
        type=Path,
        help="CSV or Parquet: ts,tag_id,gateway_id,rssi (ts RFC 3339 or epoch ms)",
    )
    parser.add_argument("--out", required=True, type=Path, help="fixes CSV to write")
    parser.add_argument(
        "--calibration", type=Path, help="observations plus true x,y per row: calibrate and train"
    )
    parser.add_argument("--window-s", type=float, default=None, help="event-time window (default: settings)")
    parser.add_argument("--fix-interval-s", type=float, default=None, help="one fix per tag this often")
    parser.add_argument(
        "--smooth", action="store_true", help="smooth each tag's fixes with the Kalman tracker"
    )


def _known_gateways(gateways: GatewayTable, observations: ObservationFile, path: Path) -> np.ndarray:
    index = gateways.index_of(observations.gateway_id)
    unknown = index < 0
    if unknown.all():
        raise CommandError(
            f"{path}: none of the {len(index)} observations is from a gateway in the gateways file"
        )
    if unknown.any():
        names = sorted(set(observations.gateway_id[unknown]))
        shown = ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")
        _say(
            f"assettag locate: skipped {int(unknown.sum())} observations from {len(names)} unknown gateway(s) "
            f"in {path}: {shown}"
        )
    return index


def run(args: argparse.Namespace) -> int:
    from core.settings import get_settings

    settings = get_settings()
    window_s = settings.window_s if args.window_s is None else args.window_s
    interval_s = settings.fix_interval_s if args.fix_interval_s is None else args.fix_interval_s
    if not 0 < window_s <= 60:
        raise CommandError(f"--window-s must be in (0, 60] seconds, got {window_s}")
    if not 0 < interval_s <= 60:
        raise CommandError(f"--fix-interval-s must be in (0, 60] seconds, got {interval_s}")
    try:
        gateways = GatewayTable.from_rows(read_gateway_rows(args.gateways))
    except GatewayTableError as exc:
        raise CommandError(f"{args.gateways}: {exc}") from None
    observations = read_observations(args.observations)
    gateway_index = _known_gateways(gateways, observations, args.observations)

    fingerprint, tx_sigma = None, None
    if args.calibration is not None:
        calib = read_observations(args.calibration, with_truth=True)
        if calib.true_x is None or calib.true_y is None:  # with_truth=True reads them; this narrows the types
            raise CommandError(f"{args.calibration}: missing true x, y")
        calib_index = _known_gateways(gateways, calib, args.calibration)
        try:
            model = train_site_model(
                gateways,
                calib.ts_s,
                calib.tag_id,
                calib_index,
                calib.rssi_dbm,
                calib.true_x,
                calib.true_y,
                window_s=window_s,
                fix_interval_s=interval_s,
            )
        except ValueError as exc:
            raise CommandError(f"{args.calibration}: {exc}") from None
        gateways, fingerprint, tx_sigma = model.gateways, model.fingerprint, model.tx_offset_sigma_db
        result = model.calibration
        _say(
            f"assettag locate: calibration kept per-gateway fits for {int(result.fitted.sum())} of "
            f"{len(gateways)} gateways; held-out median error {result.heldout_median_before_m:.2f} m -> "
            f"{result.heldout_median_after_m:.2f} m; fingerprint model trained"
        )

    windows = aggregate_windows(
        observations.ts_s,
        observations.tag_id,
        gateway_index,
        observations.rssi_dbm,
        window_s=window_s,
        fix_interval_s=interval_s,
    )
    # zero-config: each tag's transmit offset learnt from its earlier fixes, as the realtime loop does
    if args.calibration is None:
        fixes = estimate_windows_learning(gateways, windows)
    else:
        fixes = estimate_windows(gateways, windows, fingerprint=fingerprint, tx_offset_sigma_db=tx_sigma)
    tags = windows.tag_ids[windows.fix_tag]
    x, y, accuracy, confidence = fixes.x, fixes.y, fixes.accuracy_m, fixes.confidence
    if args.smooth:
        from core.tracking import track_series

        smoothed = track_series(tags, windows.fix_ts, x, y, accuracy, windows=windows)
        x, y, accuracy = smoothed.x, smoothed.y, smoothed.accuracy_m
        confidence = confidence_from_accuracy(accuracy, fixes.gateway_count)
    write_fixes(
        args.out, windows.fix_ts, tags, x, y, accuracy, confidence, fixes.method_names, fixes.gateway_count
    )
    _say(f"assettag locate: wrote {len(windows)} fixes for {len(windows.tag_ids)} tag(s) to {args.out}")
    return 0
