"""Poison messages of every kind go to the DLQ with a reason and their source offset; the good data flows on."""

from __future__ import annotations

import threading
import time

import msgspec
import pytest

from realtime.pipeline import RealtimePipeline
from realtime.stream import OBSERVATIONS_DLQ
from tests.integration.test_realtime_support import (
    expected_fixes,
    history,
    prepare,
    produce,
    read_topic,
    wait_for,
)

pytestmark = pytest.mark.integration


def test_poison_messages_go_to_the_dlq_with_reasons(integration_settings) -> None:
    settings = integration_settings.model_copy(update={"history_heartbeat_s": 0.5})
    engine, site = prepare(settings, assets=12)
    now_ms = int(time.time() * 1000)
    tag, gateway = site.tag_ids[0], site.gateway_ids[0]
    poison = {
        b"{not json": "not valid JSON",
        b'{"gateway_id": "%s", "rssi": -60, "ts": %d}' % (gateway.encode(), now_ms): "tag_id: missing",
        b'{"tag_id": "%s", "gateway_id": "%s", "rssi": -400, "ts": %d}'
        % (tag.encode(), gateway.encode(), now_ms): "rssi:",
        b'{"tag_id": "%s", "gateway_id": "%s", "rssi": -60, "ts": %d}'
        % (tag.encode(), gateway.encode(), now_ms + 86_400_000): "in the future",
        b'{"tag_id": "%s", "gateway_id": "%s", "rssi": -60, "ts": "2001-01-01T00:00:00Z"}'
        % (tag.encode(), gateway.encode()): "old",
        b'{"tag_id": "%s", "gateway_id": "NOPE", "rssi": -60, "ts": %d}'
        % (tag.encode(), now_ms): "gateway_id: unknown gateway 'NOPE'",
        b'{"tag_id": "XYZ!", "gateway_id": "%s", "rssi": -60, "ts": %d}'
        % (gateway.encode(), now_ms): "tag_id:",
        b'{"tag_id": "%s", "gateway_id": "%s", "rssi": "loud", "ts": %d}'
        % (tag.encode(), gateway.encode(), now_ms): "rssi: expected",
        b'{"gateway_id": "%s", "observations": [{"tag_id": "%s", "rssi": -61, "ts": %d}, {"tag_id": "%s"}]}'
        % (gateway.encode(), tag.encode(), now_ms - 500, tag.encode()): "observations[1].rssi: missing",
    }
    start = float(int(time.time()) - 20)
    # Keyed by the tag, as ingest keys its rows: the good row lands in the tag's partition.
    times = produce(settings, site, start, 15, extra=[(tag.encode(), raw) for raw in poison])
    times[tag].append((now_ms - 500) / 1000.0)  # the good row of the partly bad gateway batch
    expected = expected_fixes(times, settings.window_s, settings.fix_interval_s)

    pipeline = RealtimePipeline(settings)
    stop = threading.Event()
    worker = threading.Thread(target=pipeline.run, args=(stop,))
    worker.start()
    try:
        wait_for(lambda: len(history(engine)) >= len(expected), 30, "the good observations to be located")
    finally:
        stop.set()
        worker.join(30)
    assert set(history(engine)) == expected

    records = [msgspec.json.decode(raw) for raw in read_topic(settings, settings.topic(OBSERVATIONS_DLQ))]
    assert len(records) == len(poison)
    by_original = {}
    for record in records:
        assert record["source_topic"] == settings.topic("ble.observations")
        assert record["source_offset"] >= 0 and record["source_partition"] >= 0
        by_original[msgspec.json.decode(b'"%s"' % record["original"].encode(), type=bytes)] = record["reason"]
    for raw, reason in poison.items():
        if raw.startswith(b'{"gateway_id": "%s", "observations"' % gateway.encode()):
            raw = b'{"tag_id": "%s"}' % tag.encode()  # a bad row of a batch is sent on its own
        assert reason in by_original[raw], (raw, by_original.get(raw))
