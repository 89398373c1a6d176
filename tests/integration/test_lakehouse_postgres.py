"""Rollups against the real PostgreSQL and MinIO: maintenance due dates written back, alert history copied out."""

from __future__ import annotations

import datetime as dt
import uuid

import dagster as dg
import pyarrow as pa
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from assets_dag.analytics.assets import alert_history
from assets_dag.maintenance.assets import maintenance_due
from assets_dag.resources import DatabaseResource, LakehouseResource
from core.settings import Settings
from lakehouse import ALERTS, Lakehouse, Partition, mart
from tests.integration.conftest import service_settings

pytestmark = pytest.mark.integration

DAY = dt.date(2024, 5, 10)


@pytest.fixture(scope="module")
def settings(services: dict[str, str], postgres_url: str, lakehouse_s3_url: str) -> Settings:
    from core.db.models import metadata

    engine = create_engine(postgres_url)
    metadata.create_all(engine)
    engine.dispose()
    return service_settings(services, database_url=postgres_url, lakehouse_url=lakehouse_s3_url)


@pytest.fixture(scope="module")
def resources(settings: Settings) -> dict[str, object]:
    return {
        "lakehouse": LakehouseResource(
            url=settings.lakehouse_url,
            s3_endpoint_url=settings.s3_endpoint_url,
            s3_access_key_id=settings.s3_access_key_id,
            s3_secret_access_key=settings.s3_secret_access_key,
        ),
        "database": DatabaseResource(url=settings.database_url),
    }


def test_maintenance_rollup_updates_usage_and_due_dates_in_postgres(
    settings: Settings, resources: dict[str, object]
) -> None:
    from core.db.models import Asset, MaintenanceSchedule

    engine = create_engine(settings.database_url)
    asset_id = uuid.uuid4()
    with Session(engine) as session:
        session.add(Asset(id=asset_id, name="FL-7", category="forklift"))
        session.flush()
        session.add_all(
            [
                MaintenanceSchedule(name="500 h service", asset_id=asset_id, interval_usage_hours=10,
                                    last_done_at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC), usage_hours_at_last=0),
                MaintenanceSchedule(name="Annual inspection", category="forklift", interval_days=365,
                                    last_done_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC)),
            ]
        )  # fmt: skip
        session.commit()
    lakehouse = Lakehouse.from_settings(settings)
    # 4 h of use on each of the last 3 days: 12 h total > 10 h interval -> overdue.
    for back in range(3):
        table = pa.table({"asset_id": [str(asset_id)], "in_use_s": [4 * 3600.0]})
        lakehouse.write_partition(mart("asset_utilisation"), Partition(DAY - dt.timedelta(days=back)), table)

    result = dg.materialize([maintenance_due], resources=resources, partition_key=DAY.isoformat())
    assert result.success
    metadata = result.asset_materializations_for_node("maintenance_due")[0].metadata
    assert metadata["overdue"].value == 1
    with Session(engine) as session:
        assert session.get(Asset, asset_id).usage_hours == 12.0
        due = {s.name: s.next_due_at for s in session.query(MaintenanceSchedule)}
    end_of_day = dt.datetime(2024, 5, 11, tzinfo=dt.UTC)
    assert due == {"500 h service": end_of_day, "Annual inspection": dt.datetime(2024, 12, 31, tzinfo=dt.UTC)}


def test_alert_history_copies_the_days_alerts_from_postgres(
    settings: Settings, resources: dict[str, object]
) -> None:
    from core.db.models import Alert

    opened = dt.datetime.combine(DAY, dt.time(9), tzinfo=dt.UTC)
    with Session(create_engine(settings.database_url)) as session:
        session.add_all(
            [
                Alert(kind="low_battery", subject_type="asset", subject_id="a1", severity="warning", message="low",
                      opened_at=opened, acknowledged_at=opened + dt.timedelta(minutes=5), status="acknowledged"),
                Alert(kind="zone_exit", subject_type="asset", subject_id="a2", severity="critical", message="left",
                      opened_at=opened - dt.timedelta(days=1)),
            ]
        )  # fmt: skip
        session.commit()
    assert dg.materialize([alert_history], resources=resources, partition_key=DAY.isoformat()).success
    rows = Lakehouse.from_settings(settings).read_partition(ALERTS, Partition(DAY)).to_pylist()
    assert [(r["kind"], r["acknowledged_at"] - r["opened_at"]) for r in rows] == [
        ("low_battery", dt.timedelta(minutes=5))
    ]
