"""Engines and sessions for `ASSET_TAG_DATABASE_URL`, the same way everywhere (API, realtime writers, Dagster, tests).

SQLite gets the pragmas the platform relies on (foreign keys enforced, WAL so readers don't block the realtime
writer); a bare `postgresql://` URL means psycopg 3, the only PostgreSQL driver installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 5000


def normalise_url(url: str | URL) -> URL:
    """The sync URL: `postgresql://` -> `postgresql+psycopg://`, `sqlite+aiosqlite://` -> `sqlite://`."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername == "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite")
    return parsed


def make_async_url(url: str | URL) -> str:
    """The asyncio URL: sqlite -> sqlite+aiosqlite; postgresql(+psycopg) -> postgresql+psycopg (psycopg 3 is
    async-capable under the same driver name)."""
    parsed = normalise_url(url)
    if parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def redacted(url: str | URL) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as given, minus nothing we can identify
        return str(url).split("@")[-1]


def _prepare_sqlite_file(url: URL) -> None:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        try:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # connecting will fail with SQLite's own "unable to open database file", reported as such


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _engine_options(url: URL, kwargs: dict[str, Any]) -> dict[str, Any]:
    options = dict(kwargs)
    if url.get_backend_name() == "postgresql":
        options.setdefault("pool_pre_ping", True)
    return options


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """A sync engine; extra keyword arguments go to `sqlalchemy.create_engine`."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        _prepare_sqlite_file(parsed)
    engine = create_engine(parsed, **_engine_options(parsed, kwargs))
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def make_async_engine(url: str | URL, **kwargs: Any) -> AsyncEngine:
    """An asyncio engine (aiosqlite or psycopg 3) with the same set-up as `make_engine`."""
    parsed = make_url(make_async_url(url))
    if parsed.get_backend_name() == "sqlite":
        _prepare_sqlite_file(parsed)
    engine = create_async_engine(parsed, **_engine_options(parsed, kwargs))
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (objects stay readable when handed to callers)."""
    return sessionmaker(engine, expire_on_commit=False)


def async_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def upgrade_database(url: str | URL, revision: str = "head") -> None:
    """Apply the migrations up to `revision` (default: the latest). Used by tests, the demo and `assettag db`."""
    from core.db.migrate import upgrade  # alembic is only imported when migrating

    upgrade(url, revision)
