"""The asset -> tag map behind GET /assets/{id}/location: loaded whole, reloaded in the background, and
never serving a re-tag made through this process's API."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import event, insert, update

from api.errors import NotFound
from api.locations.services import TagLookup
from core.db.engine import async_session_factory, make_async_engine
from core.db.models import Asset, Site
from core.settings import Settings

pytestmark = pytest.mark.unit


@pytest.fixture
async def sessions(migrated: Settings):
    engine = make_async_engine(migrated.database_url)
    factory = async_session_factory(engine)
    yield factory
    await engine.dispose()


async def _seed(sessions, count: int) -> dict[uuid.UUID, str]:
    site_id = uuid.uuid4()
    tags = {uuid.uuid4(): f"AA{i:010X}" for i in range(count)}
    async with sessions() as session:
        await session.execute(insert(Site), [{"id": site_id, "name": "s", "origin_lat": 1, "origin_lon": 1}])
        rows = [
            {"id": a, "name": f"a{i}", "tag_id": t, "site_id": site_id}
            for i, (a, t) in enumerate(tags.items())
        ]
        await session.execute(insert(Asset), rows)
        await session.commit()
    return tags


async def _retag(sessions, asset_id: uuid.UUID, tag_id: str) -> None:
    async with sessions() as session:
        await session.execute(update(Asset).where(Asset.id == asset_id).values(tag_id=tag_id))
        await session.commit()


def _count_queries(sessions) -> list[str]:
    statements: list[str] = []
    engine = sessions.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    return statements


async def test_many_assets_cost_one_query(sessions) -> None:
    tags = await _seed(sessions, 200)
    lookup = TagLookup(sessions)
    queries = _count_queries(sessions)
    for asset_id, tag_id in tags.items():
        assert await lookup.tag_of(asset_id) == tag_id
    assert len([q for q in queries if "FROM assets" in q]) == 1
    with pytest.raises(NotFound):
        await lookup.tag_of(uuid.uuid4())
    await lookup.aclose()


async def test_forget_shows_a_retag_at_once_and_a_reload_shows_outside_changes(sessions) -> None:
    tags = await _seed(sessions, 3)
    first, second, third = tags
    lookup = TagLookup(sessions, refresh_s=0.2)
    assert await lookup.tag_of(first) == tags[first]

    await _retag(sessions, first, "BB0000000001")
    lookup.forget(first)  # what the API's PATCH does
    assert await lookup.tag_of(first) == "BB0000000001"

    await _retag(sessions, second, "BB0000000002")  # e.g. another worker: visible after the refresh interval
    assert await lookup.tag_of(second) == tags[second]
    await asyncio.sleep(0.3)
    await lookup.tag_of(third)  # the stale map is still served while the reload runs in the background
    for _ in range(50):
        if await lookup.tag_of(second) == "BB0000000002":
            break
        await asyncio.sleep(0.02)
    assert await lookup.tag_of(second) == "BB0000000002"
    await lookup.aclose()
