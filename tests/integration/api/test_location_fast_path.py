"""The raw-ASGI fast path for GET /api/v1/assets/{id}/location answers exactly as the Litestar route does:
same status, headers and bytes for hits, and every error (401, 404, RFC 9457 bodies) still comes from Litestar;
the route stays documented and counted in the metrics under the same label."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import redis
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.assets.location_fast_path import ROUTE_TEMPLATE
from api.metrics import REQUESTS
from core.live import LiveKeys
from core.settings import Settings

pytestmark = pytest.mark.integration


class _CountingApp:
    """Wraps Litestar's own handler to tell which requests reached it."""

    def __init__(self, app) -> None:
        self.app, self.calls = app, 0

    async def __call__(self, scope, receive, send) -> None:
        self.calls += 1
        await self.app(scope, receive, send)


def _counted() -> dict[int, float]:
    """How many answers of this route the metrics have counted, per status."""
    return {
        status: REQUESTS.labels("GET", ROUTE_TEMPLATE, str(status))._value.get()
        for status in (200, 401, 404, 500)
    }


async def test_fast_path_answers_like_the_litestar_route(api_settings: Settings, api_keys, db_fix_writer):
    fast_app, plain_app = create_app(api_settings), create_app(api_settings, fast_path=False)
    litestar_behind_fast = _CountingApp(fast_app.asgi_handler.app)
    fast_app.asgi_handler.app = litestar_behind_fast
    admin = {"X-API-Key": api_keys["admin"]}
    viewer = {"X-API-Key": api_keys["viewer"]}
    live = redis.Redis.from_url(api_settings.redis_url)
    keys = LiveKeys(api_settings.redis_prefix)
    async with AsyncTestClient(app=fast_app) as fast, AsyncTestClient(app=plain_app) as plain:
        site = (await plain.post("/api/v1/sites", json={"name": "fast", "origin_lat": 1, "origin_lon": 1}, headers=admin)).json()["id"]  # fmt: skip
        new_asset = {"name": "Live", "site_id": site, "tag_id": "FA5701"}
        tracked = (await plain.post("/api/v1/assets", json=new_asset, headers=admin)).json()["id"]
        stored_only = (await plain.post("/api/v1/assets", json={**new_asset, "name": "Stored", "tag_id": "FA5702"}, headers=admin)).json()["id"]  # fmt: skip
        untagged = (await plain.post("/api/v1/assets", json={"name": "Untagged", "site_id": site}, headers=admin)).json()["id"]  # fmt: skip
        unlocated = (await plain.post("/api/v1/assets", json={**new_asset, "name": "Unseen", "tag_id": "FA5703"}, headers=admin)).json()["id"]  # fmt: skip
        fix = {"tag_id": "FA5701", "asset_id": tracked, "site_id": site, "x": 3.5, "y": 1.25, "zone_ids": []}
        live.set(keys.current_location("FA5701"), json.dumps(fix, separators=(",", ":")))
        db_fix_writer("FA5702", stored_only, site, x=9.0)
        try:
            cases = [
                (f"/api/v1/assets/{tracked}/location", viewer, 200),
                (
                    f"/api/v1/assets/{tracked}/location",
                    {"Authorization": f"Bearer {api_keys['viewer']}"},
                    200,
                ),
                (f"/api/v1/assets/{stored_only}/location", viewer, 200),
                (f"/api/v1/assets/{tracked}/location", {}, 401),
                (f"/api/v1/assets/{tracked}/location", {"X-API-Key": "atk_nope"}, 401),
                (f"/api/v1/assets/{tracked}/location", {"X-API-Key": api_keys["viewer"][:-3] + "zzz"}, 401),
                (f"/api/v1/assets/{uuid.uuid4()}/location", viewer, 404),
                (f"/api/v1/assets/{untagged}/location", viewer, 404),
                (f"/api/v1/assets/{unlocated}/location", viewer, 404),
                (f"/api/v1/assets/{tracked.replace('-', '')}/location", viewer, 200),
                (f"/api/v1/assets/{tracked}/location?fields=x", viewer, 200),
            ]
            first = _counted()
            for path, headers, status in cases:
                expected = await plain.get(path, headers=headers)
                answer = await fast.get(path, headers=headers)
                assert (answer.status_code, answer.content) == (expected.status_code, expected.content), path
                assert answer.status_code == status, (path, answer.text)
                assert dict(answer.headers) == dict(expected.headers), path
                if status != 200:
                    assert answer.headers["content-type"] == "application/problem+json", path
            await asyncio.sleep(0.1)  # Litestar's middleware counts a request after its response is sent
            # Both apps count every answer, with its status, under the one label Litestar's router gives the route.
            counted = {status: n - first[status] for status, n in _counted().items()}
            assert counted == {
                s: 2 * sum(status == s for _, _, status in cases) for s in (200, 401, 404, 500)
            }
            assert json.loads(answer.content)["x"] == 3.5
            # Only the three live hits with a canonical id skipped Litestar; everything else went through it.
            assert litestar_behind_fast.calls == len(cases) - 3
        finally:
            live.delete(keys.current_location("FA5701"))
            live.close()
        schema = (await fast.get("/docs/openapi.json", headers=admin)).json()
        operation = schema["paths"]["/api/v1/assets/{id}/location"]["get"]
        assert operation["operationId"] == "getAssetLocation"
        assert "LocationFix" in json.dumps(operation["responses"]["200"])
