"""Alert persistence and the outbox on the embedded SQLite database: one unresolved alert per (rule, subject),
idempotent notification queueing, retries with backoff until the delivery is given up, signatures."""

from __future__ import annotations

import datetime
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from core.alerts import Condition, rule_from_record
from core.alerts.channels import SendResult, check_channel
from core.alerts.outbox import DELIVERIES, enqueue
from core.db.engine import make_engine, upgrade_database
from core.db.models import Alert, AlertRule, NotificationChannel
from realtime.alerting.channels import sign, verify_signature
from realtime.alerting.delivery import DeliveryOptions, DeliveryWorker, backoff_s
from realtime.alerting.store import resolve_subject, upsert_alert

pytestmark = pytest.mark.unit

NOW = datetime.datetime(2026, 5, 1, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture()
def engine(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    upgrade_database(url)
    return make_engine(url)


def _rule(engine: Engine):  # type: ignore[no-untyped-def]
    rule = rule_from_record({"id": str(uuid.uuid4()), "name": "Lab", "kind": "restricted_zone"})
    with engine.begin() as conn:
        conn.execute(insert(AlertRule.__table__).values(
            id=uuid.UUID(rule.id), name=rule.name, kind=rule.kind.value, params={}, enabled=True,
            auto_resolve=True, created_at=NOW, updated_at=NOW,
        ))  # fmt: skip
        conn.execute(insert(NotificationChannel.__table__).values(
            id=uuid.uuid4(), name="hook", kind="webhook", config={"url": "http://127.0.0.1:9/"}, enabled=True,
            created_at=NOW, updated_at=NOW,
        ))  # fmt: skip
    return rule


def _condition(rule, active: bool = True, minute: int = 0) -> Condition:  # type: ignore[no-untyped-def]
    at = NOW + datetime.timedelta(minutes=minute)
    return Condition(
        rule, "asset", "a1", "asset:a1@zone:lab", active, at, "Pump entered the lab", repeat=True
    )


def test_repeats_count_on_the_open_alert_and_a_new_occurrence_after_resolve_opens_another(
    engine: Engine,
) -> None:
    rule = _rule(engine)
    with engine.begin() as conn:
        first = upsert_alert(conn, _condition(rule), NOW, repeat=True)
        again = upsert_alert(conn, _condition(rule, minute=5), NOW, repeat=True)
        assert (first.action, again.action) == ("opened", "repeated")
        assert again.alert["id"] == first.alert["id"] and again.alert["count"] == 2
        resolved = resolve_subject(conn, _condition(rule, active=False, minute=6), NOW)
        assert resolved is not None and resolved.alert["status"] == "resolved"
        assert resolve_subject(conn, _condition(rule, active=False, minute=7), NOW) is None
        reopened = upsert_alert(conn, _condition(rule, minute=9), NOW, repeat=True)
        assert reopened.action == "opened" and reopened.alert["id"] != first.alert["id"]
        rows = list(conn.execute(select(Alert.__table__.c.status)).scalars())
    assert sorted(rows) == ["open", "resolved"]


def test_outbox_is_idempotent_and_gives_up_after_max_attempts(engine: Engine) -> None:
    rule = _rule(engine)
    with engine.begin() as conn:
        change = upsert_alert(conn, _condition(rule), NOW, repeat=True)
        assert enqueue(conn, [change], NOW) == 1
        assert enqueue(conn, [change], NOW) == 0  # the same change replayed: nothing new
    calls = []

    def failing(channel, payload, delivery_id):  # type: ignore[no-untyped-def]
        calls.append(delivery_id)
        return SendResult(False, "HTTP 503", retryable=True)

    clock = [NOW.timestamp()]
    options = DeliveryOptions(max_attempts=3, base_backoff_s=10.0)
    worker = DeliveryWorker(engine, options, sender=failing, clock=lambda: clock[0])
    for _ in range(3):
        worker.run_once()
        clock[0] += 1000
    with engine.connect() as conn:
        (row,) = list(conn.execute(select(DELIVERIES)))
    assert row.status == "failed" and row.attempts == 3 and row.last_error == "HTTP 503"
    assert len(calls) == 3 and len(set(calls)) == 1  # same delivery id on every retry
    assert [backoff_s(n, options) for n in (1, 2, 3)] == [10.0, 20.0, 40.0]


def test_signature_round_trip_and_staleness() -> None:
    body = b'{"a":1}'
    signature = sign("k", "1700000000", body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert verify_signature("k", "1700000000", body, signature, now=1700000100)
    assert not verify_signature("k", "1700000000", body + b" ", signature, now=1700000100)
    assert not verify_signature("k", "1700000000", body, signature, now=1700009999)  # replayed much later


def test_channel_config_errors_name_the_field() -> None:
    with pytest.raises(ValueError, match="config.to"):
        check_channel("email", {"host": "smtp.example.org", "from": "a@example.org", "to": []})
    with pytest.raises(ValueError, match="config.url"):
        check_channel("webhook", {"url": "example.org/hook"})
    with pytest.raises(ValueError, match="kind"):
        check_channel("sms", {})
