"""The battery-life model of the `ml` group: per site, days left per tag from the battery history."""

import datetime as dt
import math

import dagster as dg
from pydantic import Field

from assets_dag.ml.battery_data import load_battery_history
from assets_dag.ml.battery_registry import BatteryTraining, log_battery_model, promote_battery_if_no_worse
from assets_dag.partitions import DAILY
from assets_dag.resources import DatabaseResource, LakehouseResource, MLflowResource
from core.ml.battery import MIN_DAYS, backtest_mae_pct, fit_battery_model

GROUP = "ml"


class BatteryTrainingConfig(dg.Config):
    history_days: int = Field(
        90, description="days of battery history (up to the partition's day) to learn from"
    )
    horizon_days: float = Field(7.0, description="how far ahead the backtest predicts each tag's level")


def train_site(history, config: BatteryTrainingConfig) -> BatteryTraining:  # type: ignore[no-untyped-def]
    """Fit on the whole history; backtest by refitting without each tag's last `horizon_days`."""
    model = fit_battery_model(history.tag, history.day, history.level_pct)
    try:
        mae = backtest_mae_pct(history.tag, history.day, history.level_pct, config.horizon_days)
    except ValueError:  # too little history before the held-out stretch: logged without a backtest
        mae = float("nan")
    params: dict[str, float | int | str] = {
        "history_days": config.history_days,
        "horizon_days": config.horizon_days,
        "prior_days": model.prior_days,
        "min_days": MIN_DAYS,
    }
    return BatteryTraining(model, mae, model.days_left(history.tag, history.day, history.level_pct), params)


@dg.asset(group_name=GROUP, partitions_def=DAILY, kinds={"parquet", "mlflow"})
def battery_models(
    context: dg.AssetExecutionContext,
    config: BatteryTrainingConfig,
    database: DatabaseResource,
    lakehouse: LakehouseResource,
    mlflow: MLflowResource,
) -> dg.MaterializeResult:
    """Per site: a battery-life model (robust drain per tag, pooled with the site's tags) fitted on the daily
    battery medians of the `battery_trend` mart (raw observations' `battery` where the mart is missing), logged
    to MLflow with its backtest error and registered as `asset-tag-battery-<site>`; `champion` moves when the
    new version backtests no worse. Partitioned by the day the history ends (run weekly by
    `ml_weekly_battery_retrain`). Sites without a draining battery to learn from are listed, not failed."""
    end = dt.date.fromisoformat(
        context.partition_key
    )  # the history window ends here: a re-run sees the same data
    history = load_battery_history(database.engine(), lakehouse.lakehouse(), end, config.history_days)
    summary: dict[str, dict[str, object]] = {}
    failures: list[str] = []
    for site, site_history in history.sites.items():
        try:
            training = train_site(site_history, config)
        except ValueError as exc:
            failures.append(f"{site}: {exc}")
            context.log.warning("battery model for site %s not trained: %s", site, exc)
            continue
        version = log_battery_model(mlflow.tracking_uri, site, site_history, training)
        promoted = promote_battery_if_no_worse(mlflow.tracking_uri, version, training.backtest_mae_pct)
        summary[site] = {
            "model": version.name,
            "version": version.version,
            "promoted": promoted,
            "tags": site_history.tags,
            "site_drain_pct_per_day": round(training.model.site_drain_pct_per_day, 4),
            "backtest_mae_pct": None
            if math.isnan(training.backtest_mae_pct)
            else round(training.backtest_mae_pct, 3),
        }
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(summary),
            "history_rows": history.rows,
            "days_from_mart": history.days_from_mart,
            "days_from_raw_observations": history.days_from_raw,
            "tags_without_site": history.tags_without_site,
            "promoted": sum(bool(s["promoted"]) for s in summary.values()),
            "sites": dg.MetadataValue.json(summary),
            "not_trained": "\n".join(failures) or "-",
        }
    )
