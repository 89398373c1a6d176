from __future__ import annotations

import datetime
import json
import uuid

import pytest

from core.db.models import Alert, CurrentLocation, LocationHistory, ZoneEvent
from core.live import LiveKeys, MemoryHub
from tests.unit.api.conftest import as_role

pytestmark = pytest.mark.unit

T0 = datetime.datetime(2024, 5, 1, 8, 0, tzinfo=datetime.UTC)


async def _site(client) -> str:
    response = await client.post("/api/v1/sites", json={"name": "Yard", "origin_lat": 50, "origin_lon": 8})
    return response.json()["id"]


async def _asset(client, site_id, name="Pump 7", tag="ac:23:3f:a0:01:02", **extra) -> dict:
    response = await client.post(
        "/api/v1/assets", json={"name": name, "tag_id": tag, "site_id": site_id, "category": "pump", **extra}
    )
    assert response.status_code == 201, response.text
    return response.json()


def _fix(tag_id, asset_id, site_id, ts, x, y):
    return dict(
        tag_id=tag_id,
        asset_id=asset_id,
        site_id=site_id,
        ts=ts,
        x=x,
        y=y,
        lat=None,
        lon=None,
        floor=0,
        accuracy_m=1.5,
        confidence=0.8,
        method="trilateration",
        gateway_count=3,
    )


async def test_asset_search_filters_and_pagination(client):
    site = await _site(client)
    for i in range(7):
        await _asset(
            client, site, name=f"Trolley {i}", tag=f"AA00{i:02d}", category="trolley" if i % 2 else "cart"
        )
    page = (await client.get("/api/v1/assets", params={"limit": 3, "offset": 3, "sort": "name"})).json()
    assert page["total"] == 7 and [a["name"] for a in page["items"]] == [
        "Trolley 3",
        "Trolley 4",
        "Trolley 5",
    ]
    carts = (await client.get("/api/v1/assets", params={"category": "cart"})).json()
    assert carts["total"] == 4
    by_tag = (await client.get("/api/v1/assets", params={"tag_id": "aa:00:05"})).json()
    assert [a["name"] for a in by_tag["items"]] == ["Trolley 5"]
    bad_sort = await client.get("/api/v1/assets", params={"sort": "password"})
    assert bad_sort.status_code == 400 and "sort" in bad_sort.json()["detail"]
    bad_limit = await client.get("/api/v1/assets", params={"limit": 0})
    assert bad_limit.status_code == 400 and "limit" in bad_limit.json()["detail"]


async def test_bad_tag_id_is_422_naming_tag_id(client):
    response = await client.post("/api/v1/assets", json={"name": "X", "tag_id": "not-hex!"})
    assert response.status_code == 422
    assert "tag_id" in response.json()["detail"]


async def test_viewer_cannot_edit_assets_but_operator_can(client, api_keys):
    site = await _site(client)
    asset = await _asset(client, site)
    path = f"/api/v1/assets/{asset['id']}"
    assert (
        await client.patch(path, json={"status": "lost"}, headers=as_role(api_keys, "viewer"))
    ).status_code == 403
    ok = await client.patch(path, json={"status": "lost"}, headers=as_role(api_keys, "operator"))
    assert ok.status_code == 200 and ok.json()["status"] == "lost"


async def test_location_prefers_live_store_then_database(client, db):
    site = await _site(client)
    asset = await _asset(client, site)
    path = f"/api/v1/assets/{asset['id']}/location"
    assert (await client.get(path)).status_code == 404

    db.add(CurrentLocation(**_fix("AC233FA00102", asset["id"], site, T0, 3.0, 4.0)))
    db.commit()
    stored = await client.get(path)
    assert stored.status_code == 200 and stored.json()["x"] == 3.0

    live = {"tag_id": "AC233FA00102", "x": 9.5, "y": 1.0, "ts": "2024-05-01T08:00:05Z"}
    MemoryHub.shared().set_many([(LiveKeys("").current_location("AC233FA00102"), json.dumps(live).encode())])
    try:
        assert (await client.get(path)).json()["x"] == 9.5
    finally:
        MemoryHub.shared().delete(LiveKeys("").current_location("AC233FA00102"))


