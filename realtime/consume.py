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
from collections.abc import Callable
from typing import TYPE_CHECKING

from core.errors import CommandError
from core.settings import Settings, get_settings
from realtime.stages import FixStage

if TYPE_CHECKING:
    from realtime.models import ModelRegistryWatcher
    from realtime.pipeline import RealtimePipeline

DEFAULT_STAGES = "realtime.zones_stage:build_stages"


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: what log shippers expect from a long-running consumer."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
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
    parser.add_argument(
        "--metrics-port", type=int, default=9108, help="Prometheus /metrics and /health (0 = off)"
    )
    parser.add_argument("--metrics-host", default="127.0.0.1")
    parser.add_argument("--max-batch", type=int, default=20000, help="messages per batch")
    parser.add_argument(
        "--stages",
        default=None,
        help=f"module:factory returning the FixStages to run (default {DEFAULT_STAGES} if present)",
    )
    parser.add_argument(
        "--no-models",
        action="store_true",
        help="do not serve champion location models from the MLflow registry (path-loss chain only)",
    )
    parser.add_argument(
        "--model-poll-s",
        type=float,
        default=30.0,
        help="how often the MLflow registry is polled for new champions (seconds)",
    )
    parser.add_argument("--log-level", default="info")


def run(args: argparse.Namespace) -> int:
    from realtime.metrics import MetricsServer
    from realtime.pipeline import PipelineOptions, RealtimePipeline

    configure_logging(args.log_level)
    if args.max_batch < 1:
        raise CommandError(f"--max-batch: must be at least 1, got {args.max_batch}")
    if not args.model_poll_s > 0:
        raise CommandError(f"--model-poll-s: must be a positive number of seconds, got {args.model_poll_s}")
    settings = get_settings()
    stages = load_stages(args.stages or DEFAULT_STAGES, settings, required=args.stages is not None)
    watcher = None
    if not args.no_models:
        from realtime.models import ModelRegistryWatcher

        # Loads in its own thread (MLflow imported there): the first fixes never wait for the registry, and
        # until a site's champion is loaded that site uses the path-loss chain.
        watcher = ModelRegistryWatcher(settings, poll_interval_s=args.model_poll_s)
        watcher.start()
    pipeline = RealtimePipeline(
        settings,
        stages,
        options=PipelineOptions(max_batch=args.max_batch),
        models=watcher.current if watcher is not None else None,
    )
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        logging.getLogger("realtime.consume").info("signal %s: finishing the current batch", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    server = None
    if args.metrics_port:
        try:
            server = MetricsServer(args.metrics_host, args.metrics_port, _health(pipeline, watcher)).start()
        except OSError as exc:
            raise CommandError(f"--metrics-port: cannot listen on {args.metrics_port}: {exc}") from None
    try:
        totals = pipeline.run(stop)
    finally:
        if server is not None:
            server.stop()
        if watcher is not None:
            watcher.stop()
    logging.getLogger("realtime.consume").info(
        "stopped after %d messages, %d fixes, %d DLQ records", totals.messages, totals.fixes, totals.dlq
    )
    return 0


def _health(
    pipeline: RealtimePipeline, watcher: ModelRegistryWatcher | None
) -> Callable[[], dict[str, object]]:
    """The pipeline's health plus which model version each site is served (a registry outage is not
    degradation: the last good models, or the path-loss chain, keep serving)."""
    if watcher is None:
        return pipeline.health

    def health() -> dict[str, object]:
        status = watcher.status()
        return {
            **pipeline.health(),
            "models": {
                "registry_reachable": status.healthy,
                "versions": status.versions,
                "last_error": status.last_error,
            },
        }

    return health
