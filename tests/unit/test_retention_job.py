"""The daily Dagster job that enforces location-history retention really deletes expired history."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from assets_dag.resources import DatabaseResource
from core.db.engine import make_engine, upgrade_database
from core.db.models import LocationHistory
from core.settings import get_settings
from orchestration.definitions import defs
from orchestration.retention import history_retention_job

pytestmark = pytest.mark.unit


def test_retention_job_is_scheduled_daily() -> None:
    schedule = defs.get_schedule_def("history_retention_job_schedule")
    assert schedule.job_name == "history_retention_job"
    assert schedule.cron_schedule == "15 0 * * *"


def test_retention_job_drops_rows_past_the_retention_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSET_TAG_HISTORY_RETENTION_DAYS", "30")
    get_settings.cache_clear()
    url = f"sqlite:///{tmp_path / 'h.db'}"
    upgrade_database(url)
    now = datetime.datetime.now(datetime.UTC)
    fix = {"x": 1.0, "y": 2.0, "accuracy_m": 2.0, "confidence": 0.5, "method": "centroid", "gateway_count": 3}
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            insert(LocationHistory).values(
                [
                    {"tag_id": "AB01", "ts": now - datetime.timedelta(days=days), **fix}
                    for days in (45, 31, 29, 1)
                ]
            )
        )

    result = history_retention_job.execute_in_process(resources={"database": DatabaseResource(url=url)})

    assert result.success
    with engine.connect() as connection:
        kept = connection.scalars(select(LocationHistory.ts).order_by(LocationHistory.ts)).all()
        assert connection.scalar(select(func.count()).select_from(LocationHistory)) == 2
    assert all(now - ts.replace(tzinfo=datetime.UTC) < datetime.timedelta(days=30) for ts in kept)
    engine.dispose()
