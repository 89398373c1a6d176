"""kill -9 the consumer mid-stream several times: every observation's effect is there exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.integration.test_realtime_support import expected_fixes, history, prepare, produce, wait_for

pytestmark = pytest.mark.integration


def _consumer(settings, log_path) -> subprocess.Popen:
    env = {
        **os.environ,
        "ASSET_TAG_DATABASE_URL": settings.database_url,
        "ASSET_TAG_REDIS_URL": settings.redis_url,
        "ASSET_TAG_REDIS_PREFIX": settings.redis_prefix,
        "ASSET_TAG_STREAM_URL": settings.stream_url,
        "ASSET_TAG_TOPIC_PREFIX": settings.topic_prefix,
        "ASSET_TAG_CONSUMER_GROUP": settings.consumer_group,
        "ASSET_TAG_HISTORY_HEARTBEAT_S": "0.5",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "core.cli",
            "consume",
            "--max-batch",
            "300",
            "--metrics-port",
            "0",
            "--stages",
            "realtime.stages:no_stages",
        ],
        env=env,
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
    )


def test_kill_9_and_restart_loses_and_duplicates_nothing(integration_settings, tmp_path) -> None:
    settings = integration_settings.model_copy(update={"history_heartbeat_s": 0.5})
    engine, site = prepare(settings)
    start = float(int(time.time()) - 50)
    produced: dict[str, dict] = {}
    producer = threading.Thread(
        target=lambda: produced.update(times=produce(settings, site, start, 40, pace_s=1.0))
    )
    producer.start()
    log = tmp_path / "consume.log"

    kills = 0
    for pause in (0.2, 0.5, 0.1):
        before = len(history(engine))
        process = _consumer(settings, log)
        # Kill it shortly after it has made progress: somewhere between writes and offset commits.
        try:
            wait_for(
                lambda before=before: len(history(engine)) > before, 120, "the consumer to make progress"
            )
        except AssertionError:
            process.kill()
            raise AssertionError(log.read_text()[-3000:]) from None
        time.sleep(pause)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        kills += 1
    producer.join(60)
    expected = expected_fixes(produced["times"], settings.window_s, settings.fix_interval_s)
    assert 0 < len(history(engine)) < len(expected)

    process = _consumer(settings, log)
    try:
        wait_for(lambda: len(history(engine)) >= len(expected), 120, "the restarted consumer to catch up")
        time.sleep(1.0)  # anything still in flight would show up as an extra row
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text()[-2000:]
    rows = history(engine)
    assert kills >= 2
    assert len(rows) == len(set(rows))
    assert set(rows) == expected
