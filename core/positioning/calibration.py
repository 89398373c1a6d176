"""Per-gateway path-loss calibration from observations at known positions.

Sources: reference tags, a calibration walk (the Kolakowski calibration file), or gateways hearing each other
(a gateway's advertisements heard by the others are observations at a known position). Each gateway's `A` and
`n` are fitted by least squares on `RSSI = A − 10·n·log10(d)` with a weak pull toward the current values (so a
gateway heard only from a narrow range of distances keeps a sane exponent). A fit is kept only if it lowers the
positioning error on held-out samples — time blocks the fit never saw, because neighbouring samples are
correlated and a random split would flatter the fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.positioning.estimator import EstimatorConfig, estimate_windows
from core.positioning.gateways import GatewayTable
from core.positioning.windows import aggregate_windows

EXPONENT_RANGE = (1.2, 5.0)
# Prior weight toward the starting A and n, in equivalent samples: tiny next to a real calibration walk.
PRIOR_SAMPLES = 5.0
# A calibrated A already contains the calibration tag's transmit power, so the per-fix offset is held close to 0.
CALIBRATED_TX_OFFSET_SIGMA_DB = 2.0


@dataclass(frozen=True, slots=True, eq=False)
class CalibrationResult:
    gateways: GatewayTable  # the table to use: fitted values where they helped, the original elsewhere
    fitted: np.ndarray  # (G,) bool: the gateway's fit was kept
    sample_count: np.ndarray  # (G,) calibration samples per gateway
    heldout_median_before_m: float
    heldout_median_after_m: float

    @property
    def tx_offset_sigma_db(self) -> float | None:
        """Pass to `estimate_batch`: tight when a fit was kept, None (the zero-config prior) otherwise."""
        return (
            CALIBRATED_TX_OFFSET_SIGMA_DB
            if self.heldout_median_after_m < self.heldout_median_before_m
            else None
        )


def fit_path_loss(
    gateways: GatewayTable,
    gateway_index: np.ndarray,
    rssi_dbm: np.ndarray,
    true_x: np.ndarray,
    true_y: np.ndarray,
    *,
    tag_height_m: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares A and n per gateway from samples at known positions. Returns (A, n, samples per gateway)."""
    height = EstimatorConfig().tag_height_m if tag_height_m is None else tag_height_m
    gw = np.asarray(gateway_index, dtype=np.int64)
    rssi = np.asarray(rssi_dbm, dtype=float)
    keep = (gw >= 0) & np.isfinite(rssi) & np.isfinite(true_x) & np.isfinite(true_y)
    gw, rssi, tx, ty = gw[keep], rssi[keep], np.asarray(true_x)[keep], np.asarray(true_y)[keep]
    dz = np.nan_to_num(gateways.z[gw] - height, nan=0.0)
    dist = np.sqrt((gateways.x[gw] - tx) ** 2 + (gateways.y[gw] - ty) ** 2 + dz**2)
    u = -10.0 * np.log10(np.maximum(dist, 0.1))  # RSSI = A + n·u
    n_gw = len(gateways)
    a0, n0 = gateways.ref_rssi_1m_dbm, gateways.path_loss_exponent

    def sums(values: np.ndarray) -> np.ndarray:
        return np.bincount(gw, weights=values, minlength=n_gw)

    # Normal equations of the 2-parameter fit per gateway, plus PRIOR_SAMPLES pseudo-samples at the prior values
    # (the pseudo-samples pin A at u = 0 and n at u = −10, i.e. at 1 m and 10 m).
    count = np.bincount(gw, minlength=n_gw).astype(float)
    s_1, s_u, s_uu = (
        count + 2 * PRIOR_SAMPLES,
        sums(u) - 10.0 * PRIOR_SAMPLES,
        sums(u * u) + 100.0 * PRIOR_SAMPLES,
    )
    s_r = sums(rssi) + PRIOR_SAMPLES * (a0 + (a0 - 10.0 * n0))
    s_ur = sums(u * rssi) - 10.0 * PRIOR_SAMPLES * (a0 - 10.0 * n0)
    det = s_1 * s_uu - s_u * s_u
    n_fit = (s_1 * s_ur - s_u * s_r) / det
    n_fit = np.clip(n_fit, *EXPONENT_RANGE)
    a_fit = (s_r - n_fit * s_u) / s_1  # re-solve A for the clipped exponent
    return a_fit, n_fit, count.astype(np.int64)


