"""The daily site report reaches the email channels subscribed to it, through a real local SMTP server
(aiosmtpd); a channel that cannot be reached is reported by name and reason, and the report is stored anyway."""

from __future__ import annotations

import datetime as dt
import email
import socket
import uuid
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import dagster as dg
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, insert

from assets_dag.analytics.assets import MART_ASSETS
from assets_dag.maintenance.assets import maintenance_due
from assets_dag.reports.assets import REPORT_DELIVERED, site_daily_report
from assets_dag.resources import DatabaseResource, LakehouseResource
from core.alerts.channels import ChannelConfigError, check_channel
from core.db.models import NotificationChannel, metadata
from core.settings import Settings
from lakehouse import Lakehouse, demo, report_key

pytestmark = pytest.mark.unit

DAY = dt.date(2024, 5, 2)
NOW = dt.datetime(2024, 5, 3, tzinfo=dt.UTC)


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802, ANN001, ANN201 - aiosmtpd's hook name
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    port, mailbox = _free_port(), Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, mailbox
    controller.stop()


def _channel(conn, name: str, config: dict) -> None:  # type: ignore[no-untyped-def]
    conn.execute(
        insert(NotificationChannel.__table__).values(
            id=uuid.uuid4(),
            name=name,
            kind="email",
            config=config,
            enabled=True,
            created_at=NOW,
            updated_at=NOW,
        )
    )


def test_report_is_emailed_to_subscribers_only_and_a_dead_relay_is_named(
    embedded_settings: Settings, tmp_path: Path, smtp_server: tuple[int, Mailbox]
) -> None:
    port, mailbox = smtp_server
    lakehouse = Lakehouse.from_settings(embedded_settings)
    demo.write_day(lakehouse, DAY, demo.generate(DAY, observations=5_000, tags=4, fix_interval_s=60))
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = create_engine(database_url)
    metadata.create_all(engine)
    relay = {"host": "127.0.0.1", "port": port, "from": "reports@asset-tag.local"}
    with engine.begin() as conn:
        _channel(
            conn,
            "ops-managers",
            {**relay, "to": ["ops@example.org"], "reports": ["site_daily"], "actions": []},
        )
        _channel(conn, "night-shift", {**relay, "to": ["night@example.org"]})  # alerts only
        _channel(
            conn,
            "old-relay",
            {**relay, "port": _free_port(), "to": ["x@example.org"], "reports": ["site_daily"]},
        )

    result = dg.materialize(
        [*MART_ASSETS, maintenance_due, site_daily_report],
        resources={
            "lakehouse": LakehouseResource(url=embedded_settings.lakehouse_url),
            "database": DatabaseResource(url=database_url),
        },
        partition_key=DAY.isoformat(),
    )
    assert result.success  # a mail that cannot go out does not fail the report
    stored = lakehouse.read_bytes(report_key("site_daily", DAY, "report.html")).decode()

    assert [rcpt for rcpt, _ in mailbox.messages] == [["ops@example.org"]]
    message = email.message_from_bytes(mailbox.messages[0][1])
    assert DAY.isoformat() in message["Subject"] and message["From"] == "reports@asset-tag.local"
    parts: list[Message] = list(message.walk())
    html = [p for p in parts if p.get_content_type() == "text/html" and not p.get_filename()]
    attached = [p for p in parts if p.get_filename() == f"site_daily-{DAY.isoformat()}.html"]
    assert html and attached
    assert (
        html[0].get_payload(decode=True).decode().replace("\r\n", "\n").strip() == stored.strip()
    )  # SMTP CRLF
    assert attached[0].get_payload(decode=True).decode() == stored

    delivered = next(c for c in result.get_asset_check_evaluations() if c.check_name == REPORT_DELIVERED)
    assert not delivered.passed and delivered.severity == dg.AssetCheckSeverity.WARN
    failed = delivered.metadata["failed"].value
    assert "old-relay" in failed and "ops-managers" not in failed


def test_a_typo_in_a_channels_report_list_is_refused_with_the_field() -> None:
    config = {
        "host": "smtp.example.org",
        "from": "a@example.org",
        "to": ["b@example.org"],
        "reports": ["daily"],
    }
    with pytest.raises(ChannelConfigError, match=r"config.reports: .*site_daily"):
        check_channel("email", config)
