"""Positioning engine: BLE observations → location fixes, vectorised over many tags per call.

Public API (names are stable; other packages import them from here):

- `GatewayTable.from_rows(rows, default_ref_rssi_1m_dbm=None, default_path_loss_exponent=None)` — gateways as
  numpy columns (`ids, x, y, z, floor, ref_rssi_1m_dbm, path_loss_exponent, sensitivity_dbm`); `index_of(ids)`
  maps gateway ids to row indices (−1 = unknown). Defaults for A and n come from settings; a gateway without a
  sensitivity gets the estimator's default (−95 dBm).
- `aggregate_windows(ts_s, tag, gateway, rssi_dbm, *, window_s, fix_interval_s=0.5, eval_ts=None, eval_tag=None,
  max_gateways=16)` → `Windows`: per fix (tag, time) the trimmed-mean RSSI, sample count and age per gateway,
  as padded (F, K) arrays, strongest gateway first.
- `estimate_batch(gateways, gateway_index, rssi_dbm, *, sample_count=None, tx_offset_db=0, tx_offset_sigma_db=None,
  bounds=None, fingerprint=None, config=None)` → `Fixes` with arrays `x, y, floor, accuracy_m, confidence,
  method` (codes into `METHOD_NAMES` = proximity|midpoint|centroid|trilateration|fingerprint), `gateway_count`,
  `tx_offset_db`. `estimate_windows(gateways, windows, **kw)` does the same on a `Windows`.
- `calibrate(gateways, ts_s, tag, gateway_index, rssi_dbm, true_x, true_y)` → `CalibrationResult` (`.gateways`
  with A, n fitted where it lowers held-out error; `.tx_offset_sigma_db` to pass to `estimate_batch`).
- `FingerprintModel.fit(...)` — radio-map fingerprinting trained on windows at known positions; pass it as
  `fingerprint=` to `estimate_batch`.
- `train_site_model(gateways, ts_s, tag, gateway_index, rssi_dbm, true_x, true_y, window_s=...)` → `SiteModel`
  (`.gateways`, `.fingerprint`, `.tx_offset_sigma_db`, `.calibration`): both of the above from one calibration
  recording. Gateways hearing each other are observations at known positions too (the sender's x, y).
- Path loss: `expected_rssi`, `range_from_rssi`. Data set: `core.positioning.datasets`.
- Tracking lives in `core.tracking` (`TrackState`, `TrackBatch`, `track_update`, `track_predict`, `track_series`);
  the seeded site simulator in `core.simulation` (`SiteSimulator`).
- Rows with no gateway heard (gateway_count 0) come back as NaN x, y, accuracy_m.

`accuracy_m` is the radius expected to hold the true position ~68 % of the time; `confidence` is 0–1.
"""

from core.positioning.calibration import CalibrationResult, calibrate, fit_path_loss
from core.positioning.estimator import (
    METHOD_NAMES,
    EstimatorConfig,
    Fixes,
    estimate_batch,
    estimate_windows,
)
from core.positioning.fingerprint import FingerprintModel
from core.positioning.gateways import GatewayTable, GatewayTableError
from core.positioning.pathloss import expected_rssi, range_from_rssi
from core.positioning.training import SiteModel, train_site_model
from core.positioning.windows import Windows, aggregate_windows

__all__ = [
    "METHOD_NAMES",
    "CalibrationResult",
    "EstimatorConfig",
    "FingerprintModel",
    "Fixes",
    "GatewayTable",
    "GatewayTableError",
    "SiteModel",
    "Windows",
    "aggregate_windows",
    "calibrate",
    "estimate_batch",
    "estimate_windows",
    "expected_rssi",
    "fit_path_loss",
    "range_from_rssi",
    "train_site_model",
]
