"""The trilateration hot path: bounded, robust (Huber IRLS) Gauss–Newton on (x, y, tag offset) for many fixes.

Model per gateway i: `RSSI_i = A_i + b − 10·n_i·log10(d_i)`, residuals in dB weighted by 1/σ_i², Huber
re-weighting against multipath outliers, a Gaussian prior on `b` (the tag's transmit offset), steps capped
and clipped to the site box. Speed comes from layout, not cleverness: rows are sorted by gateway count so each
chunk is only as wide as it needs to be, arrays are (gateways, fixes) so per-fix sums are row additions, chunks
fit in cache, and the iterations run in float32 (errors ~1e-6 dB and ~1e-5 m; the covariance is computed in
float64). Steps that raise a row's robust cost are refused and its trust radius shrinks. Every row runs the same
fixed number of iterations in lock-step — there is no Python loop per fix.
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


def colsum(a: np.ndarray) -> np.ndarray:
    """Sum over gateways (axis 0), adding the rows in order. `a.sum(axis=0)` does the same for most shapes, but
    a chunk of one fix is one contiguous run that NumPy sums pairwise, so the last bits of a fix would depend on
    which other fixes shared its batch — and a replay must reproduce every fix exactly."""
    out = a[0].copy()
    for row in a[1:]:
        out += row
    return out


def _gauss_newton(c, x, y, b0, b_prec, bounds, iterations, k):  # type: ignore[no-untyped-def]
    """Fixed-count robust Gauss–Newton from (x, y) for one chunk in (gateways, fixes) layout.

    Returns x, y, b, the last dx, dy, d², residuals, the final robust cost and the cost at the start."""
    xmin, ymin, xmax, ymax = bounds
    # Padding entries get 1/σ = 0: zero weight and zero cost without any masking inside the loop.
    inv_sigma = np.where(c["valid"], 1.0 / np.sqrt(c["sigma2"]), 0.0)
    w0 = inv_sigma * inv_sigma
    w0k = w0 * k
    ra = c["rssi"] - c["a"]
    slope = 5.0 * c["n"] / LN10  # pred = A + b − slope·ln(d²)
    gx, gy, dz2 = c["gx"], c["gy"], c["dz2"]

    def residuals(x, y):  # type: ignore[no-untyped-def]
        dx, dy = x - gx, y - gy
        d2 = np.maximum(dx * dx + dy * dy + dz2, MIN_RANGE_M**2)
        return dx, dy, d2, ra + slope * np.log(d2)  # residual before the offset

    def cost_of(r, b):  # type: ignore[no-untyped-def]
        z = np.abs(r) * inv_sigma
        zc = np.minimum(z, k)
        return colsum(zc * (z - 0.5 * zc)) + 0.5 * b_prec * (b - b0) ** 2  # Huber ρ

    x, y = np.clip(x, xmin, xmax), np.clip(y, ymin, ymax)
    dx, dy, d2, r0 = residuals(x, y)
    b = (colsum(w0 * r0) + b_prec * b0) / (colsum(w0) + b_prec)  # best offset for the start
    start_cost = cost_of(r0 - b, b)
    cost = start_cost
    radius = np.full(
        x.shape, MAX_STEP_M, dtype=x.dtype
    )  # per-row trust radius: shrinks after a bad step, grows after a good one
    for _ in range(iterations):
        r = r0 - b
        w = w0k / np.maximum(np.abs(r) * inv_sigma, k)  # Huber IRLS weight: w0·min(1, k/z)
        t = -2.0 * slope / d2
        jx, jy = t * dx, t * dy
        wjx, wjy = w * jx, w * jy
        sx, sy, sb = _solve3(
            colsum(wjx * jx) * (1 + DAMPING) + 1e-9,
            colsum(wjx * jy),
            colsum(wjx),
            colsum(wjy * jy) * (1 + DAMPING) + 1e-9,
            colsum(wjy),
            (colsum(w) + b_prec) * (1 + DAMPING),
            colsum(wjx * r),
            colsum(wjy * r),
            colsum(w * r) - b_prec * (b - b0),
        )
        scale = np.minimum(1.0, radius / np.maximum(np.hypot(sx, sy), 1e-12))
        nx = np.clip(x + scale * sx, xmin, xmax)
        ny = np.clip(y + scale * sy, ymin, ymax)
        nb = b + scale * sb
        ndx, ndy, nd2, nr0 = residuals(nx, ny)
        new_cost = cost_of(nr0 - nb, nb)
        good = new_cost <= cost
        x, y, b, cost = (
            np.where(good, nx, x),
            np.where(good, ny, y),
            np.where(good, nb, b),
            np.where(good, new_cost, cost),
        )
        dx, dy, d2, r0 = (
            np.where(good, new, old) for new, old in ((ndx, dx), (ndy, dy), (nd2, d2), (nr0, r0))
        )
        radius = np.where(good, np.minimum(radius * 2.0, MAX_STEP_M), radius * 0.25)
    return x, y, b, dx, dy, d2, r0 - b, cost, start_cost


def solve_chunk(c, x, y, b0, b_prec, m, bounds, iterations, k):  # type: ignore[no-untyped-def]
    """Solve one chunk. `c` holds (gateways, fixes) arrays `gx, gy, dz2, a, n, rssi, sigma2, valid` with real
    entries packed first; x, y are the starts (weighted centroids), m the gateway counts (all ≥3).
    Returns x, y, b, the x-y covariance trace (scaled by the fit) and whether the solve beat its start."""
    x1, y1, b1, dx, dy, d2, r, cost, start_cost = _gauss_newton(c, x, y, b0, b_prec, bounds, iterations, k)
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
        better = alt[7] < cost[retry]
        rows = retry[better]
        for target, source in zip((x1, y1, b1, cost), (alt[0], alt[1], alt[2], alt[7]), strict=True):
            target[rows] = source[better]
        for target, source in zip((dx, dy, d2, r), (alt[3], alt[4], alt[5], alt[6]), strict=True):
            target[:, rows] = source[:, better]

    # Covariance of (x, y) at the solution: undamped information, b marginalised out (Schur complement), scaled
    # by the fit with 3 prior degrees of freedom so a 3-gateway fix cannot claim certainty from a perfect fit.
    r, d2, dx, dy = (v.astype(np.float64) for v in (r, d2, dx, dy))
    b_prec = b_prec.astype(np.float64)
    inv_sigma = 1.0 / np.sqrt(c["sigma2"].astype(np.float64))
    w = np.where(c["valid"], inv_sigma**2, 0.0) * np.minimum(1.0, k / np.maximum(np.abs(r) * inv_sigma, 1e-9))
    t = -2.0 * (5.0 * c["n"].astype(np.float64) / LN10) / d2
    jx, jy = t * dx, t * dy
    wjx, wjy = w * jx, w * jy
    hxx, hxy, hyy = colsum(wjx * jx), colsum(wjx * jy), colsum(wjy * jy)
    hxb, hyb, hbb = colsum(wjx), colsum(wjy), colsum(w) + b_prec
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
