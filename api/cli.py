"""`assettag api`: serve the REST API (and WebSockets) with uvicorn on ASSET_TAG_API_HOST:ASSET_TAG_API_PORT."""

from __future__ import annotations

import argparse

from core.errors import CommandError
from core.settings import get_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    settings = get_settings()
    parser.add_argument(
        "--host", default=settings.api_host, help=f"bind address (default {settings.api_host})"
    )
    parser.add_argument(
        "--port", type=int, default=settings.api_port, help=f"port (default {settings.api_port})"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--migrate", action="store_true", help="apply database migrations before serving")
    parser.add_argument("--access-log", action="store_true", help="log every request (costs throughput)")


def check_schema(url: str, migrate: bool) -> None:
    """Refuse to serve a database without the current schema: every route would fail."""
    from sqlalchemy import exc as sa_exc

    from core.db import migrate as migrations
    from core.db.engine import redacted

    try:
        if migrate:
            migrations.upgrade(url)
        current, head = migrations.current_revision(url), migrations.head_revision()
    except sa_exc.SQLAlchemyError as error:
        first = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise CommandError(
            f"ASSET_TAG_DATABASE_URL: cannot use the database at {redacted(url)}: {first}"
        ) from None
    if current != head:
        raise CommandError(
            f"the database is at revision {current or 'base (empty)'}, the API needs {head}: "
            "run `assettag db upgrade` (or pass --migrate)"
        )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    if not 1 <= args.port <= 65535:
        raise CommandError(f"--port: expected 1-65535, got {args.port}")
    if args.workers < 1:
        raise CommandError(f"--workers: expected 1 or more, got {args.workers}")
    settings = get_settings()
    check_schema(settings.database_url, args.migrate)
    print(f"asset-tag API on http://{args.host}:{args.port} (docs at /docs)", flush=True)
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=args.access_log,
        log_level="info",
        # uvloop + httptools when installed (uvicorn's "auto" picks them; named so a missing one is an error).
        loop="uvloop" if _installed("uvloop") else "asyncio",
        http="httptools" if _installed("httptools") else "h11",
        # Compressing each small fix frame separately for every socket costs more CPU than it saves.
        ws_per_message_deflate=False,
    )
    return 0


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
