"""The realtime loop in embedded mode (memory stream, SQLite, MemoryHub): fixes land everywhere, and a replay
of already-processed messages changes nothing."""

from __future__ import annotations

import time

import msgspec
import numpy as np
import pytest
from sqlalchemy import select, text

from core.db.engine import make_engine, upgrade_database
from core.db.models import LocationHistory
from core.live import LiveKeys, MemoryHub
from realtime.live_store import MemoryLiveStore, unknown_tags_key
from realtime.memory_stream import MemoryBroker
from realtime.pipeline import RealtimePipeline
from realtime.simulation import SiteSimulator, build_site, encode_observation, seed_database
from realtime.stream import LOCATIONS, OBSERVATIONS

pytestmark = pytest.mark.unit


@pytest.fixture()
def world(embedded_settings, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(MemoryBroker, "_shared", None)
    monkeypatch.setattr(MemoryHub, "_shared", None)
    settings = embedded_settings.model_copy(update={"history_heartbeat_s": 0.5})
    upgrade_database(settings.database_url)
    engine = make_engine(settings.database_url)
    site = build_site(10, seed=2)
    seed_database(engine, site)
    return settings, engine, site


def _produce(settings, site, start: float, seconds: float) -> int:  # type: ignore[no-untyped-def]
    broker = MemoryBroker.shared()
    sim = SiteSimulator(site, start_s=start, seed=4)
    n = 0
    for t in sim.beacon_times(start, start + seconds):
        for obs in sim.observations_at(t):
            broker.append(settings.topic(OBSERVATIONS), encode_observation(obs), obs.tag_id.encode())
            n += 1
    broker.append(
        settings.topic(OBSERVATIONS),
        encode_observation(sim.observations_at(start)[0]).replace(site.tag_ids[0].encode(), b"FFFF"),
        b"FFFF",
    )  # a tag nobody registered
    return n


def _drain(pipeline: RealtimePipeline) -> None:
    for _ in range(1000):
        if not pipeline.run_once().messages:
            return


def _snapshot(engine) -> tuple:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return (
            conn.execute(text("SELECT tag_id, ts, x, y FROM location_history ORDER BY 1, 2")).all(),
            conn.execute(text("SELECT tag_id, ts, x, y FROM current_locations ORDER BY 1")).all(),
        )


def test_embedded_loop_locates_every_tag_and_replay_changes_nothing(world) -> None:  # type: ignore[no-untyped-def]
    settings, engine, site = world
    start = float(int(time.time()) - 30)
    _produce(settings, site, start, 12)
    pipeline = RealtimePipeline(settings, engine=engine)
    _drain(pipeline)
    history, current = _snapshot(engine)
    assert {row.tag_id for row in current} == {row.tag_id for row in history}
    assert len(current) >= 9  # the odd asset may have been carried off site before it beaconed
    # Every tag has a fix every 0.5 s from its first to its last beacon (heartbeat 0.5 s stores them all).
    per_tag = {}
    for tag, ts, _, _ in history:
        per_tag.setdefault(tag, []).append(ts)
    for stamps in per_tag.values():
        assert len(stamps) == len(set(stamps))

    live = MemoryLiveStore()
    keys = LiveKeys(settings.redis_prefix)
    fix = msgspec.json.decode(live.get_many([keys.current_location(current[0].tag_id)])[0])
    assert fix["tag_id"] == current[0].tag_id and fix["method"]
    assert live.read_fields(unknown_tags_key(keys)) == {"FFFF": 1}
    assert len(MemoryBroker.shared().messages(settings.topic(LOCATIONS))) >= len(history)

    # Replay: a new consumer group reads everything again -> the database is unchanged.
    replay = RealtimePipeline(settings.model_copy(update={"consumer_group": "replay"}), engine=engine)
    _drain(replay)
    assert _snapshot(engine) == (history, current)


def test_fixes_do_not_depend_on_batch_boundaries(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Small batches that cut beacon rounds (one gateway's report in this batch, the next gateway's in the
    next) give exactly the fixes of one big batch: a replay after losing live state reproduces history."""
    from realtime.pipeline import PipelineOptions

    settings, engine, site = world
    _produce(settings, site, float(int(time.time()) - 30), 12)
    _drain(RealtimePipeline(settings, engine=engine))
    whole = _snapshot(engine)
    assert len(whole[0]) > 100

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM location_history"))
        conn.execute(text("DELETE FROM current_locations"))
    monkeypatch.setattr(MemoryHub, "_shared", None)  # tracks and zone states gone too
    small = settings.model_copy(update={"consumer_group": "small-batches"})
    _drain(RealtimePipeline(small, engine=engine, options=PipelineOptions(max_batch=7)))
    assert _snapshot(engine) == whole


def test_fixes_track_the_simulated_assets(world) -> None:  # type: ignore[no-untyped-def]
    settings, engine, site = world
    start = float(int(time.time()) - 30)
    _produce(settings, site, start, 20)
    _drain(RealtimePipeline(settings, engine=engine))
    sim = SiteSimulator(site, start_s=start, seed=4)
    index = {tag: i for i, tag in enumerate(site.tag_ids)}
    with engine.connect() as conn:
        rows = conn.execute(
            select(LocationHistory.tag_id, LocationHistory.ts, LocationHistory.x, LocationHistory.y)
        ).all()
    errors = []
    for tag, ts, x, y in rows:
        truth, _ = sim.positions(ts.timestamp())
        errors.append(np.hypot(x - truth[index[tag], 0], y - truth[index[tag], 1]))
    assert np.median(errors) < 3.0


def test_consumer_lag_metric_counts_what_is_still_to_be_read(world) -> None:  # type: ignore[no-untyped-def]
    from realtime import metrics
    from realtime.pipeline import PipelineOptions

    settings, engine, site = world
    produced = _produce(settings, site, float(int(time.time()) - 30), 6) + 1
    pipeline = RealtimePipeline(settings, engine=engine, options=PipelineOptions(max_batch=40))
    report = pipeline.run_once()
    assert metrics.LAG._value.get() == produced - report.messages
    _drain(pipeline)
    assert pipeline.consumer.lag() == 0


def test_a_restarted_consumer_continues_from_the_stored_tag_state(world) -> None:  # type: ignore[no-untyped-def]
    """Only tags that got a fix have their state rewritten; a consumer restarted mid-stream (memory gone,
    live store kept) picks every tag up from what is stored and makes exactly the fixes of an unbroken run."""
    settings, engine, site = world
    start = float(int(time.time()) - 40)
    broker = MemoryBroker.shared()
    sim = SiteSimulator(site, start_s=start, seed=4)
    beacons = list(sim.beacon_times(start, start + 16))
    halves = (beacons[: len(beacons) // 2], beacons[len(beacons) // 2 :])

    def produce(times) -> None:  # type: ignore[no-untyped-def]
        for t in times:
            for obs in sim.observations_at(t):
                broker.append(settings.topic(OBSERVATIONS), encode_observation(obs), obs.tag_id.encode())

    produce(halves[0])
    first = RealtimePipeline(settings, engine=engine)
    _drain(first)
    first.close()
    produce(halves[1])
    _drain(RealtimePipeline(settings, engine=engine))  # same group: resumes after the committed offsets
    restarted = _snapshot(engine)

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM location_history"))
        conn.execute(text("DELETE FROM current_locations"))
    MemoryHub._shared = None  # type: ignore[attr-defined]  # the unbroken run starts from no stored state
    _drain(RealtimePipeline(settings.model_copy(update={"consumer_group": "unbroken"}), engine=engine))
    assert len(restarted[0]) > 100
    assert _snapshot(engine) == restarted
