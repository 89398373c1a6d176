"""Engines built from ASSET_TAG_DATABASE_URL: sync and asyncio flavours of the same database."""

from __future__ import annotations

import datetime
import uuid
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text

from core.db.engine import (
    async_session_factory,
    make_async_engine,
    make_async_url,
    make_engine,
    normalise_url,
    upgrade_database,
)
from core.db.models import Site

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("url", "sync", "asyncio"),
    [
        ("sqlite:///data/a.db", "sqlite:///data/a.db", "sqlite+aiosqlite:///data/a.db"),
        ("sqlite+aiosqlite:///a.db", "sqlite:///a.db", "sqlite+aiosqlite:///a.db"),
        (
            "postgresql://u:p@db:5432/x",
            "postgresql+psycopg://u:p@db:5432/x",
            "postgresql+psycopg://u:p@db:5432/x",
        ),
        ("postgresql+psycopg://u:p@db/x", "postgresql+psycopg://u:p@db/x", "postgresql+psycopg://u:p@db/x"),
    ],
)
def test_urls_pick_the_installed_drivers(url: str, sync: str, asyncio: str) -> None:
    assert normalise_url(url).render_as_string(hide_password=False) == sync
    assert make_async_url(url) == asyncio


def test_sqlite_engines_enforce_foreign_keys_and_use_wal(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    with engine.connect() as connection:
        assert connection.scalar(text("PRAGMA foreign_keys")) == 1
        assert connection.scalar(text("PRAGMA journal_mode")) == "wal"
    engine.dispose()


async def test_async_sessions_read_what_sync_code_wrote(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'async.db'}"
    upgrade_database(url)
    now = datetime.datetime.now(datetime.UTC)
    sync_engine = make_engine(url)
    with sync_engine.begin() as connection:
        connection.execute(
            insert(Site).values(
                id=uuid.uuid4(),
                name="Harbour",
                origin_lat=53.54,
                origin_lon=9.98,
                created_at=now,
                updated_at=now,
            )
        )
    sync_engine.dispose()

    engine = make_async_engine(url)
    async with async_session_factory(engine)() as session:
        site = (await session.scalars(select(Site))).one()
        assert (site.name, site.timezone) == ("Harbour", "UTC")
        assert (await session.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    await engine.dispose()
