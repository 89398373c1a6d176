"""The daily chain on a demo day in a file:// lakehouse and a SQLite database: marts, maintenance, report."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from assets_dag.analytics.assets import MART_ASSETS
from assets_dag.maintenance.assets import maintenance_due
from assets_dag.reports.assets import site_daily_report
from assets_dag.resources import DatabaseResource, LakehouseResource
from core.settings import Settings
from lakehouse import Lakehouse, Partition, demo, mart, report_key

pytestmark = pytest.mark.unit

DAY = dt.date(2024, 5, 1)


def test_daily_chain_builds_every_mart_updates_maintenance_and_writes_the_report(
    embedded_settings: Settings, tmp_path: Path
) -> None:
    from core.db.models import Asset, MaintenanceSchedule, metadata

    lakehouse = Lakehouse.from_settings(embedded_settings)
    day = demo.generate(DAY, observations=20_000, tags=6, fix_interval_s=60)
    demo.write_day(lakehouse, DAY, day)

    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = create_engine(database_url)
    metadata.create_all(engine)
    first_asset = uuid.UUID(day.assets["asset_id"][0].as_py())
    with Session(engine) as session:
        session.add(Asset(id=first_asset, name="FL-1", category="forklift"))
        session.flush()
        session.add(MaintenanceSchedule(name="Brake check", asset_id=first_asset, interval_days=7,
                                        last_done_at=dt.datetime(2024, 4, 1, tzinfo=dt.UTC)))  # fmt: skip
        session.commit()

    result = dg.materialize(
        [*MART_ASSETS, maintenance_due, site_daily_report],
        resources={
            "lakehouse": LakehouseResource(url=embedded_settings.lakehouse_url),
            "database": DatabaseResource(url=database_url),
        },
        partition_key=DAY.isoformat(),
    )
    assert result.success
    checks = {check.check_name: check for check in result.get_asset_check_evaluations()}
    assert all(check.passed for name, check in checks.items() if name != "zones_do_not_flap")
    # Sampled once a minute while covering 60 m (bouncing off the site's walls), the demo's tags leap across the
    # site, now and then straight back into the zone they just left: a warning (not a failure) that names the
    # zones where 20 % or more of the enters came straight back.
    flapping = checks["zones_do_not_flap"]
    assert flapping.severity == dg.AssetCheckSeverity.WARN
    worst = flapping.metadata["worst"].value
    assert flapping.passed == (worst == [])
    assert all(zone["flap_share"] >= 0.2 and zone["enters"] >= 10 for zone in worst)
    flaps = lakehouse.read_partition(mart("zone_flapping"), Partition(DAY)).to_pylist()
    assert {z["zone_id"] for z in worst} == {
        r["zone_id"] for r in flaps if r["tag_id"] is None and r["enters"] >= 10 and r["flap_share"] >= 0.2
    }
    for name in ("asset_utilisation", "zone_dwell", "zone_occupancy", "zone_flapping", "gateway_health", "battery_trend",
                 "alert_stats", "location_quality", "maintenance_due"):  # fmt: skip
        assert lakehouse.read_partition(mart(name), Partition(DAY)).num_rows > 0, name

    utilisation = lakehouse.read_partition(mart("asset_utilisation"), Partition(DAY)).to_pylist()
    assert len(utilisation) == 6
    # The demo drops every tag for one hour: nobody is present all day.
    assert all(row["missing_s"] >= 3600 for row in utilisation)
    assert {row["category"] for row in utilisation if row["asset_id"] == str(first_asset)} == {"forklift"}
    gateways = lakehouse.read_partition(mart("gateway_health"), Partition(DAY))
    assert sum(gateways["observations"].to_pylist()) == 20_000

    html = lakehouse.read_bytes(report_key("site_daily", DAY, "report.html")).decode()
    for section in ('id="utilisation"', 'id="dwell"', 'id="alerts"', 'id="gateways"', 'id="maintenance"'):
        assert section in html
    assert "<svg" in html and "forklift" in html
    assert "Brake check" in html and "(overdue)" in html  # done April 1st every 7 days
    with Session(engine) as session:
        assert session.get(
            MaintenanceSchedule, session.query(MaintenanceSchedule.id).scalar()
        ).next_due_at == (dt.datetime(2024, 4, 8, tzinfo=dt.UTC))
