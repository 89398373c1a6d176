"""When models retrain: location models weekly and as soon as enough new calibration data has been recorded;
battery-life models weekly, on the history up to the day before."""

import datetime as dt

import dagster as dg
from sqlalchemy import func, select

from assets_dag.ml.assets import location_models, location_training_data
from assets_dag.ml.battery_assets import battery_models
from assets_dag.ml.training_data import USABLE_STATUSES
from assets_dag.resources import DatabaseResource
from core.db.models import CalibrationPoint, CalibrationSession

# New calibration points since the last training that justify retraining before the weekly run.
MIN_NEW_POINTS = 20

ml_training_job = dg.define_asset_job(
    "ml_training", selection=dg.AssetSelection.assets(location_training_data, location_models)
)

ml_weekly_retrain = dg.ScheduleDefinition(
    name="ml_weekly_retrain",
    job=ml_training_job,
    cron_schedule="0 3 * * 1",  # Monday 03:00 UTC: after the weekend's quiet period, before the week's work
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

ml_battery_training_job = dg.define_asset_job(
    "ml_battery_training", selection=dg.AssetSelection.assets(battery_models)
)


@dg.schedule(
    job=ml_battery_training_job,
    cron_schedule="0 4 * * 1",  # Monday 04:00 UTC, after the daily marts have built Sunday's battery_trend
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def ml_weekly_battery_retrain(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Retrain every site's battery-life model on the history up to yesterday (the last complete day)."""
    scheduled = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    day = (scheduled.astimezone(dt.UTC) - dt.timedelta(days=1)).date().isoformat()
    return dg.RunRequest(run_key=f"battery-{day}", partition_key=day)


def usable_point_count(database: DatabaseResource) -> int:
    with database.engine().connect() as conn:
        return int(
            conn.execute(
                select(func.count(CalibrationPoint.id))
                .join(CalibrationSession, CalibrationSession.id == CalibrationPoint.session_id)
                .where(CalibrationSession.status.in_(USABLE_STATUSES))
            ).scalar_one()
        )


@dg.sensor(job=ml_training_job, minimum_interval_seconds=600, default_status=dg.DefaultSensorStatus.RUNNING)
def calibration_data_sensor(
    context: dg.SensorEvaluationContext, database: DatabaseResource
) -> dg.SensorResult:
    """Retrain when at least MIN_NEW_POINTS calibration points in fitted/applied sessions appeared since the
    last request (the cursor is the point count then)."""
    count = usable_point_count(database)
    last = int(context.cursor) if context.cursor else 0
    if count < last:  # sessions were discarded: start counting from here
        return dg.SensorResult(skip_reason=f"{count} usable points (fewer than before)", cursor=str(count))
    if count - last < MIN_NEW_POINTS:
        return dg.SkipReason(f"{count - last} new calibration points, waiting for {MIN_NEW_POINTS}")  # type: ignore[return-value]
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"calibration-points-{count}")], cursor=str(count)
    )
