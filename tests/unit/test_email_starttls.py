"""Email channels against a real local SMTP server (aiosmtpd) that requires STARTTLS and authentication: the
channel's `starttls` option upgrades the session before logging in, and a channel without it gets the server's
refusal as a clear, non-retryable-looking reason rather than a crash."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from realtime.alerting.channels import send_test

pytestmark = pytest.mark.unit


def _self_signed(tmp: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    return context


class Mailbox:
    def __init__(self) -> None:
        self.received: list[tuple[bool, list[str]]] = []  # (session was TLS, recipients)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802, ANN001, ANN201 - aiosmtpd's hook name
        self.received.append((session.ssl is not None, list(envelope.rcpt_tos)))
        return "250 OK"


def _check_login(server, session, envelope, mechanism, data):  # type: ignore[no-untyped-def]  # noqa: ANN001
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"alerts", b"s3cret")
    return AuthResult(success=ok)


@pytest.fixture()
def tls_relay(tmp_path: Path) -> Iterator[tuple[int, Mailbox]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=_self_signed(tmp_path),
        require_starttls=True,
        auth_required=True,
        authenticator=_check_login,
    )
    controller.start()
    yield port, mailbox
    controller.stop()


def _channel(port: int, **config: object) -> SimpleNamespace:
    base = {"host": "127.0.0.1", "port": port, "from": "alerts@asset-tag.local", "to": ["ops@example.org"]}
    return SimpleNamespace(name="ops", kind="email", secret="s3cret", config={**base, **config})


def test_starttls_upgrades_the_session_before_login(tls_relay: tuple[int, Mailbox]) -> None:
    port, mailbox = tls_relay
    channel = _channel(port, starttls=True, username="alerts", insecure_skip_verify=True)
    result = send_test(channel)
    assert result.ok, result.detail
    assert mailbox.received == [(True, ["ops@example.org"])]


def test_without_starttls_the_relays_refusal_is_the_reason(tls_relay: tuple[int, Mailbox]) -> None:
    port, mailbox = tls_relay
    result = send_test(_channel(port, username="alerts"))
    assert not result.ok
    assert result.detail.startswith("config.starttls:") and not result.retryable, result.detail
    assert mailbox.received == []


def test_a_certificate_that_does_not_verify_is_refused_unless_told_otherwise(
    tls_relay: tuple[int, Mailbox],
) -> None:
    port, mailbox = tls_relay
    result = send_test(_channel(port, starttls=True, username="alerts"))
    assert not result.ok and "CERTIFICATE_VERIFY_FAILED" in result.detail, result.detail
    assert mailbox.received == []
