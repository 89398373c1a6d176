"""Two consumers in one group share the partitions; one stops mid-run and the other finishes: nothing lost."""

from __future__ import annotations

import threading
import time

import pytest

from realtime.pipeline import PipelineOptions, RealtimePipeline
from tests.integration.test_realtime_support import expected_fixes, history, prepare, produce, wait_for

pytestmark = pytest.mark.integration


def test_second_consumer_takes_over_a_stopped_ones_partitions(integration_settings) -> None:
    settings = integration_settings.model_copy(update={"history_heartbeat_s": 0.5})
    engine, site = prepare(settings)
    start = float(int(time.time()) - 40)
    produced: dict[str, dict] = {}
    producer = threading.Thread(
        target=lambda: produced.update(times=produce(settings, site, start, 30, pace_s=0.3))
    )
    producer.start()
    pipelines = [RealtimePipeline(settings, options=PipelineOptions(max_batch=200)) for _ in range(2)]
    stops = [threading.Event(), threading.Event()]
    workers = [threading.Thread(target=p.run, args=(s,)) for p, s in zip(pipelines, stops, strict=True)]
    for worker in workers:
        worker.start()
    try:
        wait_for(lambda: all(p.totals.messages for p in pipelines), 60, "both consumers to get partitions")
        stops[0].set()  # consumer 0 leaves mid-stream: its partitions move to consumer 1
        workers[0].join(30)
        producer.join(60)
        expected = expected_fixes(produced["times"], settings.window_s, settings.fix_interval_s)
        wait_for(lambda: len(history(engine)) >= len(expected), 60, "the survivor to finish every partition")
    finally:
        for stop in stops:
            stop.set()
        for worker in workers:
            worker.join(30)
    rows = history(engine)
    assert len(rows) == len(set(rows))
    assert set(rows) == expected
