"""MLflow `python_function` loader for `BatteryLifeModel` (the `loader_module` of the logged battery model).

The model directory holds one JSON file (no pickled code); nothing here imports MLflow, so `core` stays
framework-free. Input: one row per reading — `tag_id` (str), `day` (days since the epoch, float),
`battery_pct` (0–100). Output: one row per tag — `tag_id`, `drain_pct_per_day`, `days_left` (inf = not draining).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from core.ml.battery import BatteryLifeModel

MODEL_FILE = "battery_model.json"
INPUT_COLUMNS = ("tag_id", "day", "battery_pct")


class BatteryInputError(ValueError):
    """The prediction input does not have the model's columns."""


def save_battery_model(model: BatteryLifeModel, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    payload = {"site_drain_pct_per_day": model.site_drain_pct_per_day, "prior_days": model.prior_days}
    (directory / MODEL_FILE).write_text(json.dumps(payload))
    return directory


def load_battery_model(directory: str | Path) -> BatteryLifeModel:
    payload = json.loads((Path(directory) / MODEL_FILE).read_text())
    return BatteryLifeModel(float(payload["site_drain_pct_per_day"]), float(payload["prior_days"]))


class BatteryPyfunc:
    """What `mlflow.pyfunc.load_model(...)` wraps; `get_raw_model()` gives the `BatteryLifeModel` itself."""

    def __init__(self, model: BatteryLifeModel) -> None:
        self.model = model

    def get_raw_model(self) -> BatteryLifeModel:
        return self.model

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        import pandas as pd

        frame = pd.DataFrame(model_input)
        missing = [c for c in INPUT_COLUMNS if c not in frame.columns]
        if missing:
            raise BatteryInputError(
                f"model input: missing column(s) {missing}; expected {list(INPUT_COLUMNS)}"
            )
        tag = frame["tag_id"].astype(str).to_numpy()
        day = pd.to_numeric(frame["day"], errors="coerce").to_numpy(float)
        level = pd.to_numeric(frame["battery_pct"], errors="coerce").to_numpy(float)
        rates = self.model.drain_rates(tag, day, level)
        left = self.model.days_left(tag, day, level)
        tags = sorted(rates)
        return pd.DataFrame(
            {
                "tag_id": tags,
                "drain_pct_per_day": np.array([rates[t] for t in tags], float),
                "days_left": np.array([left[t] for t in tags], float),
            }
        )


def _load_pyfunc(data_path: str) -> BatteryPyfunc:
    return BatteryPyfunc(load_battery_model(data_path))
