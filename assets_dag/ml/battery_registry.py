"""MLflow glue for the battery-life model: log a run per site, register it, move `champion` when it backtests
no worse than the current champion.

Registered model `asset-tag-battery-<site>`; the run holds params, the backtest error (mean absolute error in
percentage points of the level predicted `horizon_days` ahead), the per-tag days-left table, and the model with
its signature and input example.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from assets_dag.ml.battery_data import SiteBatteryHistory
from assets_dag.ml.registry import RegisteredVersion, champion_version, client_for
from core.ml.battery import BatteryLifeModel
from core.ml.battery_flavor import BatteryPyfunc, save_battery_model
from core.ml.registry_names import CHAMPION_ALIAS, EXPERIMENT_NAME, battery_model_name

LOADER_MODULE = "core.ml.battery_flavor"
MODEL_ARTIFACT = "battery_model"
BACKTEST_METRIC = "backtest_mae_pct"


@dataclass(frozen=True, slots=True)
class BatteryTraining:
    """A fitted site model with the figures logged beside it."""

    model: BatteryLifeModel
    backtest_mae_pct: float  # NaN when the history is too short to hold out `horizon_days`
    days_left: dict[str, float]
    params: dict[str, float | int | str]


def _input_example(history: SiteBatteryHistory, rows: int = 20):  # type: ignore[no-untyped-def]
    import pandas as pd

    first_tag = history.tag == history.tag[0]
    return pd.DataFrame(
        {
            "tag_id": history.tag[first_tag],
            "day": history.day[first_tag],
            "battery_pct": history.level_pct[first_tag],
        }
    ).head(rows)


def log_battery_model(
    tracking_uri: str, site_id: str, history: SiteBatteryHistory, training: BatteryTraining
) -> RegisteredVersion:
    import mlflow
    from mlflow.models import infer_signature

    client_for(tracking_uri)
    mlflow.set_experiment(EXPERIMENT_NAME)
    name = battery_model_name(site_id)
    finite = [v for v in training.days_left.values() if math.isfinite(v)]
    with mlflow.start_run(run_name=f"battery-{site_id}") as run:
        mlflow.set_tags({"site_id": site_id, "model_kind": "battery_life"})
        mlflow.log_params(training.params)
        metrics = {
            "site_drain_pct_per_day": training.model.site_drain_pct_per_day,
            "tags": float(history.tags),
            "readings": float(len(history.tag)),
            "tags_draining": float(len(finite)),
        }
        if finite:
            metrics["median_days_left"] = float(sorted(finite)[len(finite) // 2])
        if math.isfinite(training.backtest_mae_pct):
            metrics[BACKTEST_METRIC] = training.backtest_mae_pct
        mlflow.log_metrics(metrics)
        mlflow.log_dict(
            {
                tag: (None if not math.isfinite(v) else round(v, 2))
                for tag, v in sorted(training.days_left.items())
            },
            "days_left.json",
        )
        example = _input_example(history)
        signature = infer_signature(example, BatteryPyfunc(training.model).predict(example))
        with tempfile.TemporaryDirectory() as tmp:
            info = mlflow.pyfunc.log_model(
                name=MODEL_ARTIFACT,
                loader_module=LOADER_MODULE,
                data_path=str(save_battery_model(training.model, Path(tmp) / "model")),
                signature=signature,
                input_example=example,
                registered_model_name=name,
            )
    return RegisteredVersion(name, str(info.registered_model_version), run.info.run_id)


def promote_battery_if_no_worse(
    tracking_uri: str, candidate: RegisteredVersion, backtest_mae_pct: float
) -> bool:
    """Move `champion` to the candidate when there is no champion, or when both backtested and the candidate's
    error is no larger. A candidate without a backtest never replaces a backtested champion."""
    client = client_for(tracking_uri)
    current = champion_version(client, candidate.name)
    promote = current is None
    if current is not None and current != candidate.version and math.isfinite(backtest_mae_pct):
        run_id = client.get_model_version(candidate.name, current).run_id
        champion_mae = client.get_run(run_id).data.metrics.get(BACKTEST_METRIC, math.inf)
        promote = backtest_mae_pct <= champion_mae
    client.set_model_version_tag(
        candidate.name, candidate.version, "gate", "promoted" if promote else "refused"
    )
    if promote:
        client.set_registered_model_alias(candidate.name, CHAMPION_ALIAS, candidate.version)
    return promote
