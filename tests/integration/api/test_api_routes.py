"""API routes against the real PostgreSQL and Redis: CRUD, filters, pagination, validation, roles per route group,
and the current location read from Redis (with PostgreSQL as the fallback)."""

from __future__ import annotations

import json
import socket

import pytest
import redis
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.live import LiveKeys
from core.settings import Settings

pytestmark = pytest.mark.integration


def role(api_keys: dict[str, str], name: str) -> dict[str, str]:
    return {"X-API-Key": api_keys[name]}


async def _site(client, name: str) -> str:
    response = await client.post("/api/v1/sites", json={"name": name, "origin_lat": 48.1, "origin_lon": 11.5})
    assert response.status_code == 201, response.text
    return response.json()["id"]


# (method, path template, body, minimum role) for one representative mutation of each route group.
MUTATIONS = [
    ("post", "/api/v1/sites", {"name": "role-site", "origin_lat": 1, "origin_lon": 1}, "admin"),
    ("post", "/api/v1/gateways", {"gateway_id": "GWROLE", "site_id": "{site}", "x": 1, "y": 1}, "admin"),
    ("post", "/api/v1/alert-rules", {"name": "r", "kind": "battery_low", "params": {}}, "admin"),
    (
        "post",
        "/api/v1/notification-channels",
        {
            "name": "c",
            "kind": "email",
            "config": {"host": "smtp.b.example", "from": "at@b.example", "to": ["a@b.example"]},
        },
        "admin",
    ),
    ("post", "/api/v1/keys", {"name": "k", "role": "viewer"}, "admin"),
    ("post", "/api/v1/assets", {"name": "role-asset", "site_id": "{site}"}, "operator"),
    (
        "post",
        "/api/v1/jobs",
        {"title": "j", "site_id": "{site}", "starts_at": "2024-01-01T00:00:00Z"},
        "operator",
    ),
    (
        "post",
        "/api/v1/geofences",
        {
            "site_id": "{site}",
            "name": "g",
            "geometry": {"type": "Point", "coordinates": [1, 1]},
            "radius_m": 3,
        },
        "operator",
    ),
    ("post", "/api/v1/maintenance/schedules", {"name": "m", "category": "x", "interval_days": 5}, "operator"),
    ("post", "/api/v1/calibration-sessions", {"site_id": "{site}", "name": "cal"}, "operator"),
]
READS = ["/api/v1/sites", "/api/v1/assets", "/api/v1/alerts", "/api/v1/alert-rules", "/api/v1/jobs", "/ready"]
RANK = {"viewer": 0, "operator": 1, "admin": 2}


async def test_roles_per_route_group(client, api_keys):
    site = await _site(client, "Roles")
    for path in READS:
        assert (await client.get(path, headers={"X-API-Key": ""})).status_code == 401, path
        assert (await client.get(path, headers=role(api_keys, "viewer"))).status_code == 200, path
    assert (await client.get("/api/v1/keys", headers=role(api_keys, "operator"))).status_code == 403
    assert (await client.get("/api/v1/audit-log", headers=role(api_keys, "operator"))).status_code == 403
    for method, path, body, minimum in MUTATIONS:
        payload = json.loads(json.dumps(body).replace("{site}", site))
        for name in ("viewer", "operator", "admin"):
            response = await getattr(client, method)(path, json=payload, headers=role(api_keys, name))
            if RANK[name] < RANK[minimum]:
                assert response.status_code == 403, (path, name, response.text)
            else:
                assert response.status_code == 201, (path, name, response.text)
                break  # created once by the first role allowed to


async def test_asset_crud_filters_pagination_and_audit(client):
    site = await _site(client, "Warehouse")
    for i in range(12):
        body = {
            "name": f"Scanner {i:02d}",
            "site_id": site,
            "category": "scanner" if i < 8 else "cart",
            "tag_id": f"C0FFEE{i:02X}",
        }
        assert (await client.post("/api/v1/assets", json=body)).status_code == 201
    first = (
        await client.get(
            "/api/v1/assets", params={"site_id": site, "limit": 5, "sort": "name", "order": "desc"}
        )
    ).json()
    assert first["total"] == 12 and first["items"][0]["name"] == "Scanner 11" and len(first["items"]) == 5
    carts = (await client.get("/api/v1/assets", params={"site_id": site, "category": "cart"})).json()
    assert carts["total"] == 4
    search = (await client.get("/api/v1/assets", params={"q": "c0ffee0a"})).json()
    assert [a["name"] for a in search["items"]] == ["Scanner 10"]
    asset_id = first["items"][0]["id"]
    changed = await client.patch(
        f"/api/v1/assets/{asset_id}", json={"status": "maintenance", "battery_pct": 40}
    )
    assert changed.status_code == 200 and changed.json()["status"] == "maintenance"
    taken = await client.patch(f"/api/v1/assets/{asset_id}", json={"tag_id": "C0FFEE00"})
    assert taken.status_code == 409 and "tag_id" in taken.json()["detail"]
    assert (await client.delete(f"/api/v1/assets/{asset_id}")).status_code == 204
    log = (await client.get("/api/v1/audit-log", params={"entity": "asset", "entity_id": asset_id})).json()
    assert [e["action"] for e in log["items"]] == ["delete", "update", "create"]


