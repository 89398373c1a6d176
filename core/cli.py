"""`assettag`: the one command line of the platform.

Each subcommand lives with the feature it runs (positioning, realtime, API, ...). This module
only knows their names and where they live, and imports a command's module when that command
is run — so `core` stays free of framework imports and `assettag --help` starts instantly.

A command module provides `add_arguments(parser)` and `run(args) -> int`.
Errors a person can fix (`CommandError`, `SettingsError`) are printed as one line, exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from core.errors import CommandError
from core.settings import SettingsError

# name -> (module, one-line help). Keep sorted by how often people use them.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "api.demo",
        "the whole platform in one process, no services: simulator, realtime loop, API, live map",
    ),
    "consume": (
        "realtime.consume",
        "realtime consumer: observations -> fixes in Postgres, Redis and ble.locations",
    ),
    "ingest": ("realtime.ingest", "gateway HTTP ingest: POST observations -> ble.observations"),
    "simulate": ("realtime.simulate", "simulated site: seed the database and stream observations"),
    "alerts": (
        "realtime.alerting.cli",
        "alert ticker (time-based rules) and notification delivery, standalone",
    ),
    "api": (
        "api.cli",
        "serve the REST API and WebSockets (uvicorn) on ASSET_TAG_API_HOST:ASSET_TAG_API_PORT",
    ),
    "keys": (
        "api.keys.cli",
        "API keys: `assettag keys create --name N --role admin|operator|viewer`, list, revoke",
    ),
    "db": ("core.db.cli", "database schema: `assettag db upgrade|downgrade|current|maintain`"),
    "locate": ("core.positioning.locate_cli", "offline location estimation of a CSV/Parquet of observations"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assettag",
        description="asset-tag: where every tagged asset is, what happened to it, and what to do about it.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if not argv or argv[0] not in COMMANDS:
        parser.parse_args(argv)  # prints help or the "invalid choice" error
        parser.print_help()
        return 0 if not argv else 2

    name = argv[0]
    module_name, help_text = COMMANDS[name]
    module = importlib.import_module(module_name)
    command_parser = argparse.ArgumentParser(prog=f"assettag {name}", description=help_text)
    module.add_arguments(command_parser)
    args = command_parser.parse_args(argv[1:])
    try:
        return int(module.run(args) or 0)
    except (CommandError, SettingsError) as exc:
        print(f"assettag {name}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
