"""What WebSocket clients receive: JSON text frames, one envelope per message.

    {"type": "snapshot", "locations": [fix, ...]}            first frame of a locations socket
    {"type": "snapshot", "alerts": [alert, ...]}             first frame of the alerts socket (open alerts)
    {"type": "locations", "locations": [fix, ...]}           fixes the realtime loop just published
    {"type": "alerts", "alerts": [event, ...]}               what the alert stage published, in order

An alert event is `{"type": "alert", "action": "opened|repeated|acknowledged|resolved|escalated", "alert_id",
"alert": {the alert row}, "rule": {...}}`; a zone event is `{"type": "zone_event", "tag_id", "zone_id", "kind",
"ts", ...}` (see realtime.alerting.publish). Snapshot alerts are alert rows, like `event["alert"]`.
A fix follows the location-fix contract of DESIGN.md (tag_id, asset_id, site_id, ts, x, y, accuracy_m, ...).
The realtime consumer may publish one object or a list per message; the envelope always carries a list, built by
byte concatenation (no parse, no re-encode) because it runs once per message on the hot path.

Close codes: 4400 malformed parameter, 4401 no or bad API key, 4404 unknown site/asset, 1013 client too slow (fell `max_backlog` messages
behind and was dropped so it cannot delay others), 1011 server error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from core.live import LiveKeys

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_SLOW = 1013

_encoder = msgspec.json.Encoder()


def _as_list(data: bytes) -> bytes:
    body = data.strip()
    return body if body.startswith(b"[") else b"[" + body + b"]"


class Framer:
    """Wrap channel payloads in the client envelope according to which kind of channel they came from."""

    def __init__(self, keys: LiveKeys) -> None:
        self._locations_prefix = keys.locations_channel("")
        self._alerts_prefix = keys.alerts_channel("")

    def __call__(self, channel: str, data: bytes) -> bytes:
        if channel.startswith(self._locations_prefix):
            return b'{"type":"locations","locations":' + _as_list(data) + b"}"
        if channel.startswith(self._alerts_prefix):
            return b'{"type":"alerts","alerts":' + _as_list(data) + b"}"
        return data


def snapshot_frame(*, locations: Sequence[Any] | None = None, alerts: Sequence[Any] | None = None) -> str:
    body: dict[str, Any] = {"type": "snapshot"}
    if locations is not None:
        body["locations"] = locations
    if alerts is not None:
        body["alerts"] = alerts
    return _encoder.encode(body).decode()


def locations_frame(locations: Sequence[Any]) -> str:
    return _encoder.encode({"type": "locations", "locations": locations}).decode()
