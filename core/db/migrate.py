"""Apply the Alembic migrations in core/db/migrations, with the Alembic config built in code (no alembic.ini)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.engine import URL

from core.db.engine import make_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic config for this schema; with `connection`, migrations run on it (inside its transaction)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@contextmanager
def _connected(url: str | URL) -> Iterator[Connection]:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def upgrade(url: str | URL, revision: str = "head") -> None:
    with _connected(url) as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(url: str | URL, revision: str = "-1") -> None:
    with _connected(url) as connection:
        command.downgrade(alembic_config(connection), revision)


def current_revision(url: str | URL) -> str | None:
    """The revision the database is at (None = no migrations applied)."""
    with _connected(url) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The latest revision in the repository."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
