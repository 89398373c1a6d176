"""Fingerprint estimator: a radio map learnt from windows at known positions, searched on a grid.

Indoors, multipath makes RSSI a poor ruler but a repeatable signature. From calibration windows (summarised
exactly like live windows, so both sides see the same noise) we build, per gateway, a smooth map of expected
RSSI over a grid: a Gaussian-kernel average of nearby training windows, shrunk toward the calibrated path-loss
model where training data are thin. A live window then gets a likelihood per grid cell (Gaussian in dB), and the
fix is the posterior mean — which interpolates between training spots, unlike k-nearest-neighbours — with the
posterior spread giving `accuracy_m`. The RSSI noise σ and the accuracy scale are fitted on held-out time blocks
of the training data, so nothing is tuned on test data. Pure numpy; cost per fix ≈ cells × gateways.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.positioning.pathloss import expected_rssi

DEFAULT_CELL_M = 0.1
DEFAULT_KERNEL_M = 0.5
# Kernel widths tried on held-out training blocks: narrower keeps detail, wider fills gaps between walks.
KERNEL_CANDIDATES_M = (0.3, 0.4, 0.5, 0.7, 1.0)
# How many training windows the path-loss model is worth at each cell: it only matters where data are thin.
MODEL_PSEUDO_COUNT = 1.0
_CHUNK = 256


def _dense(gateway: np.ndarray, rssi: np.ndarray, n_gateways: int) -> np.ndarray:
    gw = np.atleast_2d(np.asarray(gateway, dtype=np.int64))
    rssi = np.atleast_2d(np.asarray(rssi, dtype=float))
    out = np.full((gw.shape[0], n_gateways), np.nan)
    rows, cols = np.nonzero((gw >= 0) & np.isfinite(rssi))
    out[rows, gw[rows, cols]] = rssi[rows, cols]
    return out


@dataclass(frozen=True, slots=True, eq=False)
class FingerprintModel:
    """Radio map on a grid. Build with `FingerprintModel.fit(...)`; `predict` has the estimator's signature."""

    cell_x: np.ndarray  # (C,)
    cell_y: np.ndarray
    expected: np.ndarray  # (C, G) expected window RSSI per cell and gateway
    rssi_sigma_db: float
    accuracy_scale: float
    kernel_m: float = DEFAULT_KERNEL_M
    min_gateways: int = 2

    @classmethod
    def fit(
        cls,
        gateway: np.ndarray,
        rssi_dbm: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        *,
        gateway_xyz: tuple[np.ndarray, np.ndarray, np.ndarray],
        ref_rssi_1m_dbm: np.ndarray,
        path_loss_exponent: np.ndarray,
        ts_s: np.ndarray | None = None,
        tag_height_m: float = 1.0,
        kernel_m: float | None = None,
        cell_m: float = DEFAULT_CELL_M,
    ) -> FingerprintModel:
        """Train on (F, K) windows at known x, y. The path-loss parameters (ideally calibrated) fill the map
        where training is sparse. With `ts_s`, one time block in three is held out to choose the kernel width
        (when `kernel_m` is None) by held-out median error, then fit σ and the accuracy scale.
        """
        x, y = np.asarray(x, float), np.asarray(y, float)
        if len(x) < 10:
            raise ValueError(
                f"fingerprint training needs at least 10 windows at known positions, got {len(x)}"
            )
        features = _dense(gateway, rssi_dbm, len(ref_rssi_1m_dbm))
        xs = np.arange(x.min() - 0.5, x.max() + 0.5 + cell_m / 2, cell_m)
        ys = np.arange(y.min() - 0.5, y.max() + 0.5 + cell_m / 2, cell_m)
        grid_x, grid_y = (v.ravel() for v in np.meshgrid(xs, ys))

        def radio_map(train: np.ndarray, kernel_m: float) -> np.ndarray:
            gx, gy, gz = gateway_xyz
            dz = np.nan_to_num(gz - tag_height_m, nan=0.0)
            distance = np.sqrt((grid_x[:, None] - gx) ** 2 + (grid_y[:, None] - gy) ** 2 + dz**2)
            model = expected_rssi(distance, ref_rssi_1m_dbm, path_loss_exponent)
            kernel = np.exp(
                -0.5 * ((grid_x[:, None] - x[train]) ** 2 + (grid_y[:, None] - y[train]) ** 2) / kernel_m**2
            )
            heard = np.isfinite(features[train])
            total = kernel @ np.where(heard, features[train], 0.0)
            weight = kernel @ heard.astype(float)
            return (total + MODEL_PSEUDO_COUNT * model) / (weight + MODEL_PSEUDO_COUNT)

        sigma, scale = 4.5, 1.5  # physical defaults when there is too little data to hold any out
        chosen = DEFAULT_KERNEL_M if kernel_m is None else kernel_m
        if ts_s is not None and len(x) >= 60:
            edges = np.quantile(ts_s, np.linspace(0, 1, 11)[1:-1])
            held = (np.searchsorted(edges, ts_s) % 3) == 2
            nearest = np.argmin(
                (grid_x[None, :] - x[held, None]) ** 2 + (grid_y[None, :] - y[held, None]) ** 2, axis=1
            )
            best = np.inf
            for width in KERNEL_CANDIDATES_M if kernel_m is None else (kernel_m,):
                expected = radio_map(~held, width)
                residual = features[held] - expected[nearest]
                residual = residual[np.isfinite(residual)]
                trial_sigma = float(1.4826 * np.median(np.abs(residual - np.median(residual))))
                trial = cls(grid_x, grid_y, expected, trial_sigma, 1.0)
                px, py, spread, ok = trial._posterior(features[held])
                error = np.hypot(px - x[held], py - y[held])[ok]
                if np.median(error) < best:
                    best, chosen, sigma = float(np.median(error)), width, trial_sigma
                    scale = float(np.quantile(error / np.maximum(spread[ok], 1e-6), 0.68))
        return cls(grid_x, grid_y, radio_map(np.ones(len(x), bool), chosen), sigma, scale, kernel_m=chosen)

    def _posterior(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        n = len(features)
        x, y, spread = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
        usable = np.isfinite(features).sum(axis=1) >= self.min_gateways
        rows = np.flatnonzero(usable)
        for start in range(0, len(rows), _CHUNK):  # chunks bound memory at _CHUNK × cells × gateways
            chunk = rows[start : start + _CHUNK]
            diff = (features[chunk, None, :] - self.expected[None]) / self.rssi_sigma_db
            chi2 = np.nansum(diff * diff, axis=2)
            weight = np.exp(-0.5 * (chi2 - chi2.min(axis=1, keepdims=True)))
            weight /= weight.sum(axis=1, keepdims=True)
            mx, my = weight @ self.cell_x, weight @ self.cell_y
            x[chunk], y[chunk] = mx, my
            var = weight @ (self.cell_x**2) - mx**2 + weight @ (self.cell_y**2) - my**2
            spread[chunk] = np.sqrt(np.maximum(var, 0.0))
        return x, y, spread, usable

    def predict(
        self, gateway: np.ndarray, rssi_dbm: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """x, y, accuracy_m and whether the fix had enough gateways to be fingerprinted, for every row."""
        x, y, spread, usable = self._posterior(_dense(gateway, rssi_dbm, self.expected.shape[1]))
        return x, y, np.maximum(spread, 0.05) * self.accuracy_scale, usable
