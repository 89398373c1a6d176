"""`assettag alerts`: run the alert ticker and the notification delivery worker on their own (for deployments
that do not run them inside `assettag consume`), or one round of each with `--once` (cron, debugging)."""

from __future__ import annotations

import argparse
import json
import signal
import threading

from core.db.engine import make_engine
from core.errors import CommandError
from core.settings import get_settings
from realtime.alerting.delivery import DeliveryWorker
from realtime.alerting.service import AlertingService
from realtime.alerting.ticker import AlertTicker


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tick-interval-s", type=float, default=30.0, help="how often time-based rules run")
    parser.add_argument("--once", action="store_true", help="one tick and one delivery round, then exit")


def run(args: argparse.Namespace) -> int:
    if args.tick_interval_s <= 0:
        raise CommandError(f"--tick-interval-s: must be > 0 seconds, got {args.tick_interval_s}")
    settings = get_settings()
    if args.once:
        engine = make_engine(settings.database_url)
        tick = AlertTicker(settings, engine=engine).tick()
        sent = DeliveryWorker(engine).run_once()
        print(json.dumps({"tick": _fields(tick), "delivery": _fields(sent)}))
        return 0
    service = AlertingService(settings, tick_interval_s=args.tick_interval_s)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    service.start()
    print(f"alert ticker every {args.tick_interval_s:.0f} s and notification delivery running; Ctrl-C stops")
    stop.wait()
    service.stop()
    return 0


def _fields(report: object) -> dict[str, object]:
    return {name: getattr(report, name) for name in getattr(report, "__slots__", ())}
