"""Fingerprint estimator: a radio map learnt from windows at known positions, searched on a grid.

Indoors, multipath makes RSSI a poor ruler but a repeatable signature. From calibration windows (summarised
exactly like live windows, so both sides see the same noise) we build, per gateway, a smooth map of expected
RSSI over a grid: a Gaussian-kernel average of nearby training windows, shrunk toward the calibrated path-loss
model where training data are thin. A live window then gets a likelihood per grid cell (Gaussian in dB), and the
fix is the posterior mean — which interpolates between training spots, unlike k-nearest-neighbours — with the
posterior spread giving `accuracy_m`. The RSSI noise σ and the accuracy scale are fitted on held-out time blocks
of the training data, so nothing is tuned on test data. Pure numpy.

Cost. A site's grid has area / cell² cells: 96,000 on a 40 x 24 m floor at 10 cm. Scoring every cell for every
fix held a (fixes, cells, gateways) array and training a (cells, training windows) one: on that floor with 8
gateways, 63 fixes/s, 5 GB and 48 s to train, far from what the realtime loop needs (bench/estimator.py). So a
fix is scored in two passes: a coarse sub-grid (`COARSE_STEP_M`) as matrix products, with no per-cell
temporaries; then the cells within `LOCAL_RADIUS_M` of the coarse posterior's mean, at `LOCAL_STEP_M`. The
posterior is taken over those. The window is several times a fix's 68 % radius (~1-2 m), so it holds nearly
all of the mass: with 4 m the calibrated Kolakowski figures are as they were (3 m moved them by up to 0.03 m;
centred on the best coarse cell instead of the mean, 3 m made p90 2.12 m instead of 2.00). A small site whose
grid fits in the window is scored whole, as before. Training builds the radio map in chunks of cells, each from
the training windows within reach of its kernel. Temporaries stay within `_BUDGET` numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.positioning.pathloss import expected_rssi

DEFAULT_CELL_M = 0.1
DEFAULT_KERNEL_M = 0.5
# Kernel widths tried on held-out training blocks: narrower keeps detail, wider fills gaps between walks.
KERNEL_CANDIDATES_M = (0.3, 0.4, 0.5, 0.7, 1.0)
# How many training windows the path-loss model is worth at each cell: it only matters where data are thin.
MODEL_PSEUDO_COUNT = 1.0
# Two-pass scoring (see the module docstring): a coarse lattice of cells this far apart, then a square of this
# half-width around its posterior mean, at this spacing (a posterior metres wide: a finer lattice moves its mean
# by millimetres)
COARSE_STEP_M = 1.0
LOCAL_RADIUS_M = 4.0
LOCAL_STEP_M = 0.2
KERNEL_REACH = 5.0  # training windows farther than this many kernel widths weigh < 4e-6: left out of a cell
_BUDGET = 4_000_000  # numbers per temporary array (32 MB of float64)


def _weights(chi2: np.ndarray) -> np.ndarray:
    """Posterior weights per row of χ² (Gaussian likelihood, flat prior), normalised; the best cell's is 1 before
    normalising, so nothing underflows."""
    weight = np.exp(-0.5 * (chi2 - chi2.min(axis=1, keepdims=True)))
    return weight / weight.sum(axis=1, keepdims=True)


@dataclass(frozen=True, slots=True, eq=False)
class _Search:
    """What the two-pass search needs that depends only on the model: built once with it, not per call (on a
    60 x 40 m floor, converting the map to float32 and checking the grid cost more than scoring 20 fixes)."""

    nx: int  # grid columns
    ny: int  # grid rows
    cell: float  # grid spacing (m)
    half: int  # the fine window's half-width, in cells
    wx: int  # the fine window's columns
    wy: int  # and rows
    coarse: np.ndarray  # (coarse cells, G) expected RSSI on the coarse lattice
    coarse_sq: np.ndarray  # its square (the χ² matrix products need it)
    coarse_x: np.ndarray  # the coarse cells' coordinates
    coarse_y: np.ndarray
    offsets: np.ndarray  # the fine window's cells, as offsets from its top-left cell
    dx: np.ndarray  # and their coordinates relative to it
    dy: np.ndarray
    expected32: np.ndarray  # the whole map in float32, for the fine pass


def dense_rssi(gateway: np.ndarray, rssi: np.ndarray, n_gateways: int) -> np.ndarray:
    """Padded (F, K) gateway rows and RSSI as the (F, gateways) matrix the model scores (NaN: not heard)."""
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
    # None: the grid is irregular or fits in the fine window, and every cell is scored
    _search: _Search | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_search", self._plan())

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
        features = dense_rssi(gateway, rssi_dbm, len(ref_rssi_1m_dbm))
        xs = np.arange(x.min() - 0.5, x.max() + 0.5 + cell_m / 2, cell_m)
        ys = np.arange(y.min() - 0.5, y.max() + 0.5 + cell_m / 2, cell_m)
        grid_x, grid_y = (v.ravel() for v in np.meshgrid(xs, ys))
        nx = len(xs)

        def radio_map(train: np.ndarray, kernel_m: float) -> np.ndarray:
            gx, gy, gz = gateway_xyz
            dz = np.nan_to_num(gz - tag_height_m, nan=0.0)
            tx, ty, tf = x[train], y[train], features[train]
            heard = np.isfinite(tf)
            values, heard_f = np.where(heard, tf, 0.0), heard.astype(float)
            out = np.empty((len(grid_x), len(ref_rssi_1m_dbm)))
            reach = KERNEL_REACH * kernel_m
            step = max(1, _BUDGET // max(len(tx), 1))  # cells are row-major: a chunk is a band of rows
            for start in range(0, len(grid_x), step):
                cx, cy = grid_x[start : start + step], grid_y[start : start + step]
                near = (ty >= cy[0] - reach) & (ty <= cy[-1] + reach)
                distance = np.sqrt((cx[:, None] - gx) ** 2 + (cy[:, None] - gy) ** 2 + dz**2)
                model = expected_rssi(distance, ref_rssi_1m_dbm, path_loss_exponent)
                d2 = (cx[:, None] - tx[near]) ** 2 + (cy[:, None] - ty[near]) ** 2
                kernel = np.exp(-0.5 * d2 / kernel_m**2)
                total = kernel @ values[near] + MODEL_PSEUDO_COUNT * model
                out[start : start + step] = total / (kernel @ heard_f[near] + MODEL_PSEUDO_COUNT)
            return out

        sigma, scale = 4.5, 1.5  # physical defaults when there is too little data to hold any out
        chosen = DEFAULT_KERNEL_M if kernel_m is None else kernel_m
        if ts_s is not None and len(x) >= 60:
            edges = np.quantile(ts_s, np.linspace(0, 1, 11)[1:-1])
            held = (np.searchsorted(edges, ts_s) % 3) == 2
            col = np.clip(np.rint((x[held] - xs[0]) / cell_m), 0, nx - 1).astype(np.int64)
            row = np.clip(np.rint((y[held] - ys[0]) / cell_m), 0, len(ys) - 1).astype(np.int64)
            nearest = row * nx + col  # the grid cell of each held-out window
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

    def _plan(self) -> _Search | None:
        """The two-pass search's fixed parts, or None when every cell is to be scored."""
        grid = self._grid()
        if grid is None:
            return None
        nx, ny, cell = grid
        half = int(np.ceil(LOCAL_RADIUS_M / cell))
        wx, wy = min(2 * half + 1, nx), min(2 * half + 1, ny)
        if wx * wy >= nx * ny:  # the window is the whole grid: score it all
            return None
        stride = max(1, int(round(COARSE_STEP_M / cell)))
        coarse = (np.arange(0, ny, stride)[:, None] * nx + np.arange(0, nx, stride)[None, :]).ravel()
        fine = max(1, int(round(LOCAL_STEP_M / cell)))
        offsets = (np.arange(0, wy, fine)[:, None] * nx + np.arange(0, wx, fine)[None, :]).ravel()
        scored = self.expected[coarse]
        return _Search(
            nx, ny, cell, half, wx, wy,
            scored, scored**2, self.cell_x[coarse], self.cell_y[coarse],
            offsets, self.cell_x[offsets] - self.cell_x[0], self.cell_y[offsets] - self.cell_y[0],
            self.expected.astype(np.float32),
        )  # fmt: skip

    def _grid(self) -> tuple[int, int, float] | None:
        """(columns, rows, cell size) when the cells are the row-major regular grid `fit` builds, else None."""
        c = len(self.cell_x)
        nx = int(np.argmax(self.cell_y != self.cell_y[0])) if c else 0
        if nx < 2 or c % nx:
            return None
        ny = c // nx
        cell = float(self.cell_x[1] - self.cell_x[0])
        grid_x, grid_y = self.cell_x.reshape(ny, nx), self.cell_y.reshape(ny, nx)
        regular = cell > 0 and np.allclose(grid_x, grid_x[0]) and np.allclose(np.diff(grid_x[0]), cell)
        regular = regular and np.allclose(grid_y, grid_y[:, :1])
        regular = regular and (ny == 1 or np.allclose(np.diff(grid_y[:, 0]), cell))
        return (nx, ny, cell) if regular else None

    def _chi2(self, features: np.ndarray, expected: np.ndarray, expected_sq: np.ndarray) -> np.ndarray:
        """(n, cells) χ² of each window against each row of `expected` (cells, gateways) over the gateways the
        window heard, as matrix products: Σ(f − e)² = Σf² − 2·f·e + Σ_heard e², with no (fixes, cells,
        gateways) temporary. `expected_sq` is `expected` squared (computed once per call by the caller)."""
        heard = np.isfinite(features)
        f = np.where(heard, features, 0.0)
        chi2 = (f * f).sum(axis=1)[:, None] - 2.0 * f @ expected.T + heard.astype(float) @ expected_sq.T
        return np.maximum(chi2, 0.0) / self.rssi_sigma_db**2

    def _posterior(
        self, features: np.ndarray, *, local: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Posterior mean, spread and usability per window. `local=False` scores every cell (the reference the
        two-pass search is measured against in bench/estimator.py)."""
        n = len(features)
        x, y, spread = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
        usable = np.isfinite(features).sum(axis=1) >= self.min_gateways
        rows = np.flatnonzero(usable)
        if not rows.size:
            return x, y, spread, usable
        plan = self._search if local else None
        # each fix's scored cells sit at origin + (dx, dy): the posterior moments are matrix products
        if plan is not None:
            scored, scored_sq, dx, dy = plan.coarse, plan.coarse_sq, plan.dx, plan.dy
            heard_max = max(int(np.isfinite(features[rows]).sum(axis=1).max()), 1)
            step = max(1, _BUDGET // (len(plan.offsets) * heard_max))  # the window's (fixes, cells, heard)
        else:
            scored, dx, dy = self.expected, self.cell_x, self.cell_y
            scored_sq = scored**2
            step = max(1, _BUDGET // len(self.cell_x))  # temporaries are (fixes, cells)
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            f = features[chunk]
            chi2 = self._chi2(f, scored, scored_sq)
            origin = np.zeros((len(chunk), 2))
            if plan is not None:
                # the window is centred on the coarse posterior's mean (on its best cell, a fix with a broad
                # posterior lost more of it: bench/estimator.py, 4.19 against every cell's 3.95 m)
                coarse_weight = _weights(chi2)
                mean_x, mean_y = coarse_weight @ plan.coarse_x, coarse_weight @ plan.coarse_y
                top = np.rint((mean_y - self.cell_y[0]) / plan.cell).astype(np.int64) - plan.half
                left = np.rint((mean_x - self.cell_x[0]) / plan.cell).astype(np.int64) - plan.half
                top, left = np.clip(top, 0, plan.ny - plan.wy), np.clip(left, 0, plan.nx - plan.wx)
                corner = top * plan.nx + left
                # The costly pass: only the gateways a fix heard (a few of a site's many; packed first,
                # padding masked out), in float32 — half the memory traffic, and χ² needs no more precision.
                heard = np.isfinite(f)
                k = max(int(heard.sum(axis=1).max()), 1)
                packed = np.argsort(~heard, axis=1, kind="stable")[:, :k]
                mask = np.take_along_axis(heard, packed, axis=1)
                values = np.where(mask, np.take_along_axis(f, packed, axis=1), 0.0).astype(np.float32)
                cells = corner[:, None] + plan.offsets  # (fixes, window cells)
                diff = values[:, None, :] - plan.expected32[cells[:, :, None], packed[:, None, :]]
                diff *= mask[:, None, :]
                chi2 = np.einsum("ncg,ncg->nc", diff, diff).astype(float) / self.rssi_sigma_db**2
                origin[:, 0], origin[:, 1] = self.cell_x[corner], self.cell_y[corner]
            weight = _weights(chi2)
            mx, my = weight @ dx, weight @ dy
            x[chunk], y[chunk] = origin[:, 0] + mx, origin[:, 1] + my
            spread[chunk] = np.sqrt(np.maximum(weight @ (dx * dx) - mx**2 + weight @ (dy * dy) - my**2, 0.0))
        return x, y, spread, usable

    def predict(
        self, gateway: np.ndarray, rssi_dbm: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """x, y, accuracy_m and whether the fix had enough gateways to be fingerprinted, for every row."""
        x, y, spread, usable = self._posterior(dense_rssi(gateway, rssi_dbm, self.expected.shape[1]))
        return x, y, np.maximum(spread, 0.05) * self.accuracy_scale, usable
