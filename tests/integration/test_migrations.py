"""The migrations on a real PostgreSQL: the models' schema, the partitioned location history, its retention,
and the rules the database enforces for every writer."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, insert, inspect, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from core.cli import main
from core.db import partitions
from core.db.engine import async_session_factory, make_async_engine, make_engine, upgrade_database
from core.db.migrate import current_revision, downgrade, head_revision
from core.db.models import Alert, AlertRule, Asset, LocationHistory, Site, metadata
from core.settings import get_settings

pytestmark = pytest.mark.integration

DAY = datetime.timedelta(days=1)


def _utc(year: int, month: int, day: int, hour: int = 0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, tzinfo=datetime.UTC)


def _fix(tag_id: str, ts: datetime.datetime) -> dict[str, object]:
    return {
        "tag_id": tag_id,
        "ts": ts,
        "x": 4.0,
        "y": 7.5,
        "accuracy_m": 1.5,
        "confidence": 0.7,
        "method": "trilateration",
        "gateway_count": 3,
    }


def _partition_of(engine: Engine, tag_id: str) -> list[str]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT tableoid::regclass::text FROM location_history WHERE tag_id = :t ORDER BY ts"),
            {"t": tag_id},
        )
        return [row[0] for row in rows]


@pytest.fixture(scope="module")
def engine(postgres_url: str) -> Iterator[Engine]:
    upgrade_database(postgres_url)
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


def test_upgrade_builds_the_models_schema(engine: Engine, postgres_url: str) -> None:
    assert current_revision(postgres_url) == head_revision()
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_name": lambda n, t, _p: not (t == "table" and partitions.is_partition(n)),
            },
        )
        assert compare_metadata(context, metadata) == []


def test_location_history_is_time_partitioned(engine: Engine) -> None:
    with engine.connect() as connection:
        has_timescale = connection.scalar(
            text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
        )
        storage = partitions.history_storage(connection)
        names = partitions.list_partitions(connection)
    if has_timescale:
        assert storage == "timescaledb"
        return
    assert storage == "partitioned"
    today = datetime.datetime.now(datetime.UTC).date()
    expected = {
        partitions.partition_name(today + offset * DAY) for offset in range(partitions.DAYS_AHEAD + 1)
    }
    assert expected | {partitions.DEFAULT_PARTITION} <= set(names)


def test_history_inserts_are_idempotent_and_land_in_their_day(engine: Engine) -> None:
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    batch = [_fix("AA0001", now), _fix("AA0001", now + datetime.timedelta(seconds=60))]
    for _ in range(2):  # the same batch replayed after a consumer restart
        with engine.begin() as connection:
            connection.execute(pg_insert(LocationHistory).values(batch).on_conflict_do_nothing())
    with engine.connect() as connection:
        stored = connection.execute(
            select(LocationHistory.ts).where(LocationHistory.tag_id == "AA0001")
        ).scalars()
        assert list(stored) == [now, now + datetime.timedelta(seconds=60)]
    assert set(_partition_of(engine, "AA0001")) <= {
        partitions.partition_name(now.date()),
        partitions.partition_name((now + datetime.timedelta(seconds=60)).date()),
    }


def test_rows_caught_by_the_default_partition_move_into_a_new_daily_partition(engine: Engine) -> None:
    far = _utc(2031, 5, 17, 9)  # no partition exists this far ahead
    with engine.begin() as connection:
        connection.execute(insert(LocationHistory).values([_fix("BB0002", far), _fix("BB0002", far + DAY)]))
    assert _partition_of(engine, "BB0002") == [partitions.DEFAULT_PARTITION] * 2

    with engine.begin() as connection:
        created = partitions.ensure_partitions(connection, start=far.date(), days_ahead=0, now=far)
        # Running it again (a second maintainer, or tomorrow's run) changes nothing.
        assert partitions.ensure_partitions(connection, start=far.date(), days_ahead=0, now=far) == []
    assert created == [partitions.partition_name(far.date())]
    assert _partition_of(engine, "BB0002") == [
        partitions.partition_name(far.date()),
        partitions.DEFAULT_PARTITION,
    ]
    with engine.begin() as connection:  # the moved rows are still covered by the natural key
        connection.execute(pg_insert(LocationHistory).values([_fix("BB0002", far)]).on_conflict_do_nothing())
        count = select(func.count()).select_from(LocationHistory).where(LocationHistory.tag_id == "BB0002")
        assert connection.scalar(count) == 2


def test_retention_drops_whole_expired_days_and_old_default_rows(engine: Engine) -> None:
    now = _utc(2025, 1, 10, 12)
    with engine.begin() as connection:
        partitions.ensure_partitions(connection, start=_utc(2025, 1, 1).date(), days_ahead=0, now=now)
        connection.execute(
            insert(LocationHistory).values(
                [
                    _fix("CC0003", _utc(2025, 1, 2, 8)),  # expired: its whole day is before the cutoff
                    _fix("CC0003", _utc(2025, 1, 9, 8)),  # kept
                    _fix("CC0003", _utc(2024, 6, 1, 8)),  # no daily partition: in the default one, expired
                ]
            )
        )

    with engine.begin() as connection:
        dropped, deleted = partitions.drop_expired(
            connection, retention_days=5, now=now
        )  # cutoff 2025-01-05 12:00
        remaining = set(partitions.list_partitions(connection))

    assert sorted(dropped) == [partitions.partition_name(_utc(2025, 1, d).date()) for d in range(1, 5)]
    assert deleted == 1
    assert partitions.partition_name(_utc(2025, 1, 5).date()) in remaining  # its day straddles the cutoff
    with engine.connect() as connection:
        kept = connection.execute(
            select(LocationHistory.ts).where(LocationHistory.tag_id == "CC0003")
        ).scalars()
        assert list(kept) == [_utc(2025, 1, 9, 8)]


def test_one_unresolved_alert_per_rule_and_subject(engine: Engine) -> None:
    site_id, rule_id = uuid.uuid4(), uuid.uuid4()
    stamp = {"created_at": _utc(2025, 1, 1), "updated_at": _utc(2025, 1, 1)}
    alert = {
        "rule_id": rule_id,
        "kind": "battery_low",
        "subject_type": "asset",
        "subject_id": "a1",
        "severity": "info",
    }
    with engine.begin() as connection:
        connection.execute(insert(Site).values(id=site_id, name="Yard", origin_lat=1, origin_lon=2, **stamp))
        connection.execute(insert(AlertRule).values(id=rule_id, name="Battery", kind="battery_low", **stamp))
        connection.execute(insert(Alert).values(id=uuid.uuid4(), message="low", **alert, **stamp))
    with (
        pytest.raises(IntegrityError, match="uq_alerts_one_unresolved_per_subject"),
        engine.begin() as connection,
    ):
        connection.execute(insert(Alert).values(id=uuid.uuid4(), message="low again", **alert, **stamp))
    with engine.begin() as connection:
        connection.execute(text("UPDATE alerts SET status = 'resolved', resolved_at = now()"))
        connection.execute(insert(Alert).values(id=uuid.uuid4(), message="low again", **alert, **stamp))
        assert connection.scalar(select(func.count()).select_from(Alert)) == 2


def test_tag_ids_must_be_upper_hex(engine: Engine) -> None:
    stamp = {"created_at": _utc(2025, 1, 1), "updated_at": _utc(2025, 1, 1)}
    with pytest.raises(IntegrityError, match="tag_id_upper_hex"), engine.begin() as connection:
        connection.execute(insert(Asset).values(id=uuid.uuid4(), name="Pump", tag_id="ac:23", **stamp))


def test_cli_reports_and_maintains_the_database(
    engine: Engine, postgres_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ASSET_TAG_DATABASE_URL", postgres_url)
    get_settings.cache_clear()
    assert main(["db", "current"]) == 0
    assert f"head is {head_revision()}: up to date" in capsys.readouterr().out
    with engine.connect() as connection:
        storage = partitions.history_storage(connection)
    assert main(["db", "maintain"]) == 0
    assert f"location_history ({storage}):" in capsys.readouterr().out


async def test_async_sessions_work_on_postgres_through_psycopg(engine: Engine, postgres_url: str) -> None:
    async_engine = make_async_engine(postgres_url)
    try:
        async with async_session_factory(async_engine)() as session:
            session.add(Site(name="Async yard", origin_lat=48.1, origin_lon=11.6, timezone="Europe/Berlin"))
            await session.commit()
            site = (await session.scalars(select(Site).where(Site.name == "Async yard"))).one()
            assert site.timezone == "Europe/Berlin" and site.created_at.tzinfo is not None
    finally:
        await async_engine.dispose()


def test_downgrade_to_base_removes_every_table_and_partition_and_the_cli_upgrades_again(
    engine: Engine, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    downgrade(postgres_url, "base")
    with engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) == {"alembic_version"}

    monkeypatch.setenv("ASSET_TAG_DATABASE_URL", postgres_url)
    get_settings.cache_clear()
    assert main(["db", "upgrade"]) == 0  # the cycle is repeatable, from the command line too
    assert current_revision(postgres_url) == head_revision()
    with engine.connect() as connection:
        assert partitions.history_storage(connection) in {"partitioned", "timescaledb"}


def test_tables_updated_in_place_leave_room_for_hot_updates(engine: Engine) -> None:
    with engine.connect() as connection:
        options = dict(
            connection.execute(
                text(
                    "SELECT relname, reloptions FROM pg_class "
                    "WHERE relname IN ('assets', 'gateways', 'current_locations', 'sites')"
                )
            ).all()
        )
    assert all(options[t] == ["fillfactor=80"] for t in ("assets", "gateways", "current_locations"))
    assert options["sites"] is None  # rarely updated: packed full
