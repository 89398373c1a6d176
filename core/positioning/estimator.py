"""Vectorised location estimation: many fixes per call, one method per fix chosen by how many gateways heard it.

Method chain (per fix, on the floor chosen first):
  1 gateway  → proximity: at the gateway, accuracy ≈ estimated range;
  2 gateways → midpoint: the point on the segment that splits it in the ratio of the estimated ranges;
  ≥3         → trilateration: robust (Huber IRLS) trust-region Gauss–Newton in the dB domain, bounded to the
               site, started from the weighted centroid, which is also the fallback when the solve does not beat
               it (see `solver.py`);
  a fitted `FingerprintModel`, when given, replaces the chain for fixes it can score.

The solve has three unknowns: x, y and the tag's transmit offset `b` (dB). Real tags rarely transmit at the
power the defaults assume (the Kolakowski tag is ~12 dB hotter than A = −59 dBm), and a common offset only shifts
all RSSIs together, so estimating it per fix — with a prior around the known offset — makes the zero-config path
use RSSI *differences* between gateways, which survive a wrong `A`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from core.positioning.gateways import GatewayTable
from core.positioning.pathloss import MIN_RANGE_M
from core.positioning.solver import CHUNK_ROWS, colsum, solve_chunk

if TYPE_CHECKING:
    from core.positioning.fingerprint import FingerprintModel
    from core.positioning.windows import Windows

METHOD_NAMES: tuple[str, ...] = ("proximity", "midpoint", "centroid", "trilateration", "fingerprint")
PROXIMITY, MIDPOINT, CENTROID, TRILATERATION, FINGERPRINT = range(5)

# Radius of a circular 2-D Gaussian holding 68 % of the mass, per sqrt(trace of the covariance).
_R68_PER_SQRT_TRACE = float(np.sqrt(-np.log(0.32)))
_LN10 = float(np.log(10.0))  # a Python float: NumPy scalars would promote float32 arrays to float64


@dataclass(frozen=True, slots=True)
class EstimatorConfig:
    """Noise model and solver knobs. Defaults are physical (indoor BLE), not fitted to one data set."""

    shadowing_sigma_db: float = 4.0  # location-dependent error that window averaging does not remove
    fading_sigma_db: float = 6.0  # per-sample fast fading, shrinks with the samples in a window
    # What a gateway reports is censored at its sensitivity: near it, only the samples that faded up are heard and
    # a window's mean reads loud. The solve models that (see `solver.py`) with the gateway table's sensitivity or
    # this default (a typical BLE receiver's), and this spread of single samples around their mean.
    sensitivity_dbm: float = -95.0
    censoring_fading_sigma_db: float = 3.0
    tx_offset_sigma_db: float = 10.0  # prior spread of the tag offset when it is not known (zero-config)
    huber_k: float = 1.5  # residuals beyond k·σ get linear, not quadratic, influence
    iterations: int = 8
    tag_height_m: float = 1.0  # typical asset height; matters when gateway heights are known
    site_margin_m: float = 1.0  # default site box = gateway box + margin
    min_accuracy_m: float = 0.5  # RSSI never resolves better than this
    model_error_m: float = 0.7  # geometry/model error added in quadrature to the statistical radius
    # Multiplies the covariance radius. On the Kolakowski calibration walk (not its test run) ~0.8 of it holds
    # 68 %; the simulator, with walls and path-loss mismatch the model does not know about, would need ~1.1.
    accuracy_scale: float = 0.85


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


def _sensitivity(gateways: GatewayTable, config: EstimatorConfig) -> np.ndarray:
    """Each gateway's sensitivity (dBm): its table's where known, the configured default elsewhere."""
    known = gateways.sensitivity_dbm
    if known is None:
        return np.full(len(gateways), config.sensitivity_dbm)
    return np.where(np.isfinite(known), known, config.sensitivity_dbm)


def confidence_from_accuracy(accuracy_m: np.ndarray, gateway_count: np.ndarray) -> np.ndarray:
    """0–1: high when the 68 % radius is small and several gateways agree; 1 m → ~0.8, 3 m → ~0.3."""
    support = 1.0 - 0.5 ** np.maximum(gateway_count, 1)
    return np.clip(support / (1.0 + (accuracy_m / 2.0) ** 2), 0.0, 1.0)


def estimate_windows(gateways: GatewayTable, windows: Windows, **kwargs: Any) -> Fixes:
    """`estimate_batch` on the output of `aggregate_windows` (same keyword arguments)."""
    return estimate_batch(
        gateways, windows.gateway, windows.rssi_dbm, sample_count=windows.sample_count, **kwargs
    )


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
    counts = None if sample_count is None else np.atleast_2d(np.asarray(sample_count, dtype=float))
    valid = (gw >= 0) & np.isfinite(rssi)
    floor, valid = _select_floor(gateways, gw, rssi, valid)
    m = valid.sum(axis=1)
    if gw.shape[1] > 1 and not np.all(valid[:, :-1] >= valid[:, 1:]):  # pack real entries to the left
        pack = np.argsort(~valid, axis=1, kind="stable")
        gw, rssi, valid = (np.take_along_axis(v, pack, axis=1) for v in (gw, rssi, valid))
        counts = None if counts is None else np.take_along_axis(counts, pack, axis=1)
    b0 = np.broadcast_to(np.asarray(tx_offset_db, dtype=float), (n_fix,)).astype(float)
    b_sigma = config.tx_offset_sigma_db if tx_offset_sigma_db is None else tx_offset_sigma_db
    b_prec = np.broadcast_to(1.0 / np.asarray(b_sigma, dtype=float) ** 2, (n_fix,)).astype(float)
    box = bounds if bounds is not None else gateways.bounds(config.site_margin_m)
    columns: tuple[np.ndarray, ...] = (
        gateways.x,
        gateways.y,
        np.nan_to_num(gateways.z - config.tag_height_m, nan=0.0) ** 2,
        gateways.ref_rssi_1m_dbm,
        gateways.path_loss_exponent,
        _sensitivity(gateways, config),
    )
    # The hot path runs in float32: half the memory traffic, twice the SIMD width; metres and dB need no more.
    columns = tuple(column.astype(np.float32) for column in columns)

    x, y = np.full(n_fix, np.nan), np.full(n_fix, np.nan)
    accuracy, b_out = np.full(n_fix, np.nan), np.full(n_fix, np.nan)
    method = np.full(n_fix, CENTROID, dtype=np.int8)
    # Rows sorted by gateway count, in cache-sized chunks, each only as wide as its widest row.
    order = np.argsort(m, kind="stable")
    order = order[m[order] > 0]
    for start in range(0, len(order), CHUNK_ROWS):
        rows = order[start : start + CHUNK_ROWS]
        k = int(m[rows].max())
        gw_t = np.ascontiguousarray(gw[rows, :k].T)
        chunk = {
            "valid": np.ascontiguousarray(valid[rows, :k].T),
            "count": (np.ones(gw_t.shape) if counts is None else np.maximum(counts[rows, :k].T, 1.0)).astype(
                np.float32
            ),
        }
        safe = np.maximum(gw_t, 0)
        for name, column in zip(("gx", "gy", "dz2", "a", "n", "floor"), columns, strict=True):
            chunk[name] = column[safe]
        chunk["fading"] = np.full((1, len(rows)), config.censoring_fading_sigma_db, dtype=np.float32)
        # Padding gets a finite RSSI; its weight is zero.
        chunk["rssi"] = np.where(chunk["valid"], rssi[rows, :k].T.astype(np.float32), chunk["a"])
        # A mean below the gateway's sensitivity proves the sensitivity wrong (set too high): never expect more
        # than was heard. Correctly set, no mean is below it and this changes nothing.
        chunk["floor"] = np.minimum(chunk["floor"], chunk["rssi"])
        result = _estimate_chunk(
            chunk, m[rows], b0[rows].astype(np.float32), b_prec[rows].astype(np.float32), box, config
        )
        x[rows], y[rows], accuracy[rows], method[rows], b_out[rows] = result

    if fingerprint is not None:
        fp_x, fp_y, fp_acc, fp_ok = fingerprint.predict(gw, np.where(valid, rssi, np.nan))
        use = fp_ok & (m >= 1)
        x[use], y[use], accuracy[use] = fp_x[use], fp_y[use], np.maximum(fp_acc[use], config.min_accuracy_m)
        method[use] = FINGERPRINT

    heard = m > 0
    x[heard] = np.clip(x[heard], box[0], box[2])
    y[heard] = np.clip(y[heard], box[1], box[3])
    return Fixes(
        x=x,
        y=y,
        floor=floor,
        accuracy_m=accuracy,
        confidence=confidence_from_accuracy(accuracy, m),
        method=method,
        gateway_count=m,
        tx_offset_db=b_out,
    )


def _estimate_chunk(c, m, b0, b_prec, box, config):  # type: ignore[no-untyped-def]
    """The method chain for one chunk in (gateways, fixes) layout with real entries packed first."""
    valid, gx, gy, a, n = c["valid"], c["gx"], c["gy"], c["a"], c["n"]
    c["sigma2"] = config.shadowing_sigma_db**2 + config.fading_sigma_db**2 / c["count"]
    # Horizontal range at the prior offset. Centroid weights 1/r² do not change with a common offset.
    r3d = np.exp((a + b0 - c["rssi"]) / (10.0 * n) * _LN10)
    r2d = np.maximum(np.sqrt(np.maximum(r3d * r3d - c["dz2"], 0.0)), MIN_RANGE_M)
    w_c = np.where(valid, 1.0 / np.maximum(r2d, 0.5) ** 2, 0.0)
    w_sum = np.maximum(colsum(w_c), 1e-12)
    cx, cy = colsum(w_c * gx) / w_sum, colsum(w_c * gy) / w_sum
    spread = np.sqrt(colsum(w_c * ((gx - cx) ** 2 + (gy - cy) ** 2)) / w_sum)
    sigma_range = r2d * _LN10 * np.sqrt(c["sigma2"]) / (10.0 * n)

    x, y = cx.copy(), cy.copy()
    accuracy = np.maximum(spread, 1.0)  # centroid accuracy: the tag is somewhere among the gateways it hears
    method = np.full(len(m), CENTROID, dtype=np.int8)
    b_out = np.full(len(m), np.nan)

    one = m == 1  # proximity: at the gateway, accuracy ≈ the estimated range
    x[one], y[one] = gx[0, one], gy[0, one]
    accuracy[one] = np.hypot(r2d[0, one], sigma_range[0, one])
    method[one] = PROXIMITY

    two = np.flatnonzero(m == 2)  # midpoint: split the segment in the ratio of the ranges
    if two.size:
        ri, rj = r2d[0, two], r2d[1, two]
        t = ri / (ri + rj)
        x[two] = gx[0, two] + t * (gx[1, two] - gx[0, two])
        y[two] = gy[0, two] + t * (gy[1, two] - gy[0, two])
        baseline = np.hypot(gx[1, two] - gx[0, two], gy[1, two] - gy[0, two])
        sideways = np.sqrt(np.maximum(ri**2 - (t * baseline) ** 2, 0.0))  # off the segment: unknown side
        along_sigma = np.hypot(sigma_range[0, two], sigma_range[1, two]) * t
        accuracy[two] = np.sqrt(along_sigma**2 + sideways**2)
        method[two] = MIDPOINT

    many = np.flatnonzero(m >= 3)  # robust bounded solve, centroid start and fallback
    if many.size:
        sub = c if many.size == len(m) else {key: value[:, many] for key, value in c.items()}
        sx, sy, sb, trace, ok = solve_chunk(
            sub, cx[many], cy[many], b0[many], b_prec[many], m[many], box, config.iterations, config.huber_k
        )
        rows = many[ok]
        x[rows], y[rows], b_out[rows] = sx[ok], sy[ok], sb[ok]
        # The tag is inside the site box: combine the solve's covariance (as isotropic) with the box as a uniform
        # prior (variance L²/12 per axis), so a small site does not get radii larger than itself.
        box_var = ((box[2] - box[0]) ** 2 + (box[3] - box[1]) ** 2) / 24.0
        axis_var = 1.0 / (2.0 / trace[ok] + 1.0 / box_var)
        accuracy[rows] = config.accuracy_scale * _R68_PER_SQRT_TRACE * np.sqrt(2.0 * axis_var)
        method[rows] = TRILATERATION

    accuracy = np.maximum(np.hypot(accuracy, config.model_error_m), config.min_accuracy_m)
    return x, y, accuracy, method, b_out
