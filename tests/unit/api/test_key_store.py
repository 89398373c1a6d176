"""The API-key cache in front of every request: one database load per key at a time, stale verdicts served
while a refresh runs, and a revoked key refused at once even if a load raced the revoke."""

from __future__ import annotations

import asyncio

import pytest
from litestar.exceptions import NotAuthorizedException
from sqlalchemy import event

from api.keys.services import issue_key
from api.security import KeyStore
from core.db.engine import async_session_factory, make_async_engine
from core.db.enums import ApiKeyRole
from core.settings import Settings

pytestmark = pytest.mark.unit


@pytest.fixture
async def sessions(migrated: Settings):
    engine = make_async_engine(migrated.database_url)
    yield async_session_factory(engine)
    await engine.dispose()


async def _key(sessions, role: ApiKeyRole = ApiKeyRole.OPERATOR) -> str:
    async with sessions() as session:
        _, secret = await issue_key(session, "cache-test", role)
        await session.commit()
    return secret


def _selects(sessions) -> list[str]:
    statements: list[str] = []
    engine = sessions.kw["bind"].sync_engine

    def record(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "api_keys" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    return statements


async def test_concurrent_requests_share_one_load_and_expiry_refreshes_in_the_background(sessions) -> None:
    secret = await _key(sessions)
    selects = _selects(sessions)
    store = KeyStore(sessions, ttl_s=0.2, max_stale_s=60)

    principals = await asyncio.gather(*(store.verify(secret) for _ in range(50)))
    assert {p.role for p in principals} == {ApiKeyRole.OPERATOR}
    assert len(selects) == 1

    await asyncio.sleep(0.25)  # expired: answered from the stale verdict while one refresh runs
    again = await asyncio.gather(*(store.verify(secret) for _ in range(50)))
    assert {p.prefix for p in again} == {principals[0].prefix}
    await asyncio.sleep(0.1)
    assert len(selects) == 2


async def test_revoked_key_is_refused_at_once_even_with_a_load_in_flight(sessions) -> None:
    secret = await _key(sessions)
    store = KeyStore(sessions, ttl_s=0.05, max_stale_s=60)
    principal = await store.verify(secret)
    await asyncio.sleep(0.1)
    await store.verify(secret)  # starts a background refresh that still sees the key as valid
    store.forget(principal.prefix)
    await asyncio.sleep(0.1)
    with pytest.raises(NotAuthorizedException, match="unknown or revoked"):
        await store.verify(secret)


async def test_unknown_and_wrong_secret_are_refused(sessions) -> None:
    secret = await _key(sessions)
    store = KeyStore(sessions)
    with pytest.raises(NotAuthorizedException, match="unknown or revoked"):
        await store.verify(secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB"))
    with pytest.raises(NotAuthorizedException, match="malformed"):
        await store.verify("not-a-key")


async def test_a_verdict_too_old_to_trust_waits_for_the_database(sessions) -> None:
    secret = await _key(sessions)
    store = KeyStore(sessions, ttl_s=0.05, max_stale_s=0.05)
    await store.verify(secret)
    await asyncio.sleep(0.1)

    async def broken():
        raise ConnectionError("database down")

    store._load = lambda prefix: broken()  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await store.verify(secret)
