"""An acknowledge through the API reaches Redis pub/sub on `alerts.<site>`, where /ws/alerts listens."""

from __future__ import annotations

import json
import time

import pytest
import redis

from core.db.engine import make_engine, session_factory
from core.db.models import Alert
from core.live import LiveKeys
from core.settings import Settings

pytestmark = pytest.mark.integration


async def test_acknowledge_is_published_on_redis(client, api_settings: Settings, api_keys):
    site = (await client.post("/api/v1/sites", json={"name": "Pub", "origin_lat": 1, "origin_lon": 1})).json()
    engine = make_engine(api_settings.database_url)
    with session_factory(engine)() as session:
        alert = Alert(
            kind="left_zone", subject_type="asset", subject_id="pub-1", site_id=site["id"], severity="critical",
            message="left the yard",
        )  # fmt: skip
        session.add(alert)
        session.commit()
        alert_id = str(alert.id)
    engine.dispose()
    subscriber = redis.Redis.from_url(api_settings.redis_url).pubsub()
    channel = LiveKeys(api_settings.redis_prefix).alerts_channel(site["id"])
    subscriber.subscribe(channel)
    try:
        assert subscriber.get_message(timeout=2)["type"] == "subscribe"
        response = await client.post(
            f"/api/v1/alerts/{alert_id}/acknowledge", headers={"X-API-Key": api_keys["operator"]}
        )
        assert response.status_code == 200, response.text
        deadline, message = time.monotonic() + 5, None
        while message is None and time.monotonic() < deadline:
            message = subscriber.get_message(timeout=0.5)
        assert message is not None, "nothing published"
        event = json.loads(message["data"])
        assert (event["action"], event["alert_id"], event["status"]) == (
            "acknowledged",
            alert_id,
            "acknowledged",
        )
    finally:
        subscriber.close()
