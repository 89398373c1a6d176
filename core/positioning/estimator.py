"""Vectorised location estimation: many fixes per call, one method per fix chosen by how many gateways heard it.

Method chain (per fix, on the floor chosen first):
  1 gateway  → proximity: at the gateway, accuracy ≈ estimated range;
  2 gateways → midpoint: the point on the segment that splits it in the ratio of the estimated ranges;
  ≥3         → trilateration: robust (Huber IRLS) Levenberg–Marquardt in the dB domain, bounded to the site,
               started from the weighted centroid, which is also the fallback when the solve does not beat it;
  a fitted `FingerprintModel`, when given, replaces the chain for fixes it can score.

The solve has three unknowns: x, y and the tag's transmit offset `b` (dB). Real tags rarely transmit at the
power the defaults assume (the Kolakowski tag is ~12 dB hotter than A = −59 dBm), and a common offset only shifts
all RSSIs together, so estimating it per fix — with a prior around the known offset — makes the zero-config path
use RSSI *differences* between gateways, which survive a wrong `A`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.positioning.gateways import GatewayTable
from core.positioning.pathloss import MIN_RANGE_M, horizontal_range, range_from_rssi, range_sigma_m

if TYPE_CHECKING:
    from core.positioning.fingerprint import FingerprintModel
    from core.positioning.windows import Windows

METHOD_NAMES: tuple[str, ...] = ("proximity", "midpoint", "centroid", "trilateration", "fingerprint")
PROXIMITY, MIDPOINT, CENTROID, TRILATERATION, FINGERPRINT = range(5)

# Radius of a circular 2-D Gaussian holding 68 % of the mass, per sqrt(trace of the covariance).
_R68_PER_SQRT_TRACE = float(np.sqrt(-np.log(0.32)))


@dataclass(frozen=True, slots=True)
class EstimatorConfig:
    """Noise model and solver knobs. Defaults are physical (indoor BLE), not fitted to one data set."""

    shadowing_sigma_db: float = 4.0  # location-dependent error that window averaging does not remove
    fading_sigma_db: float = 6.0  # per-sample fast fading, shrinks with the samples in a window
    tx_offset_sigma_db: float = 10.0  # prior spread of the tag offset when it is not known (zero-config)
    huber_k: float = 1.5  # residuals beyond k·σ get linear, not quadratic, influence
    iterations: int = 12
    tag_height_m: float = 1.0  # typical asset height; matters when gateway heights are known
    site_margin_m: float = 1.0  # default site box = gateway box + margin
    min_accuracy_m: float = 0.5  # RSSI never resolves better than this
    model_error_m: float = 0.7  # geometry/model error added in quadrature to the statistical radius


@dataclass(frozen=True, slots=True, eq=False)
class Fixes:
    """One estimate per input row. `method` holds codes into `METHOD_NAMES`."""

    x: np.ndarray
    y: np.ndarray
    floor: np.ndarray
    accuracy_m: np.ndarray
    confidence: np.ndarray
    method: np.ndarray  # int8
    gateway_count: np.ndarray
    tx_offset_db: np.ndarray  # estimated tag transmit offset (NaN when not estimated)

    def __len__(self) -> int:
        return len(self.x)

    @property
    def method_names(self) -> np.ndarray:
        return np.asarray(METHOD_NAMES, dtype=object)[self.method]


def _select_floor(
    gateways: GatewayTable,
    gw: np.ndarray,
    rssi: np.ndarray,
    valid: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Pick per fix the floor whose gateways hear the tag loudest (summed linear power); mask the others."""
    floors = np.unique(gateways.floor)
    gw_floor = gateways.floor[np.maximum(gw, 0)]
    if floors.size == 1:
        return np.full(len(gw), floors[0]), valid
    power = np.where(valid, 10.0 ** (np.nan_to_num(rssi, nan=-200.0) / 10.0), 0.0)
    scores = np.stack([np.where(gw_floor == f, power, 0.0).sum(axis=1) for f in floors], axis=1)
    chosen = floors[np.argmax(scores, axis=1)]
    return chosen, valid & (gw_floor == chosen[:, None])


def _confidence(accuracy_m: np.ndarray, gateway_count: np.ndarray) -> np.ndarray:
    """0–1: high when the 68 % radius is small and several gateways agree; 1 m → ~0.8, 3 m → ~0.3."""
    support = 1.0 - 0.5 ** np.maximum(gateway_count, 1)
    return np.clip(support / (1.0 + (accuracy_m / 2.0) ** 2), 0.0, 1.0)


