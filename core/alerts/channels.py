"""Notification channels without a network library: what a channel's configuration must hold
(`check_channel`, used by the API before storing one and by the senders), the result of a send, and email over
SMTP (standard library only). Webhooks, which need an HTTP client, are sent from `realtime.alerting.channels`.

Email: config {"host", "port", "starttls": bool, "ssl": bool, "username", "from", "to": [...]}; the password is
the channel's `secret`. `"reports": ["site_daily"]` also mails those scheduled reports to the channel (and
`"actions": []` makes it a reports-only channel).
"""

from __future__ import annotations

import json
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

REPORT_KINDS = ("site_daily",)  # scheduled reports an email channel can subscribe to (assets_dag.reports)


class ChannelConfigError(ValueError):
    """A channel's configuration cannot work; the message names the field."""


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    detail: str  # HTTP status / SMTP reply, or the error
    retryable: bool = True  # False: retrying cannot help (e.g. HTTP 400, bad configuration)
    status_code: int | None = None


def channel_config(channel: Any) -> Mapping[str, Any]:
    config = channel.get("config") if isinstance(channel, Mapping) else getattr(channel, "config", None)
    return config or {}


def channel_field(channel: Any, name: str) -> Any:
    return channel.get(name) if isinstance(channel, Mapping) else getattr(channel, name, None)


def check_channel(kind: str, config: Mapping[str, Any]) -> None:
    """Validate a channel definition (the API calls this before storing one)."""
    if kind == "webhook":
        url = config.get("url")
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ChannelConfigError(f"config.url: expected an http(s) URL, got {url!r}")
        headers = config.get("headers", {})
        if not isinstance(headers, Mapping) or not all(isinstance(v, str) for v in headers.values()):
            raise ChannelConfigError("config.headers: expected an object of header name -> string value")
    elif kind == "email":
        if not isinstance(config.get("host"), str) or not config["host"]:
            raise ChannelConfigError("config.host: the SMTP server host name is required")
        to = config.get("to")
        if not isinstance(to, list) or not to or not all(isinstance(a, str) and "@" in a for a in to):
            raise ChannelConfigError("config.to: expected a non-empty list of email addresses")
        sender = config.get("from")
        if not isinstance(sender, str) or "@" not in sender:
            raise ChannelConfigError("config.from: the sender address is required")
        port = config.get("port", 25)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ChannelConfigError(f"config.port: expected a TCP port number, got {port!r}")
        reports = config.get("reports", [])
        if not isinstance(reports, list) or not all(
            isinstance(r, str) and r in REPORT_KINDS for r in reports
        ):
            raise ChannelConfigError(
                f"config.reports: expected a list of report kinds from {list(REPORT_KINDS)}, got {reports!r}"
            )
    else:
        raise ChannelConfigError(f"kind: expected 'webhook' or 'email', got {kind!r}")


def render_email(payload: Mapping[str, Any]) -> tuple[str, str]:
    """Subject and plain-text body for an alert notification."""
    alert = payload.get("alert") or {}
    action = payload.get("action", "")
    severity = str(alert.get("severity", "info")).upper()
    subject = (
        f"[{severity}] {action}: {alert.get('message', payload.get('message', 'asset-tag notification'))}"
    )
    lines = [
        str(alert.get("message", payload.get("message", ""))),
        "",
        f"Action:   {action}",
        f"Severity: {alert.get('severity', '')}",
        f"Subject:  {alert.get('subject_key', '')}",
        f"Opened:   {alert.get('opened_at', '')}",
        f"Status:   {alert.get('status', '')}",
        "",
        json.dumps(payload, indent=2, sort_keys=True, default=str),
    ]
    return subject[:250], "\n".join(lines)


def send_email(channel: Any, payload: Mapping[str, Any], delivery_id: str | None = None) -> SendResult:
    subject, text = render_email(payload)
    message = EmailMessage()
    message["Subject"] = subject
    if delivery_id is not None:
        message["X-AssetTag-Delivery"] = delivery_id
    message.set_content(text)
    return deliver_email(channel, message)


def send_report_email(channel: Any, subject: str, text: str, html: str, filename: str) -> SendResult:
    """A scheduled report to an email channel: the plain-text summary as the body, the self-contained HTML
    report both as the rich alternative (mail clients show it inline) and as an attachment to keep."""
    message = EmailMessage()
    message["Subject"] = subject[:250]
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    message.add_attachment(html.encode(), maintype="text", subtype="html", filename=filename)
    return deliver_email(channel, message)


def deliver_email(channel: Any, message: EmailMessage) -> SendResult:
    """Send `message` (From/To filled in from the channel) through the channel's SMTP server."""
    config = channel_config(channel)
    try:
        check_channel("email", config)
    except ChannelConfigError as exc:
        return SendResult(False, str(exc), retryable=False)
    message["From"] = config["from"]
    message["To"] = ", ".join(config["to"])
    use_ssl = bool(config.get("ssl"))
    port = int(config.get("port", 465 if use_ssl else 25))
    timeout = float(config.get("timeout_s", 15))
    context = ssl.create_default_context()
    if config.get("insecure_skip_verify"):  # self-signed relays on a private network
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        smtp_class = smtplib.SMTP_SSL if use_ssl else smtplib.SMTP
        kwargs: dict[str, Any] = {"context": context} if use_ssl else {}
        with smtp_class(config["host"], port, timeout=timeout, **kwargs) as smtp:
            if config.get("starttls") and not use_ssl:
                smtp.starttls(context=context)
            password = channel_field(channel, "secret")
            if config.get("username"):
                smtp.ehlo_or_helo_if_needed()
                if not smtp.has_extn("auth"):  # smtplib would only say "AUTH extension not supported"
                    reason = (
                        'config.starttls: the server offers login only after STARTTLS; set "starttls": true'
                        if smtp.has_extn("starttls")
                        else "config.username: the server does not offer login (AUTH); remove the username"
                    )
                    return SendResult(False, reason, retryable=False)
                smtp.login(config["username"], password or "")
            refused = smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        return SendResult(
            False, f"SMTP authentication failed: {exc.smtp_code} {exc.smtp_error!r}", retryable=False
        )
    except (smtplib.SMTPException, OSError) as exc:
        return SendResult(False, f"{type(exc).__name__}: {exc}")
    if refused:
        return SendResult(False, f"recipients refused: {sorted(refused)}", retryable=False)
    return SendResult(True, f"sent to {len(config['to'])} recipient(s)")
