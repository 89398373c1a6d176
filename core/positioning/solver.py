"""The trilateration hot path: bounded, robust (Huber IRLS) Gauss–Newton on (x, y, tag offset) for many fixes.

Model per gateway i: `RSSI_i = A_i + b − 10·n_i·log10(d_i)`, residuals in dB weighted by 1/σ_i², Huber
re-weighting against multipath outliers, a Gaussian prior on `b` (the tag's transmit offset), steps capped
and clipped to the site box. A gateway reports no sample below its sensitivity `s_i`, so a window's mean of a
weak gateway's samples is the mean of the loud ones only: the residual is taken against the mean it should
then show, a normal truncated at `s_i` — `μ + σ_f·λ((s_i − μ)/σ_f)` with `λ` the inverse Mills ratio and `σ_f`
the per-sample fading — and its Jacobian is scaled by that mean's slope, `1 − λ(λ − α)`, which falls towards 0
as `μ` sinks below the sensitivity (such a gateway says "far", not how far).

Speed comes from layout, not cleverness: rows are sorted by gateway count so each chunk is only as wide as it
needs to be, arrays are (gateways, fixes) so per-fix sums are row additions, chunks fit in cache, and the
iterations run in float32 (errors ~1e-6 dB and ~1e-5 m; the covariance is computed in float64). Steps that raise
a row's robust cost are refused and its trust radius shrinks. Every row runs the same fixed number of iterations
in lock-step — there is no Python loop per fix.
"""

from __future__ import annotations

import numpy as np

from core.positioning.pathloss import MIN_RANGE_M

CHUNK_ROWS = 8192
MAX_STEP_M = 5.0
DAMPING = 1e-3
# Rows whose robust cost per degree of freedom stays above this get a second start outside the gateway hull.
RESTART_COST_PER_DOF = 1.5
LN10 = float(np.log(10.0))  # a Python float: NumPy scalars would promote float32 arrays to float64
# Börjesson–Sundberg's approximation of the normal tail, Q(u) ≈ φ(u) / ((1 − a)·u + a·sqrt(u² + b)) for u ≥ 0
# (relative error < 0.3 % in the inverse Mills ratio below): one exp and one sqrt in float32, where
# scipy's erfcx (exact) halved the estimator's throughput.
_BS_A, _BS_B = 0.339, 5.510
_INV_SQRT_2PI = float(1.0 / np.sqrt(2.0 * np.pi))


def colsum(a: np.ndarray) -> np.ndarray:
    """Sum over gateways (axis 0), adding the rows in order. `a.sum(axis=0)` does the same for most shapes, but
    a chunk of one fix is one contiguous run that NumPy sums pairwise, so the last bits of a fix would depend on
    which other fixes shared its batch — and a replay must reproduce every fix exactly."""
    out = a[0].copy()
    for row in a[1:]:
        out += row
    return out


