"""Realtime pipeline benchmark against the real services (scripts/services.sh up).

Phases, all on one fresh database / topic prefix / Redis prefix:
  1. seed a simulated site with --tags assets; pre-produce --messages observations covering every tag;
  2. ceiling: the same messages consumed and decoded (the pipeline's own batch decoder) with nothing else done;
  3. throughput: one RealtimePipeline drains them end to end (fixes, Postgres, Redis, ble.locations, commits);
  4. latency: a separate process produces live observations at --rate obs/s and measures, per fix, the time
     from producing the observation to the fix arriving on the Redis locations channel (published after the
     current location is written, so it is readable by then).
The seeding, producing and the ceiling run in child processes: the RSS figures are the consumer's (this
process's). The ceiling used to run here first, and the heap it left behind was counted as the consumer's.
Last line: {"obs_per_s", "ceiling_obs_per_s", "ratio", "p50_ms", "p99_ms", "rss_mb"}.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np

# Run as a script, this file's folder comes first on sys.path and `realtime` would name this file: use the repo's.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))
sys.modules.pop("realtime", None)

SERVICES_ENV = Path(os.environ.get("ASSET_TAG_SERVICES_ENV", Path.home() / ".cache/asset-tag/services.env"))


def _rss() -> str:
    """Current and peak resident memory of this process, for the phase lines."""
    fields = dict(
        line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line
    )
    return f"RSS {int(fields['VmRSS'].split()[0]) / 1024:.0f} MB (peak {int(fields['VmHWM'].split()[0]) / 1024:.0f} MB)"


def _services() -> dict[str, str]:
    values = {}
    for line in SERVICES_ENV.read_text().splitlines():
        line = line.removeprefix("export ").strip()
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key] = value
    return values


def _settings(run_id: str, database_url: str):  # type: ignore[no-untyped-def]
    from core.settings import load_settings

    env = _services()
    return load_settings(
        database_url=database_url,
        redis_url=env["ASSET_TAG_REDIS_URL"],
        stream_url=env["ASSET_TAG_STREAM_URL"],
        topic_prefix=f"{run_id}.",
        redis_prefix=f"{run_id}:",
        consumer_group=f"{run_id}-realtime",
    )


def _seed(database_url: str, tags: int, seed: int) -> None:
    """Child process: schema and a simulated site. Not the consumer's work, so not in its memory figure."""
    from core.db.engine import make_engine, upgrade_database
    from realtime.simulation import build_site, seed_database

    upgrade_database(database_url)
    seed_database(make_engine(database_url), build_site(tags, seed=seed))


