"""`assettag simulate`: seed a simulated site in the database and stream its observations to Kafka or memory.

Tags beacon every `beacon_s` (chosen so the whole site produces about `--rate` observations per second), spread
evenly over the period so the stream is smooth. `--truth FILE` writes the ground truth (tag, ts, x, y, on_site)
at every beacon, for checking the platform's fixes.
"""

from __future__ import annotations

import argparse
import csv
import logging
import time
from pathlib import Path

import numpy as np

from core.errors import CommandError
from core.settings import get_settings

TICK_S = 0.1
log = logging.getLogger("realtime.simulate")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--assets", type=int, default=200, help="number of tagged assets")
    parser.add_argument("--rate", type=float, default=1000.0, help="observations per second (approximate)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds to run (0 = until interrupted)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--site-name", default="Simulated campus")
    parser.add_argument(
        "--no-seed-db", action="store_true", help="do not create the site/gateways/assets rows"
    )
    parser.add_argument(
        "--gateway-down",
        type=float,
        nargs=2,
        metavar=("FROM_S", "TO_S"),
        help="gateway GW00000 stops hearing anything between these seconds",
    )
    parser.add_argument("--truth", type=Path, help="write ground truth CSV here")


def run(args: argparse.Namespace) -> int:
    from core.db.engine import make_engine
    from realtime.simulation import SiteSimulator, build_site, encode_observation, seed_database
    from realtime.stream import OBSERVATIONS, ensure_topics, open_producer

    logging.basicConfig(level=logging.INFO)
    if args.assets < 1:
        raise CommandError(f"--assets: must be at least 1, got {args.assets}")
    if args.rate <= 0:
        raise CommandError(f"--rate: must be positive, got {args.rate}")
    if args.duration < 0:
        raise CommandError(f"--duration: must be 0 (forever) or positive, got {args.duration}")
    settings = get_settings()
    site = build_site(args.assets, seed=args.seed, name=args.site_name)
    if not args.no_seed_db:
        site_id = seed_database(make_engine(settings.database_url), site)
        log.info(
            "site %s (%s): %d gateways, %d zones, %d assets",
            site.name,
            site_id,
            len(site.gateway_ids),
            len(site.zone_names),
            len(site.tag_ids),
        )
    start = time.time()
    probe = SiteSimulator(site, start_s=start, seed=args.seed)
    heard_per_beacon = max(len(probe.observations_at(start)) / len(site.tag_ids), 1.0)
    beacon_s = max(TICK_S, round(len(site.tag_ids) * heard_per_beacon / args.rate / TICK_S) * TICK_S)
    down = (0, *args.gateway_down) if args.gateway_down else None
    sim = SiteSimulator(site, start_s=start, seed=args.seed, beacon_s=beacon_s, gateway_down=down)
    log.info("beacon every %.1f s, ~%.1f gateways hear each beacon", beacon_s, heard_per_beacon)
    ensure_topics(settings)
    producer = open_producer(settings)
    topic = settings.topic(OBSERVATIONS)
    buckets = int(round(beacon_s / TICK_S))
    bucket_of = np.arange(len(site.tag_ids)) % buckets
    truth = args.truth.open("w", newline="") if args.truth else None
    writer = csv.writer(truth) if truth else None
    if writer:
        writer.writerow(["tag_id", "ts_ms", "x", "y", "on_site"])
    produced, tick = 0, 0
    try:
        while args.duration == 0 or tick * TICK_S < args.duration:
            t = start + tick * TICK_S
            delay = t - time.time()
            if delay > 0:
                time.sleep(delay)
            rows = np.flatnonzero(bucket_of == tick % buckets)
            for obs in sim.observations_at(t, rows):
                producer.produce(topic, encode_observation(obs), obs.tag_id.encode())
                produced += 1
            if writer:
                xy, on_site = sim.positions(t)
                for r in rows.tolist():
                    writer.writerow(
                        [
                            site.tag_ids[r],
                            int(round(t * 1000)),
                            f"{xy[r, 0]:.3f}",
                            f"{xy[r, 1]:.3f}",
                            int(on_site[r]),
                        ]
                    )
            tick += 1
            if tick % 10 == 0:
                producer.flush(30.0)
    except KeyboardInterrupt:
        pass
    finally:
        producer.flush(30.0)
        if truth:
            truth.close()
    log.info("produced %d observations in %.1f s", produced, time.time() - start)
    return 0