def estimate_windows(gateways: GatewayTable, windows: Windows, **kwargs: object) -> Fixes:
    """`estimate_batch` on the output of `aggregate_windows`."""
    return estimate_batch(
        gateways, windows.gateway, windows.rssi_dbm, sample_count=windows.sample_count, **kwargs
    )  # type: ignore[arg-type]


def estimate_batch(
    gateways: GatewayTable,
    gateway_index: np.ndarray,
    rssi_dbm: np.ndarray,
    *,
    sample_count: np.ndarray | None = None,
    tx_offset_db: np.ndarray | float = 0.0,
    tx_offset_sigma_db: np.ndarray | float | None = None,
    bounds: tuple[float, float, float, float] | None = None,
    fingerprint: FingerprintModel | None = None,
    config: EstimatorConfig | None = None,
) -> Fixes:
    """Estimate F fixes at once from padded (F, K) arrays of gateway row indices (−1 = none) and RSSI (dBm).

    `sample_count` (F, K) is the number of samples behind each RSSI (1 when omitted); `tx_offset_db` is the tag's
    known transmit offset (scalar or per fix) with prior spread `tx_offset_sigma_db` (config default when None;
    pass a small value once the offset has been calibrated). `bounds` = (xmin, ymin, xmax, ymax) of the site.
    """
    config = config or EstimatorConfig()
    gw = np.atleast_2d(np.asarray(gateway_index, dtype=np.int64))
    rssi = np.atleast_2d(np.asarray(rssi_dbm, dtype=float))
    if gw.shape != rssi.shape:
        raise ValueError(f"gateway_index {gw.shape} and rssi_dbm {rssi.shape} must have the same shape")
    if gw.size and gw.max() >= len(gateways):
        raise ValueError(f"gateway_index refers to row {gw.max()} but the table has {len(gateways)} gateways")
    n_fix = gw.shape[0]
    counts = np.ones(gw.shape) if sample_count is None else np.maximum(np.asarray(sample_count, float), 1.0)
    valid = (gw >= 0) & np.isfinite(rssi)
    floor, valid = _select_floor(gateways, gw, rssi, valid)
    m = valid.sum(axis=1)

    safe = np.maximum(gw, 0)
    gx, gy = gateways.x[safe], gateways.y[safe]
    dz2 = np.nan_to_num(gateways.z[safe] - config.tag_height_m, nan=0.0) ** 2
    a = gateways.ref_rssi_1m_dbm[safe]
    n = gateways.path_loss_exponent[safe]
    rssi0 = np.where(valid, rssi, a)  # padding gets a harmless finite value; its weight is zero
    sigma2 = config.shadowing_sigma_db**2 + config.fading_sigma_db**2 / counts
    b0 = np.broadcast_to(np.asarray(tx_offset_db, dtype=float), (n_fix,)).astype(float)
    b_sigma = config.tx_offset_sigma_db if tx_offset_sigma_db is None else tx_offset_sigma_db
    b_prec = np.broadcast_to(1.0 / np.asarray(b_sigma, dtype=float) ** 2, (n_fix,))
    xmin, ymin, xmax, ymax = bounds if bounds is not None else gateways.bounds(config.site_margin_m)

    # Ranges at the prior offset; centroid weights 1/r² are unchanged by a common offset.
    r3d = range_from_rssi(rssi0, a, n, b0[:, None])
    r2d = np.maximum(horizontal_range(r3d, np.sqrt(dz2)), MIN_RANGE_M)
    w_c = np.where(valid, 1.0 / np.maximum(r2d, 0.5) ** 2, 0.0)
    w_sum = np.maximum(w_c.sum(axis=1), 1e-12)
    cx, cy = (w_c * gx).sum(axis=1) / w_sum, (w_c * gy).sum(axis=1) / w_sum
    spread = np.sqrt((w_c * ((gx - cx[:, None]) ** 2 + (gy - cy[:, None]) ** 2)).sum(axis=1) / w_sum)

    x, y = cx.copy(), cy.copy()
    accuracy = np.full(n_fix, np.nan)
    method = np.full(n_fix, CENTROID, dtype=np.int8)
    b_out = np.full(n_fix, np.nan)
    sigma_range = range_sigma_m(r2d, n, np.sqrt(sigma2))

    # 1 gateway: proximity — at the (strongest) gateway, accuracy ≈ the estimated range.
    one = m == 1
    if one.any():
        first = np.argmax(valid[one], axis=1)
        rows = np.flatnonzero(one)
        x[one], y[one] = gx[rows, first], gy[rows, first]
        accuracy[one] = np.hypot(r2d[rows, first], sigma_range[rows, first])
        method[one] = PROXIMITY

    # 2 gateways: split the segment in the ratio of the ranges; unknown sideways offset widens the accuracy.
    two = m == 2
    if two.any():
        rows = np.flatnonzero(two)
        cols = np.argsort(~valid[two], axis=1, kind="stable")[:, :2]
        i, j = cols[:, 0], cols[:, 1]
        ri, rj = r2d[rows, i], r2d[rows, j]
        t = ri / (ri + rj)
        x[two] = gx[rows, i] + t * (gx[rows, j] - gx[rows, i])
        y[two] = gy[rows, i] + t * (gy[rows, j] - gy[rows, i])
        baseline = np.hypot(gx[rows, j] - gx[rows, i], gy[rows, j] - gy[rows, i])
        along = t * baseline
        sideways = np.sqrt(np.maximum(ri**2 - along**2, 0.0))
        along_sigma = np.hypot(sigma_range[rows, i], sigma_range[rows, j]) * t
        accuracy[two] = np.sqrt(along_sigma**2 + sideways**2 + 0.25 * baseline**2 * 0.1)
        method[two] = MIDPOINT

    many = m >= 3
    if many.any():
        rows = np.flatnonzero(many)
        sx, sy, sb, cov_trace, cost, ok = _robust_solve(
            gx[rows],
            gy[rows],
            dz2[rows],
            a[rows],
            n[rows],
            rssi0[rows],
            sigma2[rows],
            valid[rows],
            cx[rows],
            cy[rows],
            b0[rows],
            b_prec[rows],
            (xmin, ymin, xmax, ymax),
            config,
        )
        x[rows] = np.where(ok, sx, cx[rows])
        y[rows] = np.where(ok, sy, cy[rows])
        b_out[rows] = np.where(ok, sb, np.nan)
        method[rows] = np.where(ok, TRILATERATION, CENTROID)
        accuracy[rows] = np.where(ok, _R68_PER_SQRT_TRACE * np.sqrt(cov_trace), np.nan)

    # Centroid rows (fallbacks): the tag is somewhere among the gateways it hears.
    centroid = np.isnan(accuracy)
    accuracy[centroid] = np.maximum(spread[centroid], 1.0)
    accuracy = np.hypot(accuracy, config.model_error_m)
    accuracy = np.maximum(accuracy, config.min_accuracy_m)

    if fingerprint is not None:
        fp_x, fp_y, fp_acc, fp_ok = fingerprint.predict(gw, np.where(valid, rssi, np.nan))
        use = fp_ok & (m >= 1)
        x[use], y[use], accuracy[use] = fp_x[use], fp_y[use], np.maximum(fp_acc[use], config.min_accuracy_m)
        method[use] = FINGERPRINT

    x = np.clip(x, xmin, xmax)
    y = np.clip(y, ymin, ymax)
    none = m == 0
    x[none] = y[none] = accuracy[none] = np.nan
    return Fixes(
        x=x,
        y=y,
        floor=floor,
        accuracy_m=accuracy,
        confidence=_confidence(accuracy, m),
        method=method,
        gateway_count=m,
        tx_offset_db=b_out,
    )


