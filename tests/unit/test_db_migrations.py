"""The Alembic migrations build exactly the models' schema on SQLite and take it all down again."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from core.db.engine import make_engine, upgrade_database
from core.db.migrate import current_revision, downgrade, head_revision
from core.db.models import metadata

pytestmark = pytest.mark.unit


def _table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_to_head_creates_every_model_table_and_matches_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade_database(url)

    assert current_revision(url) == head_revision()
    assert _table_names(url) == set(metadata.tables) | {"alembic_version"}
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            # Types are compared on PostgreSQL (integration test): SQLite reflects GUID's BINARY(16) as NUMERIC.
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert differences == [], "models and migrations disagree; generate a migration for the model change"


def test_downgrade_to_base_removes_everything_and_upgrade_works_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cycle.db'}"
    upgrade_database(url)

    downgrade(url, "base")
    assert current_revision(url) is None
    assert _table_names(url) == {"alembic_version"}

    upgrade_database(url)
    assert current_revision(url) == head_revision()
    assert "location_history" in _table_names(url)


def test_upgrade_creates_the_sqlite_file_and_its_missing_directories(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there.db"
    upgrade_database(f"sqlite:///{path}")
    assert path.exists()