def _shared_fit(
    gateways: GatewayTable,
    gateway_index: np.ndarray,
    rssi_dbm: np.ndarray,
    true_x: np.ndarray,
    true_y: np.ndarray,
    tag_height_m: float,
) -> tuple[float, float]:
    """One A and n for all gateways: the per-gateway fit with every gateway treated as the same one."""
    shared = gateways.with_path_loss(
        np.full(len(gateways), np.median(gateways.ref_rssi_1m_dbm)),
        np.full(len(gateways), np.median(gateways.path_loss_exponent)),
    )
    pooled = GatewayTable.from_rows(
        [{"gateway_id": "all", "x": 0.0, "y": 0.0}],
        default_ref_rssi_1m_dbm=float(shared.ref_rssi_1m_dbm[0]),
        default_path_loss_exponent=float(shared.path_loss_exponent[0]),
    )
    # Move every sample into the frame of one virtual gateway at the origin: only distances matter.
    gw = np.asarray(gateway_index, dtype=np.int64)
    keep = gw >= 0
    dz = np.nan_to_num(gateways.z[gw[keep]] - tag_height_m, nan=0.0)
    dx = np.asarray(true_x)[keep] - gateways.x[gw[keep]]
    dy = np.asarray(true_y)[keep] - gateways.y[gw[keep]]
    ground = np.sqrt(dx**2 + dy**2 + dz**2)
    a, n, _ = fit_path_loss(
        pooled,
        np.zeros(int(keep.sum()), dtype=np.int64),
        np.asarray(rssi_dbm)[keep],
        ground,
        np.zeros_like(ground),
        tag_height_m=0.0,
    )
    return float(a[0]), float(n[0])


def calibrate(
    gateways: GatewayTable,
    ts_s: np.ndarray,
    tag: np.ndarray,
    gateway_index: np.ndarray,
    rssi_dbm: np.ndarray,
    true_x: np.ndarray,
    true_y: np.ndarray,
    *,
    window_s: float = 2.0,
    fix_interval_s: float = 0.5,
    blocks: int = 10,
    config: EstimatorConfig | None = None,
) -> CalibrationResult:
    """Fit A and n per gateway on 2/3 of the time blocks, keep each fit only if held-out error drops, then refit
    the kept gateways on all samples. `tag` may hold several transmitters (reference tags, or gateways heard by
    the others — pass `config=EstimatorConfig(tag_height_m=<their mounting height>)` for those)."""
    height = (config or EstimatorConfig()).tag_height_m
    ts_s = np.asarray(ts_s, dtype=float)
    true_x, true_y = np.asarray(true_x, dtype=float), np.asarray(true_y, dtype=float)
    edges = np.quantile(ts_s, np.linspace(0, 1, blocks + 1)[1:-1])
    heldout = (np.searchsorted(edges, ts_s) % 3) == 2
    a_fit, n_fit, _ = fit_path_loss(
        gateways,
        gateway_index[~heldout],
        rssi_dbm[~heldout],
        true_x[~heldout],
        true_y[~heldout],
        tag_height_m=height,
    )
    windows = aggregate_windows(
        ts_s[heldout],
        np.asarray(tag)[heldout],
        gateway_index[heldout],
        rssi_dbm[heldout],
        window_s=window_s,
        fix_interval_s=fix_interval_s,
    )
    # Truth at each held-out fix time, interpolated per transmitter (calibration rows carry truth).
    fx, fy = np.empty(len(windows)), np.empty(len(windows))
    held_tag, held_ts = np.asarray(tag)[heldout].astype(str), ts_s[heldout]
    for code, label in enumerate(windows.tag_ids):
        rows, mine = windows.fix_tag == code, held_tag == str(label)
        order = np.argsort(held_ts[mine])
        fx[rows] = np.interp(windows.fix_ts[rows], held_ts[mine][order], true_x[heldout][mine][order])
        fy[rows] = np.interp(windows.fix_ts[rows], held_ts[mine][order], true_y[heldout][mine][order])

    def heldout_error(table: GatewayTable, tx_sigma: float | None = CALIBRATED_TX_OFFSET_SIGMA_DB) -> float:
        fixes = estimate_windows(table, windows, config=config, tx_offset_sigma_db=tx_sigma)
        return float(np.nanmedian(np.hypot(fixes.x - fx, fixes.y - fy)))

    before = heldout_error(gateways, None)
    # Base: one shared A and n (robust with little data); then per-gateway values where they help on held-out data.
    a_shared, n_shared = _shared_fit(
        gateways, gateway_index[~heldout], rssi_dbm[~heldout], true_x[~heldout], true_y[~heldout], height
    )
    base_a = np.full(len(gateways), a_shared)
    base_n = np.full(len(gateways), n_shared)
    best = heldout_error(gateways.with_path_loss(base_a, base_n))
    if best >= before:
        base_a, base_n, best = gateways.ref_rssi_1m_dbm, gateways.path_loss_exponent, before
    fitted = np.zeros(len(gateways), dtype=bool)
    for g in np.argsort(-np.bincount(gateway_index[gateway_index >= 0], minlength=len(gateways))):
        trial = fitted.copy()
        trial[g] = True
        error = heldout_error(
            gateways.with_path_loss(np.where(trial, a_fit, base_a), np.where(trial, n_fit, base_n))
        )
        if error < best:
            fitted, best = trial, error
    shared_kept = best < before and not np.array_equal(base_a, gateways.ref_rssi_1m_dbm)
    a_all, n_all, counts = fit_path_loss(
        gateways, gateway_index, rssi_dbm, true_x, true_y, tag_height_m=height
    )
    if shared_kept:
        a_shared, n_shared = _shared_fit(gateways, gateway_index, rssi_dbm, true_x, true_y, height)
        base_a, base_n = np.full(len(gateways), a_shared), np.full(len(gateways), n_shared)
    table = gateways.with_path_loss(np.where(fitted, a_all, base_a), np.where(fitted, n_all, base_n))
    return CalibrationResult(table, fitted, counts, before, best)
