"""How good a location model is on windows with ground truth: the figures the gate and the drift check use."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from core.ml.dataset import TruthWindows
from core.ml.location_model import LocationModel
from core.positioning.estimator import METHOD_NAMES, Fixes


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Error figures in metres; `within_accuracy` is the share of fixes whose true error ≤ `accuracy_m`
    (≈ 0.68 when the reported radius is honest)."""

    fixes: int
    median_m: float
    p75_m: float
    p90_m: float
    within_accuracy: float
    mean_accuracy_m: float
    fingerprint_share: float

    def as_metrics(self, prefix: str = "") -> dict[str, float]:
        """Flat name → value for `mlflow.log_metrics` (e.g. prefix "heldout_")."""
        return {f"{prefix}{key}": float(value) for key, value in asdict(self).items()}

    @classmethod
    def from_metrics(cls, metrics: dict[str, float], prefix: str = "") -> Evaluation | None:
        """Inverse of `as_metrics`; None when a figure is missing (e.g. a run logged by older code)."""
        try:
            values = {name: metrics[f"{prefix}{name}"] for name in cls.__dataclass_fields__}
        except KeyError:
            return None
        values["fixes"] = int(values["fixes"])
        return cls(**values)  # type: ignore[arg-type]


def score_fixes(fixes: Fixes, true_x: np.ndarray, true_y: np.ndarray) -> Evaluation:
    """Evaluation of fixes against the truth; fixes without a position are left out (and counted as missing)."""
    error = np.hypot(fixes.x - true_x, fixes.y - true_y)
    ok = np.isfinite(error)
    if not ok.any():
        raise ValueError("no fix had a position to score: no gateway of the model heard the tag")
    e = error[ok]
    return Evaluation(
        fixes=int(ok.sum()),
        median_m=float(np.median(e)),
        p75_m=float(np.quantile(e, 0.75)),
        p90_m=float(np.quantile(e, 0.90)),
        within_accuracy=float(np.mean(e <= fixes.accuracy_m[ok])),
        mean_accuracy_m=float(np.mean(fixes.accuracy_m[ok])),
        fingerprint_share=float(np.mean(fixes.method[ok] == METHOD_NAMES.index("fingerprint"))),
    )


def evaluate(model: LocationModel, data: TruthWindows) -> Evaluation:
    """Score `model` on windows with truth (built over any gateway table: rows are re-mapped by gateway id)."""
    windows = data.windows
    fixes = model.estimate(
        data.gateways, windows.gateway, windows.rssi_dbm, sample_count=windows.sample_count
    )
    return score_fixes(fixes, data.true_x, data.true_y)
