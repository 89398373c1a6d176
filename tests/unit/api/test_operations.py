"""Rules, channels, jobs, maintenance, calibration, keys and the audit log through the API."""

from __future__ import annotations

import datetime
import math

import pytest

from core.db.models import NotificationDelivery
from tests.unit.api.conftest import as_role

pytestmark = pytest.mark.unit


async def _site(client) -> str:
    return (
        await client.post("/api/v1/sites", json={"name": "Plant", "origin_lat": 50, "origin_lon": 8})
    ).json()["id"]


async def _asset(client, site, name, category="forklift", tag=None) -> dict:
    body = {"name": name, "site_id": site, "category": category}
    if tag:
        body["tag_id"] = tag
    response = await client.post("/api/v1/assets", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_alert_rules_are_validated_by_the_rules_engine_and_admin_only(client, api_keys):
    site = await _site(client)
    rule = {"name": "Low battery", "kind": "battery_low", "site_id": site, "params": {}}
    operator = await client.post("/api/v1/alert-rules", json=rule, headers=as_role(api_keys, "operator"))
    assert operator.status_code == 403
    created = await client.post("/api/v1/alert-rules", json=rule)
    assert created.status_code == 201, created.text
    bad_kind = await client.post("/api/v1/alert-rules", json={**rule, "kind": "gremlins"})
    assert bad_kind.status_code == 422 and "kind" in bad_kind.json()["detail"]
    bad_param = await client.post("/api/v1/alert-rules", json={**rule, "params": {"colour": 3}})
    assert bad_param.status_code == 422 and "params" in bad_param.json()["detail"]
    listed = (
        await client.get(
            "/api/v1/alert-rules", params={"kind": "battery_low"}, headers=as_role(api_keys, "viewer")
        )
    ).json()
    assert listed["total"] == 1


async def test_channel_secret_is_write_only_and_send_test_queues_an_outbox_row(client, db):
    body = {
        "name": "ops hook",
        "kind": "webhook",
        "config": {"url": "https://example.invalid/hook"},
        "secret": "s3cret-value",
    }
    created = await client.post("/api/v1/notification-channels", json=body)
    assert created.status_code == 201, created.text
    channel = created.json()
    assert channel["has_secret"] is True and "secret" not in channel
    bad = await client.post(
        "/api/v1/notification-channels", json={**body, "name": "x", "config": {"url": "ftp://x"}}
    )
    assert bad.status_code == 422 and "config.url" in bad.json()["detail"]

    queued = await client.post(f"/api/v1/notification-channels/{channel['id']}/test")
    assert queued.status_code == 202 and queued.json()["status"] == "pending"
    rows = db.query(NotificationDelivery).all()
    assert len(rows) == 1 and rows[0].payload["type"] == "test"
    deliveries = (await client.get(f"/api/v1/notification-channels/{channel['id']}/deliveries")).json()
    assert deliveries["total"] == 1


async def test_job_lifecycle_and_assignment(client):
    site = await _site(client)
    a, b = await _asset(client, site, "Lift A"), await _asset(client, site, "Lift B")
    job = await client.post(
        "/api/v1/jobs",
        json={
            "title": "Unload",
            "site_id": site,
            "starts_at": "2024-05-01T08:00:00Z",
            "asset_ids": [a["id"]],
        },
    )
    assert job.status_code == 201, job.text
    job_id = job.json()["id"]
    assigned = await client.post(f"/api/v1/jobs/{job_id}/assets", json={"asset_ids": [b["id"], a["id"]]})
    assert sorted(x["name"] for x in assigned.json()["assets"]) == ["Lift A", "Lift B"]
    removed = await client.delete(f"/api/v1/jobs/{job_id}/assets/{a['id']}")
    assert [x["name"] for x in removed.json()["assets"]] == ["Lift B"]
    assert (await client.put(f"/api/v1/jobs/{job_id}/status", json={"status": "active"})).json()[
        "status"
    ] == "active"
    assert (await client.put(f"/api/v1/jobs/{job_id}/status", json={"status": "done"})).status_code == 200
    reopen = await client.put(f"/api/v1/jobs/{job_id}/status", json={"status": "active"})
    assert reopen.status_code == 409 and "done" in reopen.json()["detail"]
    naive = await client.post(
        "/api/v1/jobs", json={"title": "T", "site_id": site, "starts_at": "2024-05-01T08:00:00"}
    )
    assert naive.status_code == 400 and "starts_at" in naive.json()["detail"]
    backwards = await client.post(
        "/api/v1/jobs",
        json={
            "title": "T",
            "site_id": site,
            "starts_at": "2024-05-02T08:00:00Z",
            "ends_at": "2024-05-01T08:00:00Z",
        },
    )
    assert backwards.status_code == 422 and "ends_at" in backwards.json()["detail"]


async def test_maintenance_due_and_overdue(client):
    site = await _site(client)
    lift = await _asset(client, site, "Lift A")
    await _asset(client, site, "Lift B")
    old = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=40)).isoformat()
    schedule = await client.post(
        "/api/v1/maintenance/schedules",
        json={"name": "Monthly check", "category": "forklift", "interval_days": 30},
    )
    assert schedule.status_code == 201, schedule.text
    schedule_id = schedule.json()["id"]
    # Lift A was serviced 40 days ago (overdue); Lift B has never been (baseline: the schedule, due in 30 days).
    record = await client.post(
        "/api/v1/maintenance/records",
        json={"asset_id": lift["id"], "schedule_id": schedule_id, "performed_at": old},
    )
    assert record.status_code == 201, record.text
    due = (await client.get("/api/v1/maintenance/due", params={"within_days": 7})).json()
    assert [(i["asset_name"], i["overdue"]) for i in due["items"]] == [("Lift A", True)]
    later = (await client.get("/api/v1/maintenance/due", params={"within_days": 45})).json()
    assert [(i["asset_name"], i["overdue"]) for i in later["items"]] == [("Lift A", True), ("Lift B", False)]
    no_scope = await client.post("/api/v1/maintenance/schedules", json={"name": "x", "interval_days": 3})
    assert no_scope.status_code == 422 and "asset_id" in no_scope.json()["detail"]


