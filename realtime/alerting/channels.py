"""Sending one notification to one channel: a signed webhook or an email. No retries here — the delivery
worker owns retries, backoff and the log; these functions only report what happened.

Webhook: POST of the JSON payload with
  `X-AssetTag-Timestamp: <unix seconds>`,
  `X-AssetTag-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` (when the channel has a secret),
  `X-AssetTag-Delivery: <delivery id>` (the same on every retry, so receivers can drop duplicates).
Signing the timestamp with the body lets a receiver reject replays of an old request (`verify_signature`).
Config: {"url": "https://…", "headers": {...}, "timeout_s": 10}.

Email (and channel configuration checks) live in `core.alerts.channels`: they need no network library.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

import httpx

from core.alerts.channels import (
    ChannelConfigError,
    SendResult,
    channel_config,
    channel_field,
    check_channel,
    send_email,
)

SIGNATURE_HEADER = "X-AssetTag-Signature"
TIMESTAMP_HEADER = "X-AssetTag-Timestamp"
DELIVERY_HEADER = "X-AssetTag-Delivery"
USER_AGENT = "asset-tag-notifier/1"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """What a receiver does: recompute the signature and refuse stale timestamps."""
    try:
        age = abs((time.time() if now is None else now) - float(timestamp))
    except ValueError:
        return False
    return age <= tolerance_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


def send_webhook(channel: Any, payload: Mapping[str, Any], delivery_id: str | None = None) -> SendResult:
    config = channel_config(channel)
    try:
        check_channel("webhook", config)
    except ChannelConfigError as exc:
        return SendResult(False, str(exc), retryable=False)
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, TIMESTAMP_HEADER: timestamp}
    headers.update(config.get("headers", {}))
    secret = channel_field(channel, "secret")
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
    if delivery_id is not None:
        headers[DELIVERY_HEADER] = delivery_id
    try:
        response = httpx.post(
            config["url"], content=body, headers=headers, timeout=float(config.get("timeout_s", 10))
        )
    except httpx.HTTPError as exc:
        return SendResult(False, f"{type(exc).__name__}: {exc}")
    code = response.status_code
    if 200 <= code < 300:
        return SendResult(True, f"HTTP {code}", status_code=code)
    retryable = code >= 500 or code in (408, 425, 429)
    return SendResult(False, f"HTTP {code}: {response.text[:200]}", retryable=retryable, status_code=code)


SENDERS = {"webhook": send_webhook, "email": send_email}


def send(channel: Any, payload: Mapping[str, Any], delivery_id: str | None = None) -> SendResult:
    kind = channel_field(channel, "kind")
    sender = SENDERS.get(str(kind))
    if sender is None:
        return SendResult(False, f"kind: unknown channel kind {kind!r}", retryable=False)
    return sender(channel, payload, delivery_id)


def send_test(channel: Any) -> SendResult:
    """Send a clearly-marked test notification now (the API's "send test" button); nothing is queued or stored."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    payload = {
        "type": "test",
        "action": "test",
        "message": f"Test notification from asset-tag for channel {channel_field(channel, 'name')!r}",
        "sent_at": now,
        "alert": {
            "severity": "info",
            "message": f"Test notification for channel {channel_field(channel, 'name')!r}",
            "status": "test",
            "opened_at": now,
        },
    }
    return send(channel, payload, delivery_id=f"test-{int(time.time() * 1000)}")
