"""MLflow `python_function` loader for `LocationModel` (the `loader_module` of the logged model).

MLflow imports this module and calls `_load_pyfunc(data_path)`; nothing here imports MLflow, so `core` stays
framework-free and the model directory holds only JSON and .npz files (no pickled code).

Model input is one row per fix with a column `rssi_<gateway_id>` per site gateway (dBm, NaN = not heard) and
optionally `count_<gateway_id>` (samples behind the value) — the shape of a window, readable in `mlflow ui`,
and `mlflow models serve` can answer it. Output: x, y, accuracy_m, confidence, method, gateway_count.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.ml.location_model import LocationModel
from core.positioning.windows import Windows

RSSI_PREFIX = "rssi_"
COUNT_PREFIX = "count_"
OUTPUT_COLUMNS = ("x", "y", "accuracy_m", "confidence", "method", "gateway_count")


class ModelInputError(ValueError):
    """The prediction input does not have the model's columns."""


def windows_frame(model: LocationModel, windows: Windows, caller_ids: np.ndarray | None = None) -> Any:
    """A pandas DataFrame in the model's input format from windows (e.g. the input example at logging time).
    `caller_ids` are the gateway ids `windows.gateway` indexes into (default: the model's own table)."""
    import pandas as pd

    ids = model.gateways.ids if caller_ids is None else np.asarray(caller_ids, dtype=object)
    gw = model.remap(ids, windows.gateway)
    n, g = len(windows), len(model.gateways)
    rssi, count = np.full((n, g), np.nan), np.zeros((n, g))
    rows, cols = np.nonzero(gw >= 0)
    rssi[rows, gw[rows, cols]] = windows.rssi_dbm[rows, cols]
    count[rows, gw[rows, cols]] = windows.sample_count[rows, cols]
    columns = {f"{RSSI_PREFIX}{gid}": rssi[:, j] for j, gid in enumerate(model.gateways.ids)}
    columns.update({f"{COUNT_PREFIX}{gid}": count[:, j] for j, gid in enumerate(model.gateways.ids)})
    return pd.DataFrame(columns)


class LocationPyfunc:
    """What `mlflow.pyfunc.load_model(...)` wraps; `get_raw_model()` gives the `LocationModel` itself."""

    def __init__(self, model: LocationModel) -> None:
        self.model = model

    def get_raw_model(self) -> LocationModel:
        return self.model

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        import pandas as pd

        frame = pd.DataFrame(model_input)
        ids = [str(g) for g in self.model.gateways.ids]
        rssi_columns = [f"{RSSI_PREFIX}{gid}" for gid in ids]
        present = [c for c in rssi_columns if c in frame.columns]
        if not present:
            raise ModelInputError(
                f"model input: expected columns {', '.join(rssi_columns)}; got none of them"
            )
        rssi = np.column_stack(
            [
                pd.to_numeric(frame[c], errors="coerce").to_numpy(float)
                if c in frame
                else np.full(len(frame), np.nan)
                for c in rssi_columns
            ]
        )
        counts = np.column_stack(
            [
                pd.to_numeric(frame[f"{COUNT_PREFIX}{gid}"], errors="coerce").fillna(1).to_numpy(float)
                if f"{COUNT_PREFIX}{gid}" in frame
                else np.ones(len(frame))
                for gid in ids
            ]
        )
        index = np.where(np.isfinite(rssi), np.arange(len(ids))[None, :], -1)
        fixes = self.model.estimate(None, index, rssi, sample_count=counts)
        return pd.DataFrame(
            {
                "x": fixes.x,
                "y": fixes.y,
                "accuracy_m": fixes.accuracy_m,
                "confidence": fixes.confidence,
                "method": fixes.method_names.astype(str),
                "gateway_count": fixes.gateway_count.astype(np.int64),
            }
        )


def _load_pyfunc(data_path: str) -> LocationPyfunc:
    return LocationPyfunc(LocationModel.load(data_path))
