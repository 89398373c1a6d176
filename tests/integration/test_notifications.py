"""Notifications through the outbox on the real PostgreSQL: a signed webhook to a real local HTTP server (with a
retry after a 500), an email to a real local SMTP server, the per-channel rate limit, and `send_test`."""

from __future__ import annotations

import datetime
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, insert, select

from core.alerts import Condition, rule_from_record
from core.alerts.outbox import DELIVERIES, enqueue
from core.db.engine import make_engine, upgrade_database
from core.db.models import AlertRule, NotificationChannel
from realtime.alerting.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, send_test, verify_signature
from realtime.alerting.delivery import DeliveryOptions, DeliveryWorker
from realtime.alerting.store import upsert_alert

pytestmark = pytest.mark.integration

SECRET = "s3cret-for-tests"
NOW = datetime.datetime(2026, 5, 1, 12, 0, tzinfo=datetime.UTC)


class Receiver(BaseHTTPRequestHandler):
    """Answers the first `fail_first` requests with 500, then 204; records every request."""

    requests: list[tuple[dict[str, str], bytes]] = []
    fail_first = 0

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).requests.append((dict(self.headers.items()), body))
        status = 500 if len(type(self).requests) <= type(self).fail_first else 204
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        return None


@pytest.fixture()
def webhook_server() -> Iterator[tuple[str, type[Receiver]]]:
    handler = type("Handler", (Receiver,), {"requests": [], "fail_first": 1})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    server.shutdown()
    server.server_close()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802, ANN001, ANN201 - aiosmtpd's hook name
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture()
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, mailbox
    controller.stop()


@pytest.fixture(scope="module")
def engine(postgres_url: str) -> Iterator[Engine]:
    upgrade_database(postgres_url)
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


def _channel(engine: Engine, kind: str, config: dict, **fields: object) -> uuid.UUID:
    channel_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            insert(NotificationChannel.__table__).values(
                id=channel_id, name=f"{kind}-{channel_id.hex[:6]}", kind=kind, config=config, enabled=True,
                created_at=NOW, updated_at=NOW, **fields,
            )
        )  # fmt: skip
    return channel_id


def _raise_alert(engine: Engine, channel_id: uuid.UUID, subject: str) -> str:
    """Open an alert for a rule that notifies only `channel_id`; the outbox row is written in the same transaction."""
    rule = rule_from_record({
        "id": str(uuid.uuid4()), "name": "Battery", "kind": "battery_low", "severity": "critical",
        "params": {"channels": [str(channel_id)]},
    })  # fmt: skip
    condition = Condition(
        rule, "asset", subject, f"asset:{subject}", True, NOW, f"{subject} battery low: 4 %"
    )
    with engine.begin() as conn:
        conn.execute(
            insert(AlertRule.__table__).values(
                id=uuid.UUID(rule.id), name=rule.name, kind=rule.kind.value, severity=rule.severity,
                params=dict(rule.params), enabled=True, auto_resolve=True, created_at=NOW, updated_at=NOW,
            )
        )  # fmt: skip
        change = upsert_alert(conn, condition, NOW, repeat=False)
        assert enqueue(conn, [change], NOW) == 1
    return change.alert["id"]


def _deliveries(engine: Engine, channel_id: uuid.UUID) -> list:
    with engine.connect() as conn:
        query = select(DELIVERIES).where(DELIVERIES.c.channel_id == channel_id).order_by(DELIVERIES.c.id)
        return list(conn.execute(query))


def test_webhook_is_signed_and_retried_after_a_500(engine: Engine, webhook_server) -> None:
    url, receiver = webhook_server
    channel_id = _channel(engine, "webhook", {"url": url}, secret=SECRET)
    alert_id = _raise_alert(engine, channel_id, "pump-7")
    clock = [NOW.timestamp()]
    worker = DeliveryWorker(engine, DeliveryOptions(base_backoff_s=30.0), clock=lambda: clock[0])

    first = worker.run_once()
    assert (first.delivered, first.retried) == (0, 1)
    (row,) = _deliveries(engine, channel_id)
    assert row.status == "pending" and row.attempts == 1 and "HTTP 500" in row.last_error
    assert row.next_attempt_at == NOW + datetime.timedelta(seconds=30)

    assert worker.run_once().delivered == 0  # not due yet: backoff is respected
    clock[0] += 31
    assert worker.run_once().delivered == 1
    (row,) = _deliveries(engine, channel_id)
    assert row.status == "delivered" and row.attempts == 2 and row.last_error is None

    assert len(receiver.requests) == 2
    headers, body = receiver.requests[-1]
    assert verify_signature(SECRET, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert not verify_signature("wrong", headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    payload = json.loads(body)
    assert payload["action"] == "opened" and payload["alert"]["id"] == alert_id
    assert payload["alert"]["message"] == "pump-7 battery low: 4 %"
    assert worker.run_once().delivered == 0  # delivered once, never again


def test_email_reaches_a_real_smtp_server(engine: Engine, smtp_server) -> None:
    port, mailbox = smtp_server
    config = {"host": "127.0.0.1", "port": port, "from": "alerts@example.org", "to": ["ops@example.org"]}
    channel_id = _channel(engine, "email", config)
    _raise_alert(engine, channel_id, "forklift-2")
    report = DeliveryWorker(engine, clock=lambda: NOW.timestamp()).run_once()
    assert report.delivered == 1
    ((sender, recipients, content),) = mailbox.messages
    assert sender == "alerts@example.org" and recipients == ["ops@example.org"]
    assert b"Subject: [CRITICAL] opened: forklift-2 battery low: 4 %" in content


def test_rate_limit_defers_without_spending_attempts(engine: Engine, webhook_server) -> None:
    url, receiver = webhook_server
    receiver.fail_first = 0
    channel_id = _channel(engine, "webhook", {"url": url}, rate_limit_per_min=1)
    _raise_alert(engine, channel_id, "cart-1")
    _raise_alert(engine, channel_id, "cart-2")
    report = DeliveryWorker(engine, clock=lambda: NOW.timestamp()).run_once()
    assert (report.delivered, report.deferred) == (1, 1)
    rows = _deliveries(engine, channel_id)
    assert sorted(r.status for r in rows) == ["delivered", "pending"]
    waiting = next(r for r in rows if r.status == "pending")
    assert waiting.attempts == 0 and waiting.next_attempt_at > NOW


def test_send_test_reports_success_and_failure(webhook_server) -> None:
    url, receiver = webhook_server
    receiver.fail_first = 0
    result = send_test({"name": "ops hook", "kind": "webhook", "config": {"url": url}, "secret": SECRET})
    assert result.ok and result.status_code == 204
    assert json.loads(receiver.requests[-1][1])["type"] == "test"
    bad = send_test({"name": "broken", "kind": "webhook", "config": {"url": "ftp://nowhere"}})
    assert not bad.ok and not bad.retryable and "config.url" in bad.detail
