"""`assettag db upgrade|downgrade|current|maintain`: manage the schema of ASSET_TAG_DATABASE_URL."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from alembic.util import CommandError as AlembicCommandError
from sqlalchemy import exc as sa_exc

from core.errors import CommandError
from core.settings import get_settings

DATABASE_URL_VARIABLE = "ASSET_TAG_DATABASE_URL"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    upgrade = actions.add_parser("upgrade", help="apply migrations (default: up to the latest)")
    upgrade.add_argument("--revision", default="head", help="target revision (default: head)")
    downgrade = actions.add_parser("downgrade", help="revert migrations (default: the last one)")
    downgrade.add_argument(
        "--revision", default="-1", help="target revision: an id, -N steps, or base (default: -1)"
    )
    actions.add_parser("current", help="show the database's revision and the latest one")
    maintain = actions.add_parser(
        "maintain",
        help="create upcoming location_history partitions and drop history past the retention period",
    )
    maintain.add_argument("--days-ahead", type=int, default=7, help="create daily partitions this far ahead")


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0].strip() if text else type(error).__name__


@contextmanager
def _database_errors(url: str) -> Iterator[None]:
    """Turn driver and Alembic errors into one line a person can act on."""
    from core.db.engine import redacted

    try:
        yield
    except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError) as error:
        raise CommandError(
            f"{DATABASE_URL_VARIABLE}: not a usable database URL ({_first_line(error)})"
        ) from None
    except (sa_exc.OperationalError, sa_exc.InterfaceError) as error:
        raise CommandError(
            f"{DATABASE_URL_VARIABLE}: cannot use the database at {redacted(url)}: {_first_line(error)}"
        ) from None
    except sa_exc.DBAPIError as error:
        raise CommandError(f"database error at {redacted(url)}: {_first_line(error)}") from None
    except AlembicCommandError as error:
        raise CommandError(f"--revision: {_first_line(error)}") from None


def _upgrade(url: str, args: argparse.Namespace) -> str:
    from core.db import migrate

    migrate.upgrade(url, args.revision)
    return f"upgraded: database now at {migrate.current_revision(url) or 'base'} (head is {migrate.head_revision()})"


def _downgrade(url: str, args: argparse.Namespace) -> str:
    from core.db import migrate

    migrate.downgrade(url, args.revision)
    return f"downgraded: database now at {migrate.current_revision(url) or 'base'}"


def _current(url: str, _args: argparse.Namespace) -> str:
    from core.db import migrate

    current, head = migrate.current_revision(url), migrate.head_revision()
    state = "up to date" if current == head else "run `assettag db upgrade`"
    return f"database at {current or 'base (empty)'}; head is {head}: {state}"


def _maintain(url: str, args: argparse.Namespace) -> str:
    from core.db.engine import make_engine
    from core.db.partitions import maintain_history

    if args.days_ahead < 0:
        raise CommandError(f"--days-ahead: must be 0 or more, got {args.days_ahead}")
    engine = make_engine(url)
    try:
        result = maintain_history(engine, get_settings().history_retention_days, days_ahead=args.days_ahead)
    finally:
        engine.dispose()
    return (
        f"location_history ({result.storage}): {len(result.created)} partitions created, "
        f"{len(result.dropped)} dropped, {result.rows_deleted} expired rows deleted"
    )


ACTIONS: dict[str, Callable[[str, argparse.Namespace], str]] = {
    "upgrade": _upgrade,
    "downgrade": _downgrade,
    "current": _current,
    "maintain": _maintain,
}


def run(args: argparse.Namespace) -> int:
    url = get_settings().database_url
    with _database_errors(url):
        message = ACTIONS[args.action](url, args)
    print(message)
    return 0
