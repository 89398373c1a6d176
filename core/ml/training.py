"""Train a site's location model from calibration data: path-loss calibration always, a fingerprint when the
data cover the site densely enough, and keep whichever scores better on held-out time blocks.

Reuses the positioning engine's own fitting code (`calibrate`, `FingerprintModel.fit`); this module only
decides what to train, on which split, and packages the result as a `LocationModel` with its figures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from core.ml.dataset import CalibrationData, TrainingDataError, TruthWindows, windows_with_truth
from core.ml.evaluation import Evaluation, evaluate
from core.ml.location_model import LocationModel
from core.positioning.calibration import calibrate
from core.positioning.estimator import EstimatorConfig
from core.positioning.fingerprint import FingerprintModel
from core.positioning.gateways import GatewayTable

# Below this many training windows a radio map has holes everywhere; the path-loss model is the honest choice.
MIN_FINGERPRINT_WINDOWS = 200


@dataclass(frozen=True, slots=True)
class TrainingConfig:
    window_s: float = 3.0  # must match the realtime window: the model learns windows of this length
    fix_interval_s: float = 0.5
    min_fingerprint_windows: int = MIN_FINGERPRINT_WINDOWS
    train_fingerprint: bool = True

    def __post_init__(self) -> None:
        if not self.window_s > 0:
            raise TrainingDataError(f"window_s: must be positive, got {self.window_s}")
        if not self.fix_interval_s > 0:
            raise TrainingDataError(f"fix_interval_s: must be positive, got {self.fix_interval_s}")


@dataclass(frozen=True, slots=True, eq=False)
class TrainingResult:
    """The chosen model and everything worth logging about how it was made."""

    model: LocationModel
    heldout: TruthWindows  # the windows every candidate (and the current champion) is scored on
    evaluations: dict[str, Evaluation]  # "zero_config", "path_loss", "fingerprint" (when trained) on held-out
    params: dict[str, object]
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def evaluation(self) -> Evaluation:
        """Held-out figures of the chosen model."""
        return self.evaluations[self.model.kind]


def train_location_model(
    gateways: GatewayTable,
    data: CalibrationData,
    config: TrainingConfig | None = None,
    *,
    heldout: CalibrationData | None = None,
) -> TrainingResult:
    """Train on `data` (minus held-out time blocks unless `heldout` is given) and choose the better model.

    `gateways` carries the site's positions and current path-loss values (the calibration starts from them).
    """
    config = config or TrainingConfig()
    seconds: dict[str, float] = {}
    train = data
    if heldout is None:
        train, heldout = data.split_time_blocks()
    started = time.perf_counter()
    heldout_windows = windows_with_truth(
        heldout, gateways, window_s=config.window_s, fix_interval_s=config.fix_interval_s
    )
    if len(heldout_windows) == 0:
        raise TrainingDataError("rows: the held-out time blocks produced no windows")
    evaluations = {
        "zero_config": evaluate(LocationModel(gateways, window_s=config.window_s), heldout_windows)
    }

    t0 = time.perf_counter()
    index = gateways.index_of(train.gateway_ids)
    calibration = calibrate(
        gateways,
        train.ts_s,
        train.tag_ids.astype(str),
        index,
        train.rssi_dbm,
        train.true_x,
        train.true_y,
        window_s=config.window_s,
        fix_interval_s=config.fix_interval_s,
    )
    seconds["path_loss"] = time.perf_counter() - t0
    path_loss = LocationModel(calibration.gateways, None, calibration.tx_offset_sigma_db, config.window_s)
    evaluations["path_loss"] = evaluate(path_loss, heldout_windows)
    chosen = path_loss

    train_windows = windows_with_truth(
        train, gateways, window_s=config.window_s, fix_interval_s=config.fix_interval_s
    )
    params: dict[str, object] = {
        "window_s": config.window_s,
        "fix_interval_s": config.fix_interval_s,
        "gateways": len(gateways),
        "train_observations": len(train),
        "train_windows": len(train_windows),
        "heldout_windows": len(heldout_windows),
        "path_loss_fitted_gateways": int(calibration.fitted.sum()),
    }
    if config.train_fingerprint and len(train_windows) >= config.min_fingerprint_windows:
        t0 = time.perf_counter()
        table = calibration.gateways
        w = train_windows.windows
        fingerprint = FingerprintModel.fit(
            w.gateway,
            w.rssi_dbm,
            train_windows.true_x,
            train_windows.true_y,
            gateway_xyz=(table.x, table.y, table.z),
            ref_rssi_1m_dbm=table.ref_rssi_1m_dbm,
            path_loss_exponent=table.path_loss_exponent,
            ts_s=w.fix_ts,
            tag_height_m=EstimatorConfig().tag_height_m,
        )
        seconds["fingerprint"] = time.perf_counter() - t0
        candidate = LocationModel(table, fingerprint, calibration.tx_offset_sigma_db, config.window_s)
        evaluations["fingerprint"] = evaluate(candidate, heldout_windows)
        if _better(evaluations["fingerprint"], evaluations["path_loss"]):
            chosen = candidate
    params["kind"] = chosen.kind
    seconds["total"] = time.perf_counter() - started
    return TrainingResult(chosen, heldout_windows, evaluations, params, seconds)


def _better(a: Evaluation, b: Evaluation) -> bool:
    """`a` is preferred: lower median, not at the price of a worse p90 (the tail is what users notice)."""
    return a.median_m < b.median_m and a.p90_m <= b.p90_m * 1.05


def gateway_path_loss(model: LocationModel) -> dict[str, dict[str, float]]:
    """Per-gateway A and n of a model, for logging and for writing back to the gateway table."""
    table = model.gateways
    return {
        str(gid): {"ref_rssi_1m_dbm": float(a), "path_loss_exponent": float(n)}
        for gid, a, n in zip(table.ids, table.ref_rssi_1m_dbm, table.path_loss_exponent, strict=True)
    }


def heldout_errors(model: LocationModel, data: TruthWindows) -> np.ndarray:
    """Per-window error in metres (NaN where no fix), for plots."""
    w = data.windows
    fixes = model.estimate(data.gateways, w.gateway, w.rssi_dbm, sample_count=w.sample_count)
    return np.hypot(fixes.x - data.true_x, fixes.y - data.true_y)
