"""Fingerprint estimator: k-nearest neighbours over RSSI vectors recorded at known positions.

Indoors, multipath makes RSSI a poor ruler but a good signature: the same spot gives a similar vector of
window-averaged RSSIs across gateways. Training data are calibration windows (summarised exactly like live
windows, so both sides see the same noise). A gateway not heard counts as `MISSING_RSSI_DBM` — weaker than
anything heard — because "not heard" is itself information about where the tag is.

The 68 % radius is the weighted spread of the neighbours' positions times a factor fitted on held-out time
blocks of the training data, so `accuracy_m` is calibrated without looking at test data.
scikit-learn is imported lazily: `core` must import without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

MISSING_RSSI_DBM = -105.0


def _features(gateway: np.ndarray, rssi: np.ndarray, n_gateways: int) -> np.ndarray:
    gw = np.asarray(gateway, dtype=np.int64)
    rssi = np.asarray(rssi, dtype=float)
    out = np.full((gw.shape[0], n_gateways), MISSING_RSSI_DBM)
    rows, cols = np.nonzero((gw >= 0) & np.isfinite(rssi))
    out[rows, gw[rows, cols]] = np.maximum(rssi[rows, cols], MISSING_RSSI_DBM)
    return out


@dataclass(slots=True, eq=False)
class FingerprintModel:
    """kNN regressor from (F, K) padded gateway/RSSI arrays to x, y. Build with `FingerprintModel.fit(...)`."""

    n_gateways: int
    k: int = 7
    accuracy_scale: float = 1.0
    min_gateways: int = 2
    _x: np.ndarray = field(default_factory=lambda: np.empty(0))
    _y: np.ndarray = field(default_factory=lambda: np.empty(0))
    _index: Any = None

    @classmethod
    def fit(cls, gateway: np.ndarray, rssi_dbm: np.ndarray, x: np.ndarray, y: np.ndarray, *, n_gateways: int,
            k: int = 7, ts_s: np.ndarray | None = None) -> FingerprintModel:
        """Train on windows at known positions. With `ts_s`, one time block in three is held out to fit
        `accuracy_scale` (68 % containment) before the final model is trained on everything."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        if len(x) < k:
            raise ValueError(f"fingerprint training needs at least k={k} windows, got {len(x)}")
        model = cls(n_gateways=n_gateways, k=k)
        if ts_s is not None and len(x) >= 6 * k:
            edges = np.quantile(ts_s, np.linspace(0, 1, 11)[1:-1])
            held = (np.searchsorted(edges, ts_s) % 3) == 2
            trial = cls(n_gateways=n_gateways, k=k)
            trial._train(gateway[~held], rssi_dbm[~held], x[~held], y[~held])
            px, py, spread, _ = trial.predict(gateway[held], rssi_dbm[held])
            ratio = np.hypot(px - x[held], py - y[held]) / np.maximum(spread, 1e-6)
            model.accuracy_scale = float(np.quantile(ratio[np.isfinite(ratio)], 0.68))
        model._train(gateway, rssi_dbm, x, y)
        return model

    def _train(self, gateway: np.ndarray, rssi: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
        from sklearn.neighbors import NearestNeighbors

        self._index = NearestNeighbors(n_neighbors=min(self.k, len(x))).fit(_features(gateway, rssi, self.n_gateways))
        self._x, self._y = x.copy(), y.copy()

    def predict(self, gateway: np.ndarray, rssi_dbm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """x, y, accuracy_m and whether the fix had enough gateways to be fingerprinted, for every row."""
        gw = np.atleast_2d(np.asarray(gateway, dtype=np.int64))
        n = len(gw)
        usable = ((gw >= 0) & np.isfinite(rssi_dbm)).sum(axis=1) >= self.min_gateways
        x, y, accuracy = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
        if usable.any():
            distance, neighbour = self._index.kneighbors(_features(gw[usable], np.asarray(rssi_dbm)[usable],
                                                                   self.n_gateways))
            # Inverse-distance weights in signal space, softened so one lucky neighbour cannot dominate.
            weight = 1.0 / (distance + 3.0)
            weight /= weight.sum(axis=1, keepdims=True)
            nx, ny = self._x[neighbour], self._y[neighbour]
            x[usable] = (weight * nx).sum(axis=1)
            y[usable] = (weight * ny).sum(axis=1)
            spread = np.sqrt((weight * ((nx - x[usable, None]) ** 2 + (ny - y[usable, None]) ** 2)).sum(axis=1))
            accuracy[usable] = np.maximum(spread, 0.1) * self.accuracy_scale
        return x, y, accuracy, usable
