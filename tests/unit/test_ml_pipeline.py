"""The `ml` Dagster group end to end on the embedded backends (SQLite database, SQLite MLflow store, file lakehouse):
a calibration session recorded through the database becomes a registered, promoted model that the realtime
watcher serves; the sensor asks for a retrain only when enough new points arrived."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from assets_dag.ml import ml_assets, ml_schedules, ml_sensors
from assets_dag.ml.assets import location_model_drift, location_models, location_training_data
from assets_dag.ml.schedules import MIN_NEW_POINTS, calibration_data_sensor
from assets_dag.resources import DatabaseResource, LakehouseResource, MLflowResource
from core.db.engine import make_engine, session_factory, upgrade_database
from core.db.models import CalibrationPoint, CalibrationSession, Gateway, LocationHistory, Site
from core.ml.registry_names import location_model_name
from core.positioning.datasets import load_anchors, load_samples
from core.settings import load_settings
from realtime.models import ModelRegistryWatcher

pytestmark = [pytest.mark.unit, pytest.mark.slow]

DATA = Path(__file__).parents[1] / "data" / "kolakowski-flat"
POINT_S = 3.0


def _record_calibration(url: str, site_id: uuid.UUID, status: str = "fitted") -> int:
    """A calibration session built from the robot run: one point per 3 s stretch, with the per-gateway median the
    API caches on each point. Returns the number of points."""
    samples = load_samples(DATA / "calibration" / "calibration_df.csv")
    ts, gw, rssi = samples.ts_s, samples.gateway_ids.astype(str), samples.rssi_dbm
    starts = np.arange(ts.min(), ts.max(), POINT_S)[:600]
    factory = session_factory(make_engine(url))
    with factory() as db:
        session = CalibrationSession(site_id=site_id, name="robot walk", status=status)
        db.add(session)
        db.flush()
        count = 0
        for start in starts:
            inside = (ts >= start) & (ts < start + POINT_S)
            if inside.sum() < 6:
                continue
            x, y = samples.truth_at(np.array([start + POINT_S / 2]))
            summary = {
                g: {
                    "median_rssi": float(np.median(rssi[inside & (gw == g)])),
                    "count": int((inside & (gw == g)).sum()),
                }
                for g in np.unique(gw[inside])
            }
            db.add(
                CalibrationPoint(
                    session_id=session.id,
                    tag_id="ROBOT",
                    x=float(x[0]),
                    y=float(y[0]),
                    window_start=dt.datetime.fromtimestamp(start, dt.UTC),
                    window_end=dt.datetime.fromtimestamp(start + POINT_S, dt.UTC),
                    observations=summary,
                )
            )
            count += 1
        db.commit()
    return count


@pytest.fixture
def site_db(tmp_path: Path) -> tuple[str, uuid.UUID]:
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    upgrade_database(url)
    site_id = uuid.uuid4()
    with session_factory(make_engine(url))() as db:
        db.add(Site(id=site_id, name="flat", origin_lat=52.2, origin_lon=21.0))
        db.flush()
        for row in load_anchors(DATA / "anchors.csv"):
            db.add(
                Gateway(
                    gateway_id=str(row["gateway_id"]), site_id=site_id, x=row["x"], y=row["y"], z=row["z"]
                )
            )
        db.commit()
    return url, site_id


def test_definitions_of_the_ml_group_load() -> None:
    defs = dg.Definitions(
        assets=ml_assets,
        schedules=ml_schedules,
        sensors=ml_sensors,
        resources={
            "database": DatabaseResource(url="sqlite:///x.db"),
            "lakehouse": LakehouseResource(url="file:///tmp/lake"),
            "mlflow": MLflowResource(tracking_uri="sqlite:///m.db"),
        },
    )
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == {"location_training_data", "location_models", "location_model_drift", "battery_models"}
    assert defs.resolve_job_def("ml_training") is not None


def test_calibration_session_becomes_the_served_champion(
    site_db: tuple[str, uuid.UUID], tmp_path: Path
) -> None:
    url, site_id = site_db
    points = _record_calibration(url, site_id)
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = dg.materialize(
        [location_training_data, location_models],
        resources={
            "database": DatabaseResource(url=url),
            "lakehouse": LakehouseResource(url=(tmp_path / "lake").as_uri()),
            "mlflow": MLflowResource(tracking_uri=tracking_uri),
        },
    )
    assert result.success
    data_meta = result.asset_materializations_for_node("location_training_data")[0].metadata
    assert data_meta["per_site"].value[str(site_id)]["points"] == points
    model_meta = result.asset_materializations_for_node("location_models")[0].metadata
    site_summary = model_meta["sites"].value[str(site_id)]
    assert site_summary["promoted"] is True and site_summary["version"] == "1"
    assert site_summary["heldout_median_m"] < 3.0

    watcher = ModelRegistryWatcher(load_settings(mlflow_tracking_uri=tracking_uri), poll_interval_s=1.0)
    assert watcher.refresh()
    served = watcher.current(site_id)
    assert served is not None and served.version == f"{location_model_name(site_id)}/1"
    assert (
        watcher.current(uuid.uuid4()) is None
    )  # a site without a model: the caller uses the path-loss chain

    # A day of live fixes far worse than the champion promised: the drift check fails (as a warning).
    with session_factory(make_engine(url))() as db:
        start = dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC)
        for i in range(40):
            db.add(
                LocationHistory(
                    tag_id="T1", ts=start + dt.timedelta(minutes=i), site_id=site_id, x=1.0, y=1.0,
                    accuracy_m=6.0, confidence=0.1, method="trilateration", gateway_count=3, model_version=None,
                )
            )  # fmt: skip
        db.commit()
    drift = dg.materialize(
        [location_model_drift],
        partition_key="2026-03-02",
        resources={
            "database": DatabaseResource(url=url),
            "mlflow": MLflowResource(tracking_uri=tracking_uri),
        },
    )
    assert drift.success
    (check,) = drift.get_asset_check_evaluations()
    assert not check.passed and str(site_id) in check.metadata["degraded"].value
    assert (
        drift.asset_materializations_for_node("location_model_drift")[0].metadata["degraded_sites"].value == 1
    )

    # An unreachable registry at start: no model, no exception, the status says why.
    down = ModelRegistryWatcher(load_settings(mlflow_tracking_uri="http://127.0.0.1:9"), poll_interval_s=1.0)
    assert down.refresh() is False
    assert down.current(site_id) is None and down.status().last_error


def test_sensor_requests_a_retrain_only_after_enough_new_points(site_db: tuple[str, uuid.UUID]) -> None:
    url, site_id = site_db
    database = DatabaseResource(url=url)
    first = calibration_data_sensor(dg.build_sensor_context(resources={"database": database}))
    assert isinstance(first, dg.SkipReason)  # no usable calibration yet
    _record_calibration(url, site_id, status="open")  # still being recorded: does not count
    assert isinstance(
        calibration_data_sensor(dg.build_sensor_context(resources={"database": database})), dg.SkipReason
    )
    points = _record_calibration(url, site_id)
    assert points >= MIN_NEW_POINTS
    fired = calibration_data_sensor(dg.build_sensor_context(resources={"database": database}))
    assert isinstance(fired, dg.SensorResult) and len(fired.run_requests or []) == 1
    again = calibration_data_sensor(
        dg.build_sensor_context(cursor=fired.cursor, resources={"database": database})
    )
    assert isinstance(again, dg.SkipReason)
