"""After commit: alert changes and zone events out to Kafka (`ble.alerts`, `ble.zone_events`) and to the live
pub/sub channel `alerts.<site>` that WebSocket clients follow. Run only once the database transaction committed
(`StageContext.after_commit`), so nothing is announced that could still be rolled back."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import msgspec

from core.live import LiveKeys
from core.settings import Settings
from realtime.alerting.store import AlertChange
from realtime.live_store import LiveStore
from realtime.stream import ALERTS, StreamProducer

ZONE_EVENTS = "ble.zone_events"
_encode = msgspec.json.Encoder().encode


def publish(
    settings: Settings,
    live: LiveStore | None,
    keys: LiveKeys,
    producer: StreamProducer | None,
    alert_changes: Sequence[AlertChange] = (),
    zone_events: Sequence[dict[str, Any]] = (),
) -> None:
    """Send alert changes and zone-event records (dicts with tag_id, zone_id, kind, ts, site_id, ...)."""
    by_site: dict[object, list[bytes]] = defaultdict(list)
    if producer is not None:
        alerts_topic, zones_topic = settings.topic(ALERTS), settings.topic(ZONE_EVENTS)
    for change in alert_changes:
        data = _encode(change.message())
        if producer is not None:
            producer.produce(alerts_topic, data, str(change.alert.get("subject_key") or "").encode())
        by_site[change.site_id].append(data)
    for record in zone_events:
        data = _encode({"type": "zone_event", **record})
        if producer is not None:
            producer.produce(zones_topic, data, str(record["tag_id"]).encode())
        by_site[record.get("site_id")].append(data)
    if live is not None:
        live.publish_many(
            (keys.alerts_channel(site), data)
            for site, messages in by_site.items()
            if site
            for data in messages
        )
