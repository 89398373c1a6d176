"""Drift raises an alert through the alert engine's table: one unresolved `model_drift` alert per site, refreshed
while the site stays degraded, auto-resolved once a day is healthy again."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import select, update

from assets_dag.ml.assets import location_model_drift
from assets_dag.ml.drift_alerts import MODEL_DRIFT_KIND
from assets_dag.ml.registry import client_for
from assets_dag.resources import DatabaseResource, MLflowResource
from core.alerts.persist import system_rule_id
from core.db.engine import make_engine, session_factory, upgrade_database
from core.db.models import Alert, AlertRule, LocationHistory, NotificationChannel, NotificationDelivery, Site
from core.ml.evaluation import Evaluation
from core.ml.registry_names import CHAMPION_ALIAS, EXPERIMENT_NAME, location_model_name

pytestmark = pytest.mark.unit

DAY = dt.date(2025, 3, 10)
REFERENCE = Evaluation(
    fixes=500,
    median_m=1.2,
    p75_m=1.8,
    p90_m=2.5,
    within_accuracy=0.7,
    mean_accuracy_m=2.0,
    fingerprint_share=0.0,
)


@pytest.fixture
def world(tmp_path: Path) -> tuple[str, str, uuid.UUID]:
    """A platform DB with one site, and an MLflow store whose champion for it was evaluated at 2.0 m radius."""
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    upgrade_database(url)
    site_id = uuid.uuid4()
    with session_factory(make_engine(url))() as db:
        db.add(Site(id=site_id, name="depot", origin_lat=52.2, origin_lon=21.0))
        db.commit()
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = client_for(tracking)
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME) or client.get_experiment(
        client.create_experiment(EXPERIMENT_NAME)
    )
    run = client.create_run(experiment.experiment_id)
    for key, value in REFERENCE.as_metrics("heldout_").items():
        client.log_metric(run.info.run_id, key, value)
    name = location_model_name(site_id)
    client.create_registered_model(name)
    version = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    client.set_registered_model_alias(name, CHAMPION_ALIAS, version.version)
    return url, tracking, site_id


def _fixes(url: str, site_id: uuid.UUID, day: dt.date, accuracy_m: float, n: int = 40) -> None:
    """`n` live fixes on `day`, all made by the champion, with the given reported radius."""
    start = dt.datetime.combine(day, dt.time(8), tzinfo=dt.UTC)
    label = f"{location_model_name(site_id)}/1"
    with session_factory(make_engine(url))() as db:
        for i in range(n):
            db.add(
                LocationHistory(
                    tag_id="AABB01",
                    ts=start + dt.timedelta(minutes=i),
                    site_id=site_id,
                    x=1.0,
                    y=2.0,
                    accuracy_m=accuracy_m,
                    confidence=0.8,
                    method="trilateration",
                    gateway_count=3,
                    model_version=label,
                )  # fmt: skip
            )
        db.commit()


def _drift(url: str, tracking: str, day: dt.date) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [location_model_drift],
        resources={"database": DatabaseResource(url=url), "mlflow": MLflowResource(tracking_uri=tracking)},
        partition_key=day.isoformat(),
        selection=[location_model_drift],
    )


def _notified(url: str) -> list[str]:
    """The queued notifications, as their dedupe keys' actions in order."""
    with session_factory(make_engine(url))() as db:
        rows = db.scalars(select(NotificationDelivery).order_by(NotificationDelivery.created_at))
        return [row.dedupe_key.split(":")[1] for row in rows]


def _alerts(url: str) -> list[Alert]:
    with session_factory(make_engine(url))() as db:
        return list(db.scalars(select(Alert).order_by(Alert.opened_at)))


def test_degraded_site_opens_one_alert_that_resolves_when_healthy(world: tuple[str, str, uuid.UUID]) -> None:
    url, tracking, site_id = world
    with session_factory(make_engine(url))() as db:
        db.add(NotificationChannel(name="ml-team", kind="webhook", config={"url": "http://127.0.0.1:9/hook"}))
        db.commit()
    _fixes(url, site_id, DAY, accuracy_m=4.0)  # twice the champion's radius: degraded

    first = _drift(url, tracking, DAY)
    assert first.success
    [alert] = _alerts(url)
    assert alert.status == "open"
    assert alert.kind == MODEL_DRIFT_KIND
    assert alert.rule_id == system_rule_id(MODEL_DRIFT_KIND)
    assert alert.subject_key == f"site:{site_id}"
    assert alert.site_id == site_id
    assert "accuracy_m 4.00 m vs 2.00 m" in alert.message
    assert alert.details["day"] == DAY.isoformat()

    assert _notified(url) == ["opened"]  # queued for the channel, sent by the delivery worker

    # Re-running the partition refreshes the same alert instead of opening another, and notifies nobody again.
    assert _drift(url, tracking, DAY).success
    assert [a.id for a in _alerts(url)] == [alert.id]
    assert _notified(url) == ["opened"]

    # The next day the site is healthy again: the alert resolves by itself.
    _fixes(url, site_id, DAY + dt.timedelta(days=1), accuracy_m=2.1)
    assert _drift(url, tracking, DAY + dt.timedelta(days=1)).success
    [resolved] = _alerts(url)
    assert resolved.status == "resolved"
    assert resolved.resolved_at is not None and resolved.resolved_by is None
    assert _notified(url) == ["opened", "resolved"]

    # Degraded once more: a new alert opens (the resolved one stays as history).
    _fixes(url, site_id, DAY + dt.timedelta(days=2), accuracy_m=5.0)
    assert _drift(url, tracking, DAY + dt.timedelta(days=2)).success
    statuses = [a.status for a in _alerts(url)]
    assert statuses == ["resolved", "open"]


def test_too_few_fixes_neither_open_nor_resolve_and_a_disabled_rule_raises_nothing(
    world: tuple[str, str, uuid.UUID],
) -> None:
    url, tracking, site_id = world
    _fixes(url, site_id, DAY, accuracy_m=4.0)
    assert _drift(url, tracking, DAY).success
    _fixes(url, site_id, DAY + dt.timedelta(days=1), accuracy_m=2.0, n=5)  # too little to judge
    assert _drift(url, tracking, DAY + dt.timedelta(days=1)).success
    assert [a.status for a in _alerts(url)] == ["open"]

    # A person resolves it and switches the rule off: the next degraded day opens nothing.
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            update(Alert).values(status="resolved", resolved_at=dt.datetime.now(dt.UTC), resolved_by="ops")
        )
        conn.execute(
            update(AlertRule).where(AlertRule.id == system_rule_id(MODEL_DRIFT_KIND)).values(enabled=False)
        )
    _fixes(url, site_id, DAY + dt.timedelta(days=2), accuracy_m=6.0)
    result = _drift(url, tracking, DAY + dt.timedelta(days=2))
    assert result.success
    assert [a.status for a in _alerts(url)] == ["resolved"]
    check = result.get_asset_check_evaluations()[0]
    assert not check.passed  # the check still reports the degradation in Dagster
