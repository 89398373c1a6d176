"""From a calibration recording (observations at known positions) to everything the estimator can use:
calibrated gateways, the tag-offset prior that goes with them, and a fingerprint model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.positioning.calibration import CalibrationResult, calibrate
from core.positioning.fingerprint import FingerprintModel
from core.positioning.gateways import GatewayTable
from core.positioning.windows import aggregate_windows


@dataclass(frozen=True, slots=True, eq=False)
class SiteModel:
    gateways: GatewayTable
    fingerprint: FingerprintModel
    tx_offset_sigma_db: float | None
    calibration: CalibrationResult


def train_site_model(
    gateways: GatewayTable,
    ts_s: np.ndarray,
    tag: np.ndarray,
    gateway_index: np.ndarray,
    rssi_dbm: np.ndarray,
    true_x: np.ndarray,
    true_y: np.ndarray,
    *,
    window_s: float,
    fix_interval_s: float = 0.5,
) -> SiteModel:
    """Calibrate A and n (kept where held-out error drops), then train the radio map on windows ending at each
    calibration sample — summarised exactly like live windows."""
    ts_s, tag = np.asarray(ts_s, dtype=float), np.asarray(tag).astype(str)
    true_x, true_y = np.asarray(true_x, dtype=float), np.asarray(true_y, dtype=float)
    result = calibrate(
        gateways,
        ts_s,
        tag,
        gateway_index,
        rssi_dbm,
        true_x,
        true_y,
        window_s=window_s,
        fix_interval_s=fix_interval_s,
    )
    table = result.gateways
    # One training window per sample time (long-format rows of one sample share its time and position).
    _, first = np.unique(np.stack([tag, ts_s.astype(str)]), axis=1, return_index=True)
    first = first[np.argsort(ts_s[first], kind="stable")]
    training = aggregate_windows(
        ts_s, tag, gateway_index, rssi_dbm, window_s=window_s, eval_ts=ts_s[first], eval_tag=tag[first]
    )
    fx = np.empty(len(training))
    fy = np.empty(len(training))
    for label in np.unique(training.fix_tag):  # truth per tag, interpolated at each window's end
        rows = training.fix_tag == label
        mine = first[tag[first] == training.tag_ids[label]]
        fx[rows] = np.interp(training.fix_ts[rows], ts_s[mine], true_x[mine])
        fy[rows] = np.interp(training.fix_ts[rows], ts_s[mine], true_y[mine])
    fingerprint = FingerprintModel.fit(
        training.gateway,
        training.rssi_dbm,
        fx,
        fy,
        gateway_xyz=(table.x, table.y, table.z),
        ref_rssi_1m_dbm=table.ref_rssi_1m_dbm,
        path_loss_exponent=table.path_loss_exponent,
        ts_s=training.fix_ts,
    )
    return SiteModel(table, fingerprint, result.tx_offset_sigma_db, result)
