"""Acknowledging or resolving an alert through the API announces it on `alerts.<site>` like the realtime
engine does, after the change is stored, and only when something changed."""

from __future__ import annotations

import json

import pytest

from core.db.models import Alert, AlertRule
from core.live import LiveKeys, MemoryHub
from core.settings import Settings
from tests.unit.api.conftest import as_role

pytestmark = pytest.mark.unit


async def test_acknowledge_and_resolve_are_published_on_the_sites_alert_channel(
    client, db, api_keys, migrated: Settings
):
    site = (
        await client.post("/api/v1/sites", json={"name": "Dock", "origin_lat": 50, "origin_lon": 8})
    ).json()
    rule = AlertRule(name="Battery low", kind="battery_low", params={"threshold_pct": 20}, severity="warning")
    db.add(rule)
    db.flush()
    alert = Alert(
        kind="battery_low", subject_type="asset", subject_id="tag-1", site_id=site["id"], severity="warning",
        message="battery at 12 %", rule_id=rule.id,
    )  # fmt: skip
    db.add(alert)
    db.commit()
    received: list[tuple[str, dict]] = []
    unsubscribe = MemoryHub.shared().subscribe(
        LiveKeys(migrated.redis_prefix).all_alerts_pattern(),
        lambda channel, data: received.append((channel, json.loads(data))),
    )
    operator = as_role(api_keys, "operator")
    try:
        path = f"/api/v1/alerts/{alert.id}"
        assert (await client.post(f"{path}/acknowledge", headers=operator)).status_code == 200
        assert (await client.post(f"{path}/acknowledge", headers=operator)).status_code == 200  # no change
        assert (await client.post(f"{path}/resolve", headers=operator)).status_code == 200
        assert (await client.post(f"{path}/acknowledge", headers=operator)).status_code == 409
    finally:
        unsubscribe()

    channel = LiveKeys(migrated.redis_prefix).alerts_channel(site["id"])
    assert [(c, m["action"], m["status"]) for c, m in received] == [
        (channel, "acknowledged", "acknowledged"),
        (channel, "resolved", "resolved"),
    ]
    acked, resolved = (m for _, m in received)
    assert acked["type"] == "alert" and acked["alert_id"] == str(alert.id)
    assert acked["alert"]["acknowledged_by"].startswith("key:test-operator")
    assert acked["rule"] == {"id": str(rule.id), "name": "Battery low", "kind": "battery_low"}
    assert resolved["resolved_at"] is not None
