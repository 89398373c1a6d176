from __future__ import annotations

import pytest

from tests.unit.api.conftest import as_role

pytestmark = pytest.mark.unit


async def test_site_crud_round_trip(client):
    created = await client.post(
        "/api/v1/sites", json={"name": "Depot", "origin_lat": 52.5, "origin_lon": 13.4}
    )
    assert created.status_code == 201, created.text
    site = created.json()
    assert site["timezone"] == "UTC"

    changed = await client.patch(f"/api/v1/sites/{site['id']}", json={"timezone": "Europe/Berlin"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["timezone"] == "Europe/Berlin"
    assert changed.json()["name"] == "Depot"

    listed = (await client.get("/api/v1/sites", params={"q": "dep"})).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == site["id"]

    assert (await client.delete(f"/api/v1/sites/{site['id']}")).status_code == 204
    missing = await client.get(f"/api/v1/sites/{site['id']}")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert site["id"] in missing.json()["detail"]


async def test_bad_site_input_names_the_field(client):
    response = await client.post("/api/v1/sites", json={"name": "X", "origin_lat": 123, "origin_lon": 0})
    assert response.status_code == 400
    assert "origin_lat" in response.json()["detail"]

    bad_zone = await client.post(
        "/api/v1/sites", json={"name": "Y", "origin_lat": 1, "origin_lon": 1, "timezone": "Mars/Olympus"}
    )
    assert bad_zone.status_code == 422
    assert "timezone" in bad_zone.json()["detail"]


async def test_duplicate_site_name_is_a_conflict(client):
    body = {"name": "Twin", "origin_lat": 1, "origin_lon": 1}
    assert (await client.post("/api/v1/sites", json=body)).status_code == 201
    again = await client.post("/api/v1/sites", json=body)
    assert again.status_code == 409
    assert "name" in again.json()["detail"]


async def test_keys_and_roles(client, api_keys):
    assert (await client.get("/api/v1/sites", headers={"X-API-Key": ""})).status_code == 401
    wrong = api_keys["viewer"][:-4] + "abcd"
    assert (await client.get("/api/v1/sites", headers={"X-API-Key": wrong})).status_code == 401
    bearer = {"Authorization": f"Bearer {api_keys['viewer']}"}
    assert (await client.get("/api/v1/sites", headers=bearer)).status_code == 200
    body = {"name": "Nope", "origin_lat": 1, "origin_lon": 1}
    denied = await client.post("/api/v1/sites", json=body, headers=as_role(api_keys, "operator"))
    assert denied.status_code == 403
    assert "admin" in denied.json()["detail"]
    assert (await client.get("/health", headers={"X-API-Key": ""})).status_code == 200