async def test_history_downsamples_to_one_point_per_interval(client, db):
    site = await _site(client)
    asset = await _asset(client, site)
    for second in range(0, 600, 10):  # a fix every 10 s for 10 minutes
        db.add(
            LocationHistory(
                **_fix("AC233FA00102", asset["id"], site, T0 + datetime.timedelta(seconds=second), second, 0)
            )
        )
    db.commit()
    params = {"from": "2024-05-01T08:00:00Z", "to": "2024-05-01T08:10:00Z"}
    full = (await client.get(f"/api/v1/assets/{asset['id']}/history", params=params)).json()
    assert full["count"] == 60
    coarse = (
        await client.get(f"/api/v1/assets/{asset['id']}/history", params={**params, "every": "1m"})
    ).json()
    assert coarse["count"] == 10
    assert [p["x"] for p in coarse["points"]][:2] == [50.0, 110.0]  # last fix of each minute
    bad = await client.get(f"/api/v1/assets/{asset['id']}/history", params={"every": "fortnightly"})
    assert bad.status_code == 422 and "every" in bad.json()["detail"]


async def test_alert_acknowledge_resolve_comment_and_filters(client, db, api_keys):
    site = await _site(client)
    asset = await _asset(client, site)
    for severity in ("critical", "info"):
        db.add(
            Alert(
                kind="left_zone",
                subject_type="asset",
                subject_id=f"{asset['id']}-{severity}",
                asset_id=asset["id"],
                site_id=site,
                severity=severity,
                message=f"{severity} alert",
            )
        )
    db.commit()
    critical = (await client.get("/api/v1/alerts", params={"severity": "critical", "site_id": site})).json()
    assert critical["total"] == 1
    alert_id = critical["items"][0]["id"]

    viewer = as_role(api_keys, "viewer")
    assert (await client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=viewer)).status_code == 403
    operator = as_role(api_keys, "operator")
    acked = await client.post(
        f"/api/v1/alerts/{alert_id}/acknowledge", json={"comment": "on my way"}, headers=operator
    )
    assert acked.status_code == 200, acked.text
    assert acked.json()["status"] == "acknowledged" and "test-operator" in acked.json()["acknowledged_by"]
    assert acked.json()["comments"][0]["body"] == "on my way"
    resolved = await client.post(f"/api/v1/alerts/{alert_id}/resolve", headers=operator)
    assert resolved.json()["status"] == "resolved"
    assert (await client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=operator)).status_code == 409

    open_for_asset = (
        await client.get(f"/api/v1/assets/{asset['id']}/alerts", params={"status": "open"})
    ).json()
    assert open_for_asset["total"] == 1 and open_for_asset["items"][0]["severity"] == "info"


async def test_zone_events_say_why_and_on_what_evidence(client, db):
    site = await _site(client)
    asset = await _asset(client, site)
    square = {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]}
    bay = (
        await client.post("/api/v1/geofences", json={"site_id": site, "name": "Bay", "geometry": square})
    ).json()
    common = dict(tag_id="AC233FA00102", asset_id=uuid.UUID(asset["id"]), geofence_id=uuid.UUID(bay["id"]))
    db.add(ZoneEvent(**common, kind="enter", ts=T0))  # stored before events carried their evidence
    db.add(
        ZoneEvent(
            **common,
            kind="exit",
            ts=T0 + datetime.timedelta(minutes=5),
            dwell_s=300.0,
            reason="outside_margin",
            depth_m=-1.24,
            accuracy_m=1.1,
            margin_m=1.1,
        )
    )
    db.commit()
    page = (await client.get(f"/api/v1/assets/{asset['id']}/zone-events", params={"order": "asc"})).json()
    old, new = page["items"]
    assert (old["kind"], old["reason"], old["depth_m"]) == ("enter", None, None)
    assert {k: new[k] for k in ("kind", "reason", "depth_m", "accuracy_m", "margin_m")} == {
        "kind": "exit", "reason": "outside_margin", "depth_m": -1.24, "accuracy_m": 1.1, "margin_m": 1.1,
    }  # fmt: skip
    schema = (await client.get("/docs/openapi.json")).json()["components"]["schemas"]
    reason = schema["ZoneEvent"]["properties"]["reason"]
    assert "entered_other" in reason["description"]  # the vocabulary is in the API docs
