"""Postgres stopped for a few seconds mid-run: no offsets committed past unwritten data, nothing lost after."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest

from realtime.pipeline import PipelineOptions, RealtimePipeline
from tests.integration.test_realtime_support import (
    committed_offsets,
    expected_fixes,
    history,
    prepare,
    produce,
    wait_for,
)

pytestmark = pytest.mark.integration

PG_BIN = "/usr/lib/postgresql/15/bin"
PG_DATA = "/var/lib/asset-tag/postgres/data"


def _pg_ctl(*args: str) -> None:
    subprocess.run(
        ["runuser", "-u", "postgres", "--", f"{PG_BIN}/pg_ctl", "-D", PG_DATA, *args],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=90,
    )


def _start_postgres(port: int) -> None:
    _pg_ctl(
        "-l",
        "/var/lib/asset-tag/postgres/postgres.log",
        "-w",
        "-t",
        "60",
        "-o",
        f"-p {port} -c listen_addresses=127.0.0.1 -k /tmp -c max_connections=200 -c fsync=off",
        "start",
    )


def test_postgres_outage_pauses_without_committing_and_loses_nothing(integration_settings) -> None:
    settings = integration_settings.model_copy(update={"history_heartbeat_s": 0.5})
    port = int(settings.database_url.rsplit(":", 1)[1].split("/")[0])
    engine, site = prepare(settings)
    start = float(int(time.time()) - 40)
    produced: dict[str, dict] = {}
    producer = threading.Thread(
        target=lambda: produced.update(times=produce(settings, site, start, 30, pace_s=0.2))
    )
    pipeline = RealtimePipeline(settings, options=PipelineOptions(max_batch=200, max_backoff_s=1.0))
    stop = threading.Event()
    worker = threading.Thread(target=pipeline.run, args=(stop,))
    worker.start()
    producer.start()
    try:
        wait_for(lambda: len(history(engine)) > 0, 60, "the pipeline to make progress")
        _pg_ctl("-m", "fast", "-w", "stop")
        try:
            time.sleep(1.0)  # the batch in flight fails; whatever was committed before stays
            during = committed_offsets(settings)
            time.sleep(3.0)
            assert committed_offsets(settings) == during, "offsets moved while Postgres was down"
            assert pipeline.retrying_since is not None
        finally:
            _start_postgres(port)
        producer.join(60)
        expected = expected_fixes(produced["times"], settings.window_s, settings.fix_interval_s)
        wait_for(
            lambda: len(history(engine)) >= len(expected), 60, "the pipeline to catch up after the outage"
        )
    finally:
        stop.set()
        worker.join(30)
        producer.join(60)
    rows = history(engine)
    assert len(rows) == len(set(rows))
    assert set(rows) == expected