def _robust_solve(gx, gy, dz2, a, n, rssi, sigma2, valid, x, y, b0, b_prec, bounds, config):  # type: ignore[no-untyped-def]
    """Bounded Huber-IRLS Levenberg–Marquardt on (x, y, b) for every row at once.

    Returns x, y, b, the trace of the x-y covariance (scaled by the residual fit), the final robust cost and
    whether the solve beat its centroid start. A fixed iteration count keeps every row in lock-step (no loop per fix).
    """
    xmin, ymin, xmax, ymax = bounds
    x, y = np.clip(x, xmin, xmax), np.clip(y, ymin, ymax)
    m = valid.sum(axis=1)
    k = config.huber_k
    inv_sigma = 1.0 / np.sqrt(sigma2)
    slope = 10.0 * n / np.log(10.0)  # dB per unit of ln(d), times the chain rule factor below

    def model(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        dx, dy = x[:, None] - gx, y[:, None] - gy
        d2 = np.maximum(dx * dx + dy * dy + dz2, MIN_RANGE_M**2)
        return a - 5.0 * n * np.log10(d2), dx, dy, d2

    def best_offset(pred: np.ndarray) -> np.ndarray:
        # Closed-form b for a position: precision-weighted mean of residuals, shrunk toward the prior.
        w = np.where(valid, 1.0 / sigma2, 0.0)
        return ((w * (rssi - pred)).sum(axis=1) + b_prec * b0) / (w.sum(axis=1) + b_prec)

    def robust_cost(pred: np.ndarray, b: np.ndarray) -> np.ndarray:
        z = np.abs(rssi - pred - b[:, None]) * inv_sigma
        rho = np.where(z <= k, 0.5 * z * z, k * z - 0.5 * k * k)
        return np.where(valid, rho, 0.0).sum(axis=1) + 0.5 * b_prec * (b - b0) ** 2

    pred, dx, dy, d2 = model(x, y)
    b = best_offset(pred)
    start_cost = robust_cost(pred, b)
    cost = start_cost
    lam = np.full(len(x), 1e-2)
    for _ in range(config.iterations):
        r = rssi - pred - b[:, None]
        z = np.abs(r) * inv_sigma
        w = np.where(valid, (inv_sigma**2) * np.minimum(1.0, k / np.maximum(z, 1e-9)), 0.0)
        # Jacobian of the prediction: d pred / d x = −10 n/ln10 · dx/d², d pred / d b = 1.
        jx, jy = -slope * dx / d2, -slope * dy / d2
        hxx, hxy, hyy = (w * jx * jx).sum(1), (w * jx * jy).sum(1), (w * jy * jy).sum(1)
        hxb, hyb, hbb = (w * jx).sum(1), (w * jy).sum(1), w.sum(1) + b_prec
        gx_, gy_ = (w * jx * r).sum(1), (w * jy * r).sum(1)
        gb = (w * r).sum(1) - b_prec * (b - b0)
        damp = 1.0 + lam
        step_x, step_y, step_b = _solve3(hxx * damp, hxy, hxb, hyy * damp, hyb, hbb * damp, gx_, gy_, gb)
        # Cap the step: the dB model is very non-linear near a gateway.
        length = np.hypot(step_x, step_y)
        scale = np.minimum(1.0, 2.0 / np.maximum(length, 1e-12))
        nx = np.clip(x + scale * step_x, xmin, xmax)
        ny = np.clip(y + scale * step_y, ymin, ymax)
        nb = b + scale * step_b
        npred, ndx, ndy, nd2 = model(nx, ny)
        ncost = robust_cost(npred, nb)
        better = np.isfinite(ncost) & (ncost < cost)
        x, y, b = np.where(better, nx, x), np.where(better, ny, y), np.where(better, nb, b)
        pred = np.where(better[:, None], npred, pred)
        dx, dy, d2 = (np.where(better[:, None], new, old) for new, old in ((ndx, dx), (ndy, dy), (nd2, d2)))
        cost = np.where(better, ncost, cost)
        lam = np.where(better, lam * 0.3, lam * 10.0)

    # Covariance of (x, y) from the undamped information matrix at the solution, scaled by how well the residuals
    # fit (a Bayesian-style blend with 3 prior degrees of freedom keeps 3-gateway fixes from claiming certainty).
    r = rssi - pred - b[:, None]
    z = np.abs(r) * inv_sigma
    w = np.where(valid, (inv_sigma**2) * np.minimum(1.0, k / np.maximum(z, 1e-9)), 0.0)
    jx, jy = -slope * dx / d2, -slope * dy / d2
    hxx, hxy, hyy = (w * jx * jx).sum(1), (w * jx * jy).sum(1), (w * jy * jy).sum(1)
    hxb, hyb, hbb = (w * jx).sum(1), (w * jy).sum(1), w.sum(1) + b_prec
    chi2 = (w * r * r).sum(1)
    prior_dof = 3.0
    scale2 = (chi2 + prior_dof) / (np.maximum(m - 2, 0) + prior_dof)
    # Marginal x-y covariance = inverse of the Schur complement of b.
    sxx, sxy, syy = hxx - hxb * hxb / hbb, hxy - hxb * hyb / hbb, hyy - hyb * hyb / hbb
    det = sxx * syy - sxy * sxy
    trace = np.where(det > 1e-12, (sxx + syy) / np.maximum(det, 1e-12), np.inf) * scale2
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(trace) & (cost <= start_cost + 1e-9)
    return x, y, b, np.minimum(trace, 1e6), cost, ok


def _solve3(a11, a12, a13, a22, a23, a33, b1, b2, b3):  # type: ignore[no-untyped-def]
    """Solve symmetric 3×3 systems row-wise by Cramer's rule (much faster than np.linalg.solve on tiny blocks)."""
    c11 = a22 * a33 - a23 * a23
    c12 = a13 * a23 - a12 * a33
    c13 = a12 * a23 - a13 * a22
    det = a11 * c11 + a12 * c12 + a13 * c13
    det = np.where(np.abs(det) > 1e-300, det, 1e-300)
    c22 = a11 * a33 - a13 * a13
    c23 = a12 * a13 - a11 * a23
    c33 = a11 * a22 - a12 * a12
    return (
        (c11 * b1 + c12 * b2 + c13 * b3) / det,
        (c12 * b1 + c22 * b2 + c23 * b3) / det,
        (c13 * b1 + c23 * b2 + c33 * b3) / det,
    )
