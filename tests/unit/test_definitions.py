"""The Dagster code location loads, is complete, and its sensor, schedules and instance config behave."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

pytestmark = pytest.mark.unit

ORCHESTRATION = Path(__file__).resolve().parents[2] / "orchestration"


def test_definitions_load_with_every_asset_grouped_documented_and_partitioned() -> None:
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"raw_observations", "locations", "zone_events", "alert_history", "asset_utilisation", "zone_dwell",
            "zone_occupancy", "zone_flapping", "gateway_health", "battery_trend", "alert_stats", "location_quality",
            "maintenance_due", "site_daily_report", "location_training_data", "location_models",
            "location_model_drift", "battery_models"} <= keys  # fmt: skip
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.group_name in {"ingest", "analytics", "maintenance", "reports", "ml"}, key
        assert node.description and len(node.description) > 20, key
        # time matters for everything but model training, which learns from all calibration data so far
        if key.to_user_string() not in {"location_training_data", "location_models"}:
            assert node.partitions_def is not None, key
    checks = {check.name for check in graph.asset_check_keys}
    assert {
        "schema_matches_contract",
        "no_duplicate_keys",
        "timestamps_in_partition",
        "row_count_matches_topic",
    } <= checks
    # Every job and schedule resolves against the assets (selection typos would fail here).
    assert {job.name for job in defs.resolve_all_job_defs()} >= {"hourly_landing", "daily_analytics"}
    schedules = {s.name: defs.resolve_schedule_def(s.name).cron_schedule for s in defs.schedules}
    assert schedules == {
        "hourly_landing_schedule": "10 * * * *",
        "daily_analytics_schedule": "30 1 * * *",
        "history_retention_job_schedule": "15 0 * * *",
        "ml_weekly_retrain": "0 3 * * 1",
        "ml_weekly_battery_retrain": "0 4 * * 1",
    }


def test_resources_read_set_variables_at_run_time_and_default_to_the_embedded_lakehouse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from orchestration.resources import build_resources

    embedded = build_resources()
    assert embedded["lakehouse"].url.startswith("file://")
    assert embedded["kafka"].stream_url == "memory://"

    monkeypatch.setenv("ASSET_TAG_LAKEHOUSE_URL", "s3://bucket/lake")
    monkeypatch.setenv("ASSET_TAG_S3_SECRET_ACCESS_KEY", "do-not-show")
    configured = build_resources()
    # Passed as EnvVar: the value is resolved when a run starts and never lands in run config or the UI.
    assert isinstance(configured["lakehouse"].url, dg.EnvVar)
    assert configured["lakehouse"].url.env_var_name == "ASSET_TAG_LAKEHOUSE_URL"
    assert configured["lakehouse"].s3_secret_access_key.env_var_name == "ASSET_TAG_S3_SECRET_ACCESS_KEY"


def test_production_dagster_yaml_is_a_valid_postgres_instance_config() -> None:
    from dagster._core.instance.config import dagster_instance_config

    config, _ = dagster_instance_config(str(ORCHESTRATION))
    assert config["storage"]["postgres"]["postgres_url"] == {"env": "ASSET_TAG_DAGSTER_PG_URL"}
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"


def _land(instance: dg.DagsterInstance, day: dt.date, hours: range) -> None:
    for hour in hours:
        instance.report_runless_asset_event(
            dg.AssetMaterialization("raw_observations", partition=f"{day.isoformat()}-{hour:02d}:00")
        )


def test_complete_day_sensor_requests_a_day_once_all_its_hours_are_landed_and_again_after_a_reland() -> None:
    from orchestration.sensors import complete_day_sensor

    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    with dg.instance_for_test() as instance:
        _land(instance, yesterday, range(23))
        skipped = complete_day_sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(skipped, dg.SkipReason)

        _land(instance, yesterday, range(23, 24))
        first = complete_day_sensor(dg.build_sensor_context(instance=instance))
        assert [r.partition_key for r in first.run_requests] == [yesterday.isoformat()]

        again = complete_day_sensor(dg.build_sensor_context(instance=instance))
        assert [r.run_key for r in again.run_requests] == [r.run_key for r in first.run_requests]

        _land(instance, yesterday, range(5, 6))  # a backfill re-lands 05:00
        relanded = complete_day_sensor(dg.build_sensor_context(instance=instance))
        assert relanded.run_requests[0].run_key != first.run_requests[0].run_key
