"""A drift alert raised by the Dagster drift asset is left alone by the realtime alert ticker.

The `model_drift` rule is a system rule maintained by batch jobs: the ticker must not warn about it every tick,
auto-resolve its alert (it has no condition to check), or escalate it.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from core.alerts.persist import ensure_system_rule, upsert_alert
from core.db.engine import make_engine, upgrade_database
from core.db.models import Alert
from core.settings import get_settings
from realtime.alerting.ticker import AlertTicker

pytestmark = pytest.mark.unit

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def test_ticker_leaves_a_drift_alert_open_and_does_not_warn(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    site_id = uuid.uuid4()
    with engine.begin() as conn:
        rule = ensure_system_rule(
            conn, "model_drift", "Location model drift", "raised by the drift asset", NOW
        )
        upsert_alert(
            conn, rule, subject_type="site", subject_id=str(site_id), message="site degraded",
            details={}, at=NOW, now=NOW,
        )  # fmt: skip

    ticker = AlertTicker(
        get_settings(), engine=engine, clock=lambda: (NOW + dt.timedelta(hours=6)).timestamp()
    )
    with caplog.at_level(logging.WARNING):
        report = ticker.tick()

    assert report.resolved == 0 and report.escalated == 0
    assert not [r for r in caplog.records if "skipped" in r.getMessage()]
    with engine.connect() as conn:
        assert conn.scalars(select(Alert.status)).all() == ["open"]
    engine.dispose()