def _produce_backlog(settings, tags: int, messages: int, seed: int) -> int:  # type: ignore[no-untyped-def]
    """Child process: beacon rounds every 0.5 s of event time, a slice of the tags per round, until `messages`."""
    from realtime.simulation import SiteSimulator, build_site, encode_observation
    from realtime.stream import OBSERVATIONS, open_producer

    site = build_site(tags, seed=seed)
    start = float(int(time.time()) - 120)
    sim = SiteSimulator(site, start_s=start, seed=seed)
    producer, topic = open_producer(settings), settings.topic(OBSERVATIONS)
    produced, t, cursor = 0, start, 0
    per_round = max(1, tags // 8)
    # Every tag must beacon at least once, or the "tags tracked" (and the RSS it costs) is a fraction of --tags.
    while produced < messages or cursor < tags:
        rows = (np.arange(per_round) + cursor) % tags
        cursor += per_round
        for obs in sim.observations_at(t, rows):
            producer.produce(topic, encode_observation(obs), obs.tag_id.encode())
            produced += 1
        t += 0.5
    producer.flush(120)
    return produced


LIVE_BEACON_S = 1.0  # each live tag beacons once a second ...
LIVE_ROUND_S = 0.05  # ... at its own phase: a round every 50 ms carries the tags of that phase


def _ceiling(settings, group: str, produced: int, max_batch: int) -> float:  # type: ignore[no-untyped-def]
    """Child process: the same messages consumed and decoded (the pipeline's own batch decoder), nothing else,
    with the consumer's garbage-collection tuning (like for like)."""
    from realtime import gc_tuning
    from realtime.observations import decode_batch
    from realtime.stream import OBSERVATIONS, open_consumer

    gc_tuning.acquire()
    consumer = open_consumer(settings, group=group)
    consumer.subscribe([settings.topic(OBSERVATIONS)], on_assign=lambda tps: {}, on_revoke=lambda tps: None)
    seen, started = 0, None
    now = time.time()
    while seen < produced:
        batch = consumer.consume(max_batch, 1.0)
        if batch and started is None:
            started = time.perf_counter()
        decode_batch([message.value() for message in batch], now, 300.0, 7 * 86400.0)
        seen += len(batch)
    assert started is not None
    consumer.close()
    return seen / (time.perf_counter() - started)


def _live_load(settings, tags: int, rate: float, seconds: float, seed: int, out: mp.Queue) -> None:  # type: ignore[no-untyped-def]
    """Child process: produce live observations at `rate` and time each fix's arrival on the locations channel.

    Like real tags, each tag beacons at its own phase (not in synchronised rounds on the fix grid), with event
    time = real time. A fix for grid time t can only be made once the tag has been heard at or after t (and its
    partition has moved past t), so its latency is timed from producing that beacon, the one that made it
    possible — the time a fix spends waiting for the tag to beacon again is the tag's, not the pipeline's."""
    import bisect

    import msgspec
    import redis

    from core.live import LiveKeys
    from realtime.simulation import SiteSimulator, build_site, encode_observation
    from realtime.stream import OBSERVATIONS, open_producer

    site = build_site(tags, seed=seed)
    sim = SiteSimulator(site, start_s=time.time(), seed=seed)
    producer, topic = open_producer(settings), settings.topic(OBSERVATIONS)
    heard = max(len(sim.observations_at(time.time(), np.arange(min(tags, 2000)))) / min(tags, 2000), 1.0)
    active = np.arange(max(1, min(tags, int(rate * LIVE_BEACON_S / heard))))
    phases = int(round(LIVE_BEACON_S / LIVE_ROUND_S))
    beacons: dict[str, list[float]] = {}  # tag id -> event times of its beacons, in order
    latencies: list[float] = []
    stop = threading.Event()
    client = redis.Redis.from_url(settings.redis_url)
    pubsub = client.pubsub()
    pubsub.psubscribe(LiveKeys(settings.redis_prefix).locations_channel("*"))
    warmup_until = time.time() + 3.0

    def listen() -> None:
        while not stop.is_set():
            message = pubsub.get_message(timeout=0.2)
            if message is None or message["type"] != "pmessage":
                continue
            now = time.time()
            if now < warmup_until:
                continue
            for fix in msgspec.json.decode(message["data"]):
                ts = fix["ts"]
                fix_s = (
                    time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S"))
                    - time.timezone
                    + int(ts[20:23]) / 1000
                )
                times = beacons.get(fix["tag_id"], [])
                enabling = bisect.bisect_left(times, fix_s - 0.0005)
                if enabling < len(times):
                    latencies.append(now - times[enabling])

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    produced = 0
    t = np.ceil(time.time() / LIVE_ROUND_S) * LIVE_ROUND_S
    end = t + seconds
    while t < end:
        delay = t - time.time()
        if delay > 0:
            time.sleep(delay)
        rows = active[int(round(t / LIVE_ROUND_S)) % phases :: phases]
        for r in rows.tolist():
            beacons.setdefault(site.tag_ids[r], []).append(round(t, 3))
        for obs in sim.observations_at(t, rows):
            producer.produce(topic, encode_observation(obs), obs.tag_id.encode())
            produced += 1
        producer.poll(0)
        t += LIVE_ROUND_S
    producer.flush(30)
    time.sleep(3.0)
    stop.set()
    listener.join(5)
    out.put({"produced": produced, "seconds": seconds, "latencies": latencies})


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tags", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=20_000, help="obs/s of the latency phase")
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument(
        "--max-batch",
        type=int,
        default=20_000,  # the consumer's own default (PipelineOptions, `assettag consume --max-batch`)
        help="messages per batch (20k-50k measured within the run-to-run spread; resident memory grows with it)",
    )
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--profile", type=Path, help="write a cProfile of the throughput phase here")
    args = parser.parse_args()

    import psycopg

    from core.db.engine import make_engine
    from realtime.pipeline import PipelineOptions, RealtimePipeline
    from realtime.stream import ensure_topics

    run_id = "bench" + uuid.uuid4().hex[:8]
    admin_url = _services()["ASSET_TAG_DATABASE_URL"]
    parts = urlsplit(admin_url)
    plain = urlunsplit(parts._replace(scheme="postgresql"))
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{run_id}"')
    database_url = urlunsplit(parts._replace(path=f"/{run_id}"))
    settings = _settings(run_id, database_url)
    ctx = mp.get_context("spawn")
    try:
        t0 = time.perf_counter()
        with ctx.Pool(1) as pool:
            pool.apply(_seed, (database_url, args.tags, args.seed))
            ensure_topics(settings)
            produced = pool.apply(_produce_backlog, (settings, args.tags, args.messages, args.seed))
        engine = make_engine(database_url)
        print(
            f"setup: seeded {args.tags} assets, produced {produced} observations in "
            f"{time.perf_counter() - t0:.1f} s; {_rss()}",
            flush=True,
        )

        with ctx.Pool(1) as pool:  # in a child: what it leaves in the heap is not the consumer's memory
            ceiling = pool.apply(_ceiling, (settings, f"{run_id}-ceiling", produced, args.max_batch))
        print(f"ceiling: {ceiling:,.0f} obs/s (consume + decode)", flush=True)

        # Throughput: the real pipeline drains the backlog.
        pipeline = RealtimePipeline(
            settings, options=PipelineOptions(max_batch=args.max_batch), engine=engine
        )
        pipeline.start()
        done, started, fixes, batches = 0, None, 0, 0
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        while done < produced:
            report = pipeline.run_once()
            if report.messages and started is None:
                started = time.perf_counter() - report.seconds
            done += report.messages
            fixes += report.fixes
            batches += 1 if report.messages else 0
        pipeline.flush()  # the last batch's writes and commit are part of the run
        elapsed = time.perf_counter() - started
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        obs_per_s = done / elapsed
        print(
            f"pipeline: {obs_per_s:,.0f} obs/s end to end ({done} obs, {fixes} fixes, {batches} batches, "
            f"{elapsed:.1f} s), {len(pipeline.states.tags)} tags tracked; {_rss()}",
            flush=True,
        )

        # Latency at a steady rate, the pipeline running in this process.
        stop = threading.Event()
        live_batches: list = []  # BatchReport per batch; `seconds` (consume to committed) is set on commit

        def work() -> None:
            while not stop.is_set():
                report = pipeline.run_once()
                if report.messages:
                    live_batches.append(report)

        worker = threading.Thread(target=work)
        worker.start()
        queue = ctx.Queue()
        load = ctx.Process(
            target=_live_load, args=(settings, args.tags, args.rate, args.latency_seconds, args.seed, queue)
        )
        load.start()
        result = queue.get(timeout=args.latency_seconds + 120)
        load.join(30)
        stop.set()
        worker.join(60)
        pipeline.close()
        lat = np.array(result["latencies"]) * 1000.0
        p50, p99 = (
            (float(np.percentile(lat, 50)), float(np.percentile(lat, 99))) if lat.size else (None, None)
        )
        print(
            f"latency: {result['produced'] / result['seconds']:,.0f} obs/s offered, {lat.size} fixes timed, "
            f"p50 {p50:.0f} ms, p99 {p99:.0f} ms; {_rss()}",
            flush=True,
        )
        if live_batches:
            sizes, seconds = np.array([(r.messages, r.seconds) for r in live_batches[1:] or live_batches]).T
            print(
                f"live batches: {len(live_batches)}, median {np.median(sizes):.0f} messages, "
                f"consume-to-commit median {np.median(seconds) * 1000:.0f} ms, "
                f"p99 {np.percentile(seconds, 99) * 1000:.0f} ms",
                flush=True,
            )
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        print(
            json.dumps(
                {
                    "obs_per_s": round(obs_per_s),
                    "ceiling_obs_per_s": round(ceiling),
                    "ratio": round(obs_per_s / ceiling, 3),
                    "p50_ms": p50 and round(p50, 1),
                    "p99_ms": p99 and round(p99, 1),
                    "rss_mb": round(rss_mb, 1),
                }
            )
        )
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{run_id}" WITH (FORCE)')
        from confluent_kafka.admin import AdminClient

        admin = AdminClient(settings.kafka_config())
        mine = [name for name in admin.list_topics(timeout=10).topics if name.startswith(f"{run_id}.")]
        if mine:
            admin.delete_topics(mine, operation_timeout=10)
        import redis

        # The run's per-tag state and current locations: a few hundred thousand keys at 100k tags.
        client = redis.Redis.from_url(settings.redis_url)
        keys = list(client.scan_iter(match=f"{run_id}:*", count=10_000))
        for i in range(0, len(keys), 10_000):
            client.unlink(*keys[i : i + 10_000])


if __name__ == "__main__":
    main()
