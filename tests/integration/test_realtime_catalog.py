"""Assets registered, re-tagged or deleted while the consumer runs: it picks the change up without a restart, and a
deleted asset never stalls the writes (its later fixes carry no asset)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from sqlalchemy import text

from realtime.pipeline import PipelineOptions, RealtimePipeline
from tests.integration.test_realtime_support import prepare, produce, wait_for

pytestmark = pytest.mark.integration


def _current(engine) -> dict[str, tuple[object, float]]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT tag_id, asset_id, ts FROM current_locations")).all()
    return {tag: (asset, ts.timestamp()) for tag, asset, ts in rows}


# 1 s: the periodic reload sees both changes before the next observations arrive. 3600 s: it does not; the first
# write meets the deleted asset's foreign key, drops the reference and forces a reload (this used to kill the
# consumer with a ForeignKeyViolation).
@pytest.mark.parametrize("refresh_s", [1.0, 3600.0])
def test_consumer_follows_assets_registered_and_deleted_while_it_runs(
    integration_settings, refresh_s
) -> None:
    settings = integration_settings.model_copy(update={"history_heartbeat_s": 0.5})
    engine, site = prepare(settings)  # the module's database: the other case ran on it first
    late_tag, doomed_tag = site.tag_ids[0 if refresh_s < 60 else 2], site.tag_ids[1 if refresh_s < 60 else 3]
    with engine.begin() as conn:  # `late_tag` starts unregistered: its asset is added while the consumer runs
        asset_site = conn.execute(text("SELECT id FROM sites WHERE name = :n"), {"n": site.name}).scalar_one()
        conn.execute(text("DELETE FROM assets WHERE tag_id = :t"), {"t": late_tag})
        doomed_id = conn.execute(
            text("SELECT id FROM assets WHERE tag_id = :t"), {"t": doomed_tag}
        ).scalar_one()
        registered = set(conn.scalars(text("SELECT tag_id FROM assets WHERE tag_id IS NOT NULL")))

    pipeline = RealtimePipeline(settings, options=PipelineOptions(catalog_refresh_s=refresh_s))
    stop = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            pipeline.run(stop)
        except BaseException as exc:  # the consumer dying is what this test guards against
            failures.append(exc)
            raise

    worker = threading.Thread(target=run)
    worker.start()
    try:
        # after anything an earlier case left in the module's database
        newest = max((ts for _, ts in _current(engine).values()), default=0.0)
        start = max(float(int(time.time()) - 60), float(int(newest) + 1))
        produce(settings, site, start, 10)
        wait_for(
            lambda: all(_current(engine).get(tag, (None, 0.0))[1] >= start for tag in registered),
            40,
            "every registered tag located",
        )
        before = _current(engine)
        assert before.get(late_tag, (None, 0.0))[1] < start  # an unregistered tag is only counted
        assert before[doomed_tag][0] == doomed_id

        new_id = uuid.uuid4()
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO assets (id, name, site_id, tag_id, status, created_at, updated_at) "
                    "VALUES (:id, 'registered late', :site, :tag, 'active', now(), now())"
                ),
                {"id": new_id, "site": asset_site, "tag": late_tag},
            )
            conn.execute(text("DELETE FROM assets WHERE id = :id"), {"id": doomed_id})
        time.sleep(2.0)  # past the short refresh interval
        produce(settings, site, start + 10, 10, seed=4)
        cutoff = start + 15
        # A deleted asset's tag is unregistered from then on: only counted, like any unknown tag.
        registered = registered - {doomed_tag}
        if refresh_s < 60:  # a new asset is picked up by the periodic reload (the long case has none in time)
            registered.add(late_tag)
        wait_for(
            lambda: all(_current(engine).get(tag, (None, 0.0))[1] > cutoff for tag in registered),
            40,
            "every registered tag located again",
        )
        after = _current(engine)
        if refresh_s < 60:
            assert after[late_tag][0] == new_id  # registered while running: picked up
        assert after[doomed_tag][0] is None  # deleted while running: its row lost the reference
    finally:
        stop.set()
        worker.join(30)
    assert not worker.is_alive() and not failures


def test_catalog_fingerprint_moves_with_what_the_loop_uses_only(integration_settings) -> None:
    """The periodic refresh reloads only when this changes: it must change with every registration, move or
    deletion, and stay put while the loop itself writes last_seen, status and battery."""
    from realtime.catalog import catalog_fingerprint
    from realtime.writers import touch_assets, touch_gateways

    engine, site = prepare(integration_settings)

    def fingerprint() -> tuple | None:
        with engine.connect() as conn:
            return catalog_fingerprint(conn)

    before = fingerprint()
    with engine.begin() as conn:
        touch_assets(conn, [(tag, time.time(), 42.0) for tag in site.tag_ids])
        touch_gateways(conn, [(gid, time.time()) for gid in site.gateway_ids])
        conn.execute(text("UPDATE gateways SET status = 'offline'"))
    assert fingerprint() == before

    changes = [
        "UPDATE gateways SET x = x + 0.5 WHERE gateway_id = (SELECT min(gateway_id) FROM gateways)",
        "UPDATE assets SET tag_id = 'ABCDEF0001' WHERE tag_id = (SELECT min(tag_id) FROM assets)",
        "UPDATE assets SET site_id = NULL WHERE tag_id = 'ABCDEF0001'",
        "DELETE FROM assets WHERE tag_id = 'ABCDEF0001'",
        "UPDATE sites SET origin_lat = origin_lat + 0.001",
    ]
    seen = {before}
    for change in changes:
        with engine.begin() as conn:
            conn.execute(text(change))
        now = fingerprint()
        assert now not in seen, change
        seen.add(now)