async def test_validation_errors_are_4xx_naming_the_field(client):
    site = await _site(client, "Validation")
    cases = [
        ({"name": "x" * 300, "origin_lat": 1, "origin_lon": 1}, "/api/v1/sites", "name"),
        ({"name": "nul\u0000byte", "site_id": site}, "/api/v1/assets", None),
        ({"gateway_id": "GW9", "site_id": site, "x": 1}, "/api/v1/gateways", "y"),
        (
            {"gateway_id": "GW9", "site_id": site, "x": 1, "y": 1, "path_loss_exponent": 9},
            "/api/v1/gateways",
            "path_loss_exponent",
        ),
        (
            {"gateway_id": "GW9", "site_id": site, "x": 1, "y": 1, "sensitivity_dbm": 5},
            "/api/v1/gateways",
            "sensitivity_dbm",
        ),
        ({"name": "a", "site_id": "00000000-0000-0000-0000-000000000000"}, "/api/v1/assets", "site_id"),
        (
            {
                "site_id": site,
                "name": "bow",
                "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [4, 4], [4, 0], [0, 4], [0, 0]]]},
            },
            "/api/v1/geofences",
            "Self-intersection",
        ),
    ]
    for body, path, named in cases:
        response = await client.post(path, json=body)
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        if named:
            assert named in response.json()["detail"], (path, response.json())


async def test_current_location_comes_from_redis_then_postgres(client, api_settings: Settings, db_fix_writer):
    site = await _site(client, "Live")
    asset = (
        await client.post("/api/v1/assets", json={"name": "Tracked", "site_id": site, "tag_id": "BEEF01"})
    ).json()
    path = f"/api/v1/assets/{asset['id']}/location"
    missing = await client.get(path)
    assert missing.status_code == 404 and "not been located" in missing.json()["detail"]

    db_fix_writer("BEEF01", asset["id"], site, x=2.0)
    assert (await client.get(path)).json()["x"] == 2.0

    key = LiveKeys(api_settings.redis_prefix).current_location("BEEF01")
    live = redis.Redis.from_url(api_settings.redis_url)
    try:
        live.set(key, json.dumps({"tag_id": "BEEF01", "asset_id": asset["id"], "x": 7.25, "y": 1.0}))
        assert (await client.get(path)).json()["x"] == 7.25
    finally:
        live.delete(key)
        live.close()


async def test_ready_checks_database_redis_and_stream(client):
    response = await client.get("/ready")
    body = response.json()
    assert response.status_code == 200, body
    assert {c["name"]: c["ok"] for c in body["checks"]} == {"database": True, "redis": True, "stream": True}
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200 and "assettag_api_requests_total" in metrics.text


async def test_current_location_falls_back_to_postgres_when_redis_is_down(
    api_settings: Settings, api_keys: dict[str, str], db_fix_writer
) -> None:
    with socket.socket() as sock:  # a port nobody listens on: Redis "down"
        sock.bind(("127.0.0.1", 0))
        down = api_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{sock.getsockname()[1]}/0"})
    async with AsyncTestClient(app=create_app(down)) as client:
        client.headers["X-API-Key"] = api_keys["admin"]
        site = await _site(client, "Redis down")
        asset = (
            await client.post("/api/v1/assets", json={"name": "Kept", "site_id": site, "tag_id": "BEEF02"})
        ).json()
        db_fix_writer("BEEF02", asset["id"], site, x=3.5)
        path = f"/api/v1/assets/{asset['id']}/location"
        for _ in range(3):  # the first read finds Redis down; the next ones skip it
            response = await client.get(path)
            assert response.status_code == 200, response.text
            assert response.json()["x"] == 3.5
