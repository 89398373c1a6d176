"""`assettag consume`: run the realtime consumer until SIGTERM/SIGINT (which finish, write and commit the batch)."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import signal
import sys
import threading
import time

from core.errors import CommandError
from core.settings import Settings, get_settings
from realtime.stages import FixStage

DEFAULT_STAGES = "realtime.zones_stage:build_stages"


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: what log shippers expect from a long-running consumer."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
                 "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


def load_stages(spec: str, settings: Settings, *, required: bool) -> list[FixStage]:
    """`module:factory` where factory(settings) returns the stages; a missing default is not an error."""
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if not required and exc.name == module_name:
            return []
        raise CommandError(f"--stages: cannot import {module_name!r}: {exc}") from None
    factory = getattr(module, attr or "build_stages", None)
    if factory is None:
        if not required:
            return []
        raise CommandError(f"--stages: {module_name!r} has no {attr!r}")
    return list(factory(settings))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--metrics-port", type=int, default=9108, help="Prometheus /metrics and /health (0 = off)")
    parser.add_argument("--metrics-host", default="127.0.0.1")
    parser.add_argument("--max-batch", type=int, default=20000, help="messages per batch")
    parser.add_argument("--stages", default=None,
                        help=f"module:factory returning the FixStages to run (default {DEFAULT_STAGES} if present)")
    parser.add_argument("--log-level", default="info")


def run(args: argparse.Namespace) -> int:
    from realtime.metrics import MetricsServer
    from realtime.pipeline import PipelineOptions, RealtimePipeline

    configure_logging(args.log_level)
    if args.max_batch < 1:
        raise CommandError(f"--max-batch: must be at least 1, got {args.max_batch}")
    settings = get_settings()
    stages = load_stages(args.stages or DEFAULT_STAGES, settings, required=args.stages is not None)
    pipeline = RealtimePipeline(settings, stages, options=PipelineOptions(max_batch=args.max_batch))
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        logging.getLogger("realtime.consume").info("signal %s: finishing the current batch", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    server = None
    if args.metrics_port:
        try:
            server = MetricsServer(args.metrics_host, args.metrics_port, pipeline.health).start()
        except OSError as exc:
            raise CommandError(f"--metrics-port: cannot listen on {args.metrics_port}: {exc}") from None
    try:
        totals = pipeline.run(stop)
    finally:
        if server is not None:
            server.stop()
    logging.getLogger("realtime.consume").info(
        "stopped after %d messages, %d fixes, %d DLQ records", totals.messages, totals.fixes, totals.dlq)
    return 0
