"""Alembic environment for the asset-tag schema.

Run through `core.db.migrate` (or `assettag db ...`), which builds the Alembic config in code and hands over a
live connection in `config.attributes["connection"]`; there is no alembic.ini.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from core.db.engine import make_engine
from core.db.migrate import render_item
from core.db.models import metadata
from core.db.partitions import is_partition

config = context.config


def _include_name(name: str | None, type_: str, _parent_names: object) -> bool:
    """Leave location_history's partitions out of autogenerate: core.db.partitions manages them, not migrations."""
    return not (type_ == "table" and name is not None and is_partition(name))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place: batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        include_name=_include_name,
        render_item=render_item,
        # SQLite reflects advanced-alchemy's GUID (BINARY(16)) as NUMERIC: comparing types there only yields noise.
        compare_type=connection.dialect.name != "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.attributes.get("url") or config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    # The location_history set-up asks the server whether TimescaleDB is available, so SQL cannot be
    # generated without a database.
    raise RuntimeError("offline (--sql) migrations are not supported; run them against the database")
run_migrations_online()
