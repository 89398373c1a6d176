from __future__ import annotations

import datetime

import pytest

from core.db.models import CurrentLocation

pytestmark = pytest.mark.unit

SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]}


async def _site(client) -> str:
    return (
        await client.post("/api/v1/sites", json={"name": "Hall", "origin_lat": 50, "origin_lon": 8})
    ).json()["id"]


async def test_polygon_and_circle_round_trip_as_geojson(client):
    site = await _site(client)
    square = await client.post("/api/v1/geofences", json={"site_id": site, "name": "Bay", "geometry": SQUARE})
    assert square.status_code == 201, square.text
    assert square.json()["geometry"] == SQUARE and square.json()["shape"] == "polygon"
    circle = await client.post(
        "/api/v1/geofences",
        json={
            "site_id": site,
            "name": "Door",
            "geometry": {"type": "Point", "coordinates": [5, 5]},
            "radius_m": 2,
        },
    )
    assert circle.status_code == 201 and circle.json()["radius_m"] == 2
    collection = (await client.get("/api/v1/geofences/geojson", params={"site_id": site})).json()
    assert collection["type"] == "FeatureCollection"
    assert {f["properties"]["name"] for f in collection["features"]} == {"Bay", "Door"}


@pytest.mark.parametrize(
    ("geometry", "reason"),
    [
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [10, 10], [10, 0], [0, 10], [0, 0]]]},
            "Self-intersection",
        ),
        ({"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10]]]}, "not closed"),
        ({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}, "geometry.type"),
        ({"type": "Point", "coordinates": [1, 1]}, "radius_m"),
    ],
)
async def test_invalid_geometry_is_422_with_reason(client, geometry, reason):
    site = await _site(client)
    response = await client.post(
        "/api/v1/geofences", json={"site_id": site, "name": "Bad", "geometry": geometry}
    )
    assert response.status_code == 422
    assert reason in response.json()["detail"]


async def test_site_locations_inside_geofence_and_near_point(client, db):
    site = await _site(client)
    fence = (
        await client.post("/api/v1/geofences", json={"site_id": site, "name": "Bay", "geometry": SQUARE})
    ).json()
    now = datetime.datetime.now(datetime.UTC)
    for tag, (x, y) in {"A1": (2, 2), "A2": (8, 8), "A3": (30, 30)}.items():
        db.add(
            CurrentLocation(
                tag_id=tag,
                site_id=site,
                ts=now,
                x=x,
                y=y,
                floor=0,
                accuracy_m=1,
                confidence=0.9,
                method="centroid",
                gateway_count=3,
            )
        )
    db.commit()
    path = f"/api/v1/sites/{site}/locations"
    assert (await client.get(path)).json()["count"] == 3
    inside = (await client.get(path, params={"geofence_id": fence["id"]})).json()
    assert sorted(f["tag_id"] for f in inside["items"]) == ["A1", "A2"]
    near = (await client.get(path, params={"near_x": 1, "near_y": 1, "radius_m": 12})).json()
    assert [f["tag_id"] for f in near["items"]] == ["A1", "A2"]
    triangle = (await client.get(path, params={"polygon": "0,0;5,0;0,5"})).json()
    assert [f["tag_id"] for f in triangle["items"]] == ["A1"]
    half = await client.get(path, params={"near_x": 1})
    assert half.status_code == 422 and "near_y" in half.json()["detail"]
