"""Integration fixtures for the API: a fresh PostgreSQL database (migrated), the real Redis under a prefix of its
own, keys for every role, an in-process client, and a real uvicorn server for schemathesis."""

from __future__ import annotations

import asyncio
import datetime
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import uvicorn
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.keys.services import issue_key
from core.db.engine import async_session_factory, make_async_engine, upgrade_database
from core.db.enums import ApiKeyRole
from core.settings import Settings
from tests.integration.conftest import service_settings

pytestmark = pytest.mark.integration


async def _issue(url: str) -> dict[str, str]:
    engine = make_async_engine(url)
    try:
        async with async_session_factory(engine)() as session:
            keys = {
                role.value: (await issue_key(session, f"it-{role.value}", role))[1] for role in ApiKeyRole
            }
            await session.commit()
        return keys
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def api_settings(services: dict[str, str], postgres_url: str, run_id: str) -> Settings:
    upgrade_database(postgres_url)
    return service_settings(services, database_url=postgres_url, redis_prefix=f"{run_id}:")


@pytest.fixture(scope="module")
def api_keys(api_settings: Settings) -> dict[str, str]:
    return asyncio.run(_issue(api_settings.database_url))


@pytest.fixture
async def client(
    api_settings: Settings, api_keys: dict[str, str]
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(api_settings)) as test_client:
        test_client.headers["X-API-Key"] = api_keys["admin"]
        yield test_client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live_server(api_settings: Settings) -> Iterator[str]:
    """The app served by uvicorn on a loopback port, in a thread; yields its base URL."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(api_settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the API server did not start within 30 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def db_fix_writer(api_settings: Settings):
    from core.db.engine import make_engine, session_factory
    from core.db.models import CurrentLocation

    engine = make_engine(api_settings.database_url)

    def write(tag_id: str, asset_id: str, site_id: str, x: float) -> None:
        with session_factory(engine)() as session:
            session.add(
                CurrentLocation(
                    tag_id=tag_id,
                    asset_id=asset_id,
                    site_id=site_id,
                    ts=datetime.datetime.now(datetime.UTC),
                    x=x,
                    y=0.0,
                    floor=0,
                    accuracy_m=2.0,
                    confidence=0.7,
                    method="midpoint",
                    gateway_count=2,
                )
            )
            session.commit()

    yield write
    engine.dispose()