async def test_missing_mart_is_404_with_a_clear_message(client):
    response = await client.get("/api/v1/analytics/marts/zone_dwell")
    assert response.status_code == 404
    assert "zone_dwell" in response.json()["detail"] and "materialised" in response.json()["detail"]
    assert (await client.get("/api/v1/analytics/marts")).json() == []


async def test_calibration_session_fits_path_loss(client):
    site = await _site(client)
    gateway = await client.post(
        "/api/v1/gateways", json={"gateway_id": "GW1", "site_id": site, "x": 0, "y": 0}
    )
    assert gateway.status_code == 201, gateway.text
    session = (
        await client.post("/api/v1/calibration-sessions", json={"site_id": site, "name": "walk 1"})
    ).json()
    t0 = datetime.datetime(2024, 5, 1, 8, tzinfo=datetime.UTC)
    for i, distance in enumerate([1, 2, 4, 8, 16]):
        rssi = -60 - 25 * math.log10(distance)  # A = -60, n = 2.5
        point = await client.post(
            f"/api/v1/calibration-sessions/{session['id']}/points",
            json={
                "tag_id": "AB01",
                "x": distance,
                "y": 0,
                "window_start": (t0 + datetime.timedelta(minutes=i)).isoformat(),
                "window_end": (t0 + datetime.timedelta(minutes=i, seconds=30)).isoformat(),
                "observations": {"GW1": {"median_rssi": rssi, "count": 30}},
            },
        )
        assert point.status_code == 201, point.text
    stopped = (await client.post(f"/api/v1/calibration-sessions/{session['id']}/stop")).json()
    assert stopped["status"] == "fitted"
    fit = stopped["result"]["GW1"]
    assert fit["samples"] == 5 and fit["ref_rssi_1m_dbm"] == pytest.approx(-60, abs=3)
    late = await client.post(
        f"/api/v1/calibration-sessions/{session['id']}/points",
        json={
            "tag_id": "AB01",
            "x": 1,
            "y": 1,
            "window_start": t0.isoformat(),
            "window_end": (t0 + datetime.timedelta(seconds=5)).isoformat(),
        },
    )
    assert late.status_code == 409


async def test_keys_issue_revoke_and_audit_log(client, api_keys):
    issued = await client.post("/api/v1/keys", json={"name": "integrator", "role": "viewer"})
    assert issued.status_code == 201
    secret = issued.json()["key"]
    assert (await client.get("/api/v1/sites", headers={"X-API-Key": secret})).status_code == 200
    assert (await client.get("/api/v1/keys", headers={"X-API-Key": secret})).status_code == 403
    assert (await client.delete(f"/api/v1/keys/{issued.json()['id']}")).status_code == 204
    assert (await client.get("/api/v1/sites", headers={"X-API-Key": secret})).status_code == 401
    listed = (await client.get("/api/v1/keys")).json()
    assert all("key" not in k and "key_hash" not in k for k in listed["items"])

    await _site(client)
    log = (await client.get("/api/v1/audit-log", params={"entity": "site"})).json()
    assert (
        log["total"] == 1
        and log["items"][0]["action"] == "create"
        and "test-admin" in log["items"][0]["actor"]
    )
    revocations = (await client.get("/api/v1/audit-log", params={"entity": "api_key"})).json()
    assert [e["action"] for e in revocations["items"]] == ["revoke", "create"]
