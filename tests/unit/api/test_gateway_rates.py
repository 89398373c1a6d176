"""A gateway's observation rate comes from the newest hour of raw observations the lakehouse landed."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from api.gateways.rates import ObservationRates
from core.settings import Settings
from lakehouse.layout import RAW_OBSERVATIONS, Partition
from lakehouse.schemas import OBSERVATIONS
from lakehouse.store import Lakehouse

pytestmark = pytest.mark.unit


def _land(lakehouse: Lakehouse, hour: dt.datetime, heard: dict[str, int]) -> None:
    rows = [(gateway, i) for gateway, count in heard.items() for i in range(count)]
    ts = [hour + dt.timedelta(seconds=i % 3600) for _, i in rows]
    table = pa.table(
        {
            "tag_id": ["AA01"] * len(rows),
            "gateway_id": [gateway for gateway, _ in rows],
            "ts": ts,
            "rssi": [-60] * len(rows),
            "tx_power": [None] * len(rows),
            "battery": [None] * len(rows),
            "temperature": [None] * len(rows),
            "seq": [None] * len(rows),
            "kafka_partition": [0] * len(rows),
            "kafka_offset": list(range(len(rows))),
            "kafka_ts": ts,
        },
        schema=OBSERVATIONS,
    )
    lakehouse.write_partition(RAW_OBSERVATIONS, Partition.of(hour, hourly=True), table)


async def test_gateway_status_reports_the_newest_landed_hours_rate(client, migrated: Settings):
    site = (
        await client.post("/api/v1/sites", json={"name": "Rates", "origin_lat": 1, "origin_lon": 1})
    ).json()
    gateway = (
        await client.post(
            "/api/v1/gateways", json={"gateway_id": "GW7", "site_id": site["id"], "x": 0, "y": 0}
        )
    ).json()
    status = await client.get(f"/api/v1/gateways/{gateway['id']}/status")
    assert status.status_code == 200, status.text
    assert status.json()["observation_rate_per_s"] is None  # nothing landed yet: unknown, not zero

    lakehouse = Lakehouse.from_settings(migrated)
    last_hour = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
    _land(lakehouse, last_hour - dt.timedelta(hours=1), {"GW7": 100})
    _land(lakehouse, last_hour, {"GW7": 7200, "GW8": 360})
    rates = ObservationRates(lakehouse)
    rate = await rates.rate("GW7")
    assert rate is not None and rate.per_s == pytest.approx(2.0)  # 7,200 in the newest full hour
    assert (rate.start, rate.end) == (last_hour, last_hour + dt.timedelta(hours=1))
    assert (await rates.rate("GW9")).per_s == 0.0  # landed, but this gateway was silent

    client.app.state.resources.__dict__.pop("observation_rates", None)  # the app read "nothing" a moment ago
    body = (await client.get(f"/api/v1/gateways/{gateway['id']}/status")).json()
    assert body["observation_rate_per_s"] == pytest.approx(2.0)
    assert body["observation_rate_from"].startswith(last_hour.strftime("%Y-%m-%dT%H:00:00"))
