"""Unit fixtures for the API: a migrated SQLite database, the app on the embedded backends, keys per role."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.engine import make_url

from api.app import create_app
from api.keys.services import issue_key
from core.db.engine import async_session_factory, make_async_engine, upgrade_database
from core.db.enums import ApiKeyRole
from core.settings import Settings


async def _issue(url: str) -> dict[str, str]:
    engine = make_async_engine(url)
    try:
        async with async_session_factory(engine)() as session:
            keys = {
                role.value: (await issue_key(session, f"test-{role.value}", role))[1] for role in ApiKeyRole
            }
            await session.commit()
        return keys
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrating takes seconds; do it once and give each test a copy of the file."""
    path = tmp_path_factory.mktemp("schema") / "template.db"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture
def migrated(embedded_settings: Settings, migrated_template: Path) -> Settings:
    target = Path(make_url(embedded_settings.database_url).database or "")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(migrated_template, target)
    return embedded_settings


@pytest.fixture
def api_keys(migrated: Settings) -> dict[str, str]:
    return asyncio.run(_issue(migrated.database_url))


@pytest.fixture
def app(migrated: Settings, api_keys: dict[str, str]) -> Litestar:
    return create_app(migrated)


@pytest.fixture
async def client(app: Litestar, api_keys: dict[str, str]) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A client authenticated as admin; pass `headers=` to act as another role."""
    async with AsyncTestClient(app=app) as test_client:
        test_client.headers["X-API-Key"] = api_keys["admin"]
        yield test_client


def as_role(keys: dict[str, str], role: str) -> dict[str, str]:
    return {"X-API-Key": keys[role]}


@pytest.fixture
def db(migrated: Settings):
    """A sync session on the test database, for seeding rows the realtime path would write."""
    from core.db.engine import make_engine, session_factory

    engine = make_engine(migrated.database_url)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()