def heard_mean(
    pred: np.ndarray, sensitivity: np.ndarray, fading: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean RSSI of the samples a gateway reports when their mean is `pred` with per-sample spread `fading` and
    nothing below `sensitivity` is reported, and its derivative in `pred` (0–1): `pred + fading·λ(α)` with
    α = (sensitivity − pred)/fading and λ(α) = φ(α)/(1 − Φ(α)), whose derivative is λ(λ − α) (above the floor;
    past it, the derivative of the approximation itself, so that Gauss–Newton steps along what it evaluates)."""
    alpha = (sensitivity - pred) / fading
    root = np.sqrt(alpha * alpha + _BS_B)
    g = (1.0 - _BS_A) * np.abs(alpha) + _BS_A * root  # φ/Q at |α|
    phi = np.exp(-0.5 * alpha * alpha) * _INV_SQRT_2PI
    past = alpha >= 0.0
    lam = np.where(past, g, phi * g / (g - phi))  # mean above the floor: Q(α) = 1 − Q(−α)
    dlam = np.where(past, (1.0 - _BS_A) + _BS_A * alpha / root, lam * (lam - alpha))
    return pred + fading * lam, 1.0 - dlam


def _gauss_newton(c, x, y, b0, b_prec, bounds, iterations, k):  # type: ignore[no-untyped-def]
    """Fixed-count robust Gauss–Newton from (x, y) for one chunk in (gateways, fixes) layout.

    Returns x, y, b, the last dx, dy, d², residuals, slopes of the heard means, the final robust cost and the
    cost at the start."""
    xmin, ymin, xmax, ymax = bounds
    # Padding entries get 1/σ = 0: zero weight and zero cost without any masking inside the loop.
    inv_sigma = np.where(c["valid"], 1.0 / np.sqrt(c["sigma2"]), 0.0)
    w0 = inv_sigma * inv_sigma
    w0k = w0 * k
    rssi, a, floor, fading = c["rssi"], c["a"], c["floor"], c["fading"]
    slope = 5.0 * c["n"] / LN10  # pred = A + b − slope·ln(d²)
    gx, gy, dz2 = c["gx"], c["gy"], c["dz2"]

    def residuals(x, y, b):  # type: ignore[no-untyped-def]
        dx, dy = x - gx, y - gy
        d2 = np.maximum(dx * dx + dy * dy + dz2, MIN_RANGE_M**2)
        heard, gain = heard_mean(a + b - slope * np.log(d2), floor, fading)
        return dx, dy, d2, rssi - heard, gain

    def cost_of(r, b):  # type: ignore[no-untyped-def]
        z = np.abs(r) * inv_sigma
        zc = np.minimum(z, k)
        return colsum(zc * (z - 0.5 * zc)) + 0.5 * b_prec * (b - b0) ** 2  # Huber ρ

    x, y = np.clip(x, xmin, xmax), np.clip(y, ymin, ymax)
    d2 = np.maximum((x - gx) ** 2 + (y - gy) ** 2 + dz2, MIN_RANGE_M**2)
    r0 = rssi - a + slope * np.log(d2)  # residual at b = 0, sensitivity aside
    b = (colsum(w0 * r0) + b_prec * b0) / (colsum(w0) + b_prec)  # best offset for the start
    dx, dy, d2, r, gain = residuals(x, y, b)
    start_cost = cost = cost_of(r, b)
    radius = np.full(
        x.shape, MAX_STEP_M, dtype=x.dtype
    )  # per-row trust radius: shrinks after a bad step, grows after a good one
    for _ in range(iterations):
        w = w0k / np.maximum(np.abs(r) * inv_sigma, k)  # Huber IRLS weight: w0·min(1, k/z)
        t = -2.0 * slope / d2 * gain
        jx, jy = t * dx, t * dy
        wjx, wjy, wjb = w * jx, w * jy, w * gain
        sx, sy, sb = _solve3(
            colsum(wjx * jx) * (1 + DAMPING) + 1e-9,
            colsum(wjx * jy),
            colsum(wjx * gain),
            colsum(wjy * jy) * (1 + DAMPING) + 1e-9,
            colsum(wjy * gain),
            (colsum(wjb * gain) + b_prec) * (1 + DAMPING),
            colsum(wjx * r),
            colsum(wjy * r),
            colsum(wjb * r) - b_prec * (b - b0),
        )
        scale = np.minimum(1.0, radius / np.maximum(np.hypot(sx, sy), 1e-12))
        nx = np.clip(x + scale * sx, xmin, xmax)
        ny = np.clip(y + scale * sy, ymin, ymax)
        nb = b + scale * sb
        ndx, ndy, nd2, nr, ngain = residuals(nx, ny, nb)
        new_cost = cost_of(nr, nb)
        good = new_cost <= cost
        x, y, b, cost = (
            np.where(good, nx, x),
            np.where(good, ny, y),
            np.where(good, nb, b),
            np.where(good, new_cost, cost),
        )
        dx, dy, d2, r, gain = (
            np.where(good, new, old) for new, old in ((ndx, dx), (ndy, dy), (nd2, d2), (nr, r), (ngain, gain))
        )
        radius = np.where(good, np.minimum(radius * 2.0, MAX_STEP_M), radius * 0.25)
    return x, y, b, dx, dy, d2, r, gain, cost, start_cost


def solve_chunk(c, x, y, b0, b_prec, m, bounds, iterations, k):  # type: ignore[no-untyped-def]
    """Solve one chunk. `c` holds (gateways, fixes) arrays `gx, gy, dz2, a, n, rssi, sigma2, floor, valid` with
    real entries packed first (`floor`: the gateways' sensitivity) and `fading` (1, fixes), the per-sample spread;
    x, y are the starts (weighted centroids), m the gateway counts (all ≥3).
    Returns x, y, b, the x-y covariance trace (scaled by the fit) and whether the solve beat its start."""
    x1, y1, b1, dx, dy, d2, r, gain, cost, start_cost = _gauss_newton(
        c, x, y, b0, b_prec, bounds, iterations, k
    )
    # Second start for badly fitting rows: beyond the loudest gateway, away from the centroid — where a tag
    # outside the gateway hull (a corner, a yard) really is, and where Gauss–Newton from inside rarely goes.
    retry = np.flatnonzero(cost / np.maximum(m - 2, 1) > RESTART_COST_PER_DOF)
    if retry.size:
        loud = np.argmax(np.where(c["valid"][:, retry], c["rssi"][:, retry], -np.inf), axis=0)
        lx, ly = c["gx"][loud, retry], c["gy"][loud, retry]
        ux, uy = lx - x[retry], ly - y[retry]
        norm = np.maximum(np.hypot(ux, uy), 1e-6)
        sub = {name: values[:, retry] for name, values in c.items()}
        alt = _gauss_newton(
            sub, lx + 2.0 * ux / norm, ly + 2.0 * uy / norm, b0[retry], b_prec[retry], bounds, iterations, k
        )
        better = alt[8] < cost[retry]
        rows = retry[better]
        for target, source in zip((x1, y1, b1, cost), (alt[0], alt[1], alt[2], alt[8]), strict=True):
            target[rows] = source[better]
        for target, source in zip((dx, dy, d2, r, gain), alt[3:8], strict=True):
            target[:, rows] = source[:, better]

    # Covariance of (x, y) at the solution: undamped information, b marginalised out (Schur complement), scaled
    # by the fit with 3 prior degrees of freedom so a 3-gateway fix cannot claim certainty from a perfect fit.
    r, d2, dx, dy, gain = (v.astype(np.float64) for v in (r, d2, dx, dy, gain))
    b_prec = b_prec.astype(np.float64)
    inv_sigma = 1.0 / np.sqrt(c["sigma2"].astype(np.float64))
    w = np.where(c["valid"], inv_sigma**2, 0.0) * np.minimum(1.0, k / np.maximum(np.abs(r) * inv_sigma, 1e-9))
    t = -2.0 * (5.0 * c["n"].astype(np.float64) / LN10) / d2 * gain
    jx, jy = t * dx, t * dy
    wjx, wjy = w * jx, w * jy
    hxx, hxy, hyy = colsum(wjx * jx), colsum(wjx * jy), colsum(wjy * jy)
    hxb, hyb, hbb = colsum(wjx * gain), colsum(wjy * gain), colsum(w * gain * gain) + b_prec
    chi2 = colsum(w * r * r)
    scale2 = (chi2 + 3.0) / (np.maximum(m - 2, 0) + 3.0)
    sxx, sxy, syy = hxx - hxb * hxb / hbb, hxy - hxb * hyb / hbb, hyy - hyb * hyb / hbb
    det = sxx * syy - sxy * sxy
    trace = np.where(det > 1e-12, (sxx + syy) / np.maximum(det, 1e-12), 1e6) * scale2
    ok = np.isfinite(x1) & np.isfinite(y1) & (cost <= start_cost + 1e-9)
    return x1, y1, b1, np.minimum(trace, 1e6), ok


def _solve3(a11, a12, a13, a22, a23, a33, b1, b2, b3):  # type: ignore[no-untyped-def]
    """Solve symmetric 3×3 systems row-wise by Cramer's rule (much faster than np.linalg.solve on tiny blocks)."""
    c11 = a22 * a33 - a23 * a23
    c12 = a13 * a23 - a12 * a33
    c13 = a12 * a23 - a13 * a22
    det = a11 * c11 + a12 * c12 + a13 * c13
    tiny = np.finfo(det.dtype).tiny
    det = np.where(np.abs(det) > tiny, det, tiny)
    c22 = a11 * a33 - a13 * a13
    c23 = a12 * a13 - a11 * a23
    c33 = a11 * a22 - a12 * a12
    return (
        (c11 * b1 + c12 * b2 + c13 * b3) / det,
        (c12 * b1 + c22 * b2 + c23 * b3) / det,
        (c13 * b1 + c23 * b2 + c33 * b3) / det,
    )
