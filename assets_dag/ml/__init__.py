"""The `ml` asset group: location models trained from calibration data and battery-life models trained from the
battery history, registered and promoted in MLflow; daily drift of live fix quality, raised as alerts.

`orchestration.definitions` adds `ml_assets`, `ml_checks`, `ml_schedules`, `ml_sensors` (and the job they use).
"""

from assets_dag.ml.assets import location_model_drift, location_models, location_training_data
from assets_dag.ml.battery_assets import battery_models
from assets_dag.ml.schedules import (
    calibration_data_sensor,
    ml_battery_training_job,
    ml_training_job,
    ml_weekly_battery_retrain,
    ml_weekly_retrain,
)

ml_assets = [location_training_data, location_models, location_model_drift, battery_models]
ml_checks: list = []  # the drift check is declared on its asset (check_specs)
ml_schedules = [ml_weekly_retrain, ml_weekly_battery_retrain]
ml_sensors = [calibration_data_sensor]
ml_jobs = [ml_training_job, ml_battery_training_job]

__all__ = ["ml_assets", "ml_checks", "ml_jobs", "ml_schedules", "ml_sensors"]
