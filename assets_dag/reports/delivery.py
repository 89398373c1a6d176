"""Emailing a finished report to the notification channels that subscribed to it.

A channel subscribes in its config: `{"kind": "email", ..., "reports": ["site_daily"]}` (add `"actions": []` to
keep alerts off it). Channels are read from the database when the report runs, so subscribing through the API
takes effect on the next report without a redeploy. A failed send does not undo the report: it is stored in the
lakehouse either way, and the failure is reported (asset check, run log) with the channel and the reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, select

from core.alerts.channels import send_report_email
from core.db.models import NotificationChannel


@dataclass(frozen=True, slots=True)
class Sent:
    channel: str
    ok: bool
    detail: str


def subscribed_channels(engine: Engine, kind: str) -> list[NotificationChannel]:
    """Enabled email channels whose config lists the report `kind`."""
    table = NotificationChannel.__table__
    with engine.connect() as conn:
        rows = conn.execute(
            select(table).where(table.c.enabled.is_(True), table.c.kind == "email")  # type: ignore[attr-defined]
        ).all()
    return [row for row in rows if kind in ((row.config or {}).get("reports") or [])]  # type: ignore[misc]


def email_report(engine: Engine, kind: str, day: dt.date, html: str, uri: str, filename: str) -> list[Sent]:
    """Send the report to every subscribed channel; one `Sent` per channel, in channel-name order."""
    title = kind.replace("_", " ")
    subject = f"asset-tag {title} report — {day.isoformat()}"
    text = (
        f"The asset-tag {title} report for {day.isoformat()} is attached (open it in a browser; the charts are "
        f"inline).\n\nIt is also stored in the lakehouse at {uri} and listed by the API under /api/v1/reports.\n"
    )
    out = []
    for channel in sorted(subscribed_channels(engine, kind), key=lambda c: c.name):
        result = send_report_email(channel, subject, text, html, f"{kind}-{day.isoformat()}.html")
        out.append(Sent(channel.name, result.ok, result.detail))
    return out
