"""Rules the database itself enforces, so every writer (API, realtime path, scripts) gets them."""

from __future__ import annotations

import datetime
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db.engine import make_engine, session_factory, upgrade_database
from core.db.models import (
    Alert,
    AlertComment,
    AlertRule,
    Asset,
    Gateway,
    Geofence,
    Job,
    LocationHistory,
    Site,
    ZoneEvent,
    normalise_tag_id,
)

pytestmark = pytest.mark.unit

T0 = datetime.datetime(2025, 3, 1, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.db"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture
def engine(migrated_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A freshly migrated database per test (a copy of one migrated template: migrating is the slow part)."""
    path = tmp_path / "test.db"
    shutil.copy(migrated_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_factory(engine)() as session:
        yield session


@pytest.fixture
def site(session: Session) -> Site:
    site = Site(name="Depot", origin_lat=52.52, origin_lon=13.405, timezone="Europe/Berlin")
    session.add(site)
    session.commit()
    return site


def _rule(session: Session, site: Site) -> AlertRule:
    rule = AlertRule(name="Left work area", kind="zone_exit", site_id=site.id, severity="warning")
    session.add(rule)
    session.commit()
    return rule


def _alert(rule: AlertRule, subject_id: str, **values: object) -> Alert:
    return Alert(
        rule_id=rule.id,
        kind=rule.kind,
        subject_type="asset",
        subject_id=subject_id,
        severity="warning",
        message="asset left its work area",
        **values,
    )


def test_tag_ids_are_normalised_to_upper_hex_and_unique(session: Session, site: Site) -> None:
    session.add(Asset(name="Drill 1", tag_id="ac:23:3f:a0:01:02", site_id=site.id))
    session.commit()
    assert session.scalar(select(Asset.tag_id)) == "AC233FA00102"

    session.add(Asset(name="Drill 2", tag_id="AC-23-3F-A0-01-02"))
    with pytest.raises(IntegrityError, match="tag_id"):
        session.commit()


def test_a_tag_id_that_is_not_hex_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="tag_id"):
        normalise_tag_id("TAG-0001")
    with pytest.raises(ValueError, match="tag_id"):
        Asset(name="Ladder", tag_id="not a tag")


def test_the_database_refuses_a_lower_case_tag_id_written_by_raw_sql(engine: Engine) -> None:
    with pytest.raises(IntegrityError, match="tag_id_upper_hex"), engine.begin() as connection:
        connection.execute(
            insert(Asset.__table__).values(
                id=uuid.uuid4(), name="Pump", tag_id="ac233f", created_at=T0, updated_at=T0
            )
        )


def test_untagged_assets_may_coexist(session: Session) -> None:
    session.add_all([Asset(name="Crate 1"), Asset(name="Crate 2")])
    session.commit()
    assert session.scalar(select(func.count()).select_from(Asset)) == 2


def test_only_one_unresolved_alert_per_rule_and_subject(session: Session, site: Site) -> None:
    rule = _rule(session, site)
    first = _alert(rule, "asset-1")
    session.add(first)
    session.commit()
    assert first.subject_key == "asset:asset-1"

    session.add(_alert(rule, "asset-1"))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()

    # Acknowledged is still unresolved: a new alert is refused.
    first.status, first.acknowledged_at, first.acknowledged_by = "acknowledged", T0, "ops"
    session.commit()
    session.add(_alert(rule, "asset-1"))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()

    # Other subjects and, once resolved, the same subject may alert again.
    session.add(_alert(rule, "asset-2"))
    first.status, first.resolved_at = "resolved", T0
    session.commit()
    session.add(_alert(rule, "asset-1"))
    session.commit()
    statuses = session.scalars(
        select(Alert.status).where(Alert.subject_id == "asset-1").order_by(Alert.status)
    )
    assert list(statuses) == ["open", "resolved"]


def test_a_resolved_alert_needs_its_resolution_time(session: Session, site: Site) -> None:
    session.add(_alert(_rule(session, site), "asset-1", status="resolved"))
    with pytest.raises(IntegrityError, match="resolved_has_time"):
        session.commit()


def test_alert_comments_load_with_their_alert_and_go_with_it(session: Session, site: Site) -> None:
    alert = _alert(_rule(session, site), "asset-1")
    alert.comments.append(AlertComment(author="ana", body="forklift parked outside for loading"))
    session.add(alert)
    session.commit()
    session.expunge_all()

    loaded = session.get(Alert, alert.id)
    assert loaded is not None and [c.body for c in loaded.comments] == ["forklift parked outside for loading"]
    session.delete(loaded)
    session.commit()
    assert session.scalar(select(func.count()).select_from(AlertComment)) == 0


def test_foreign_keys_are_enforced_on_sqlite_too(session: Session) -> None:
    session.add(Gateway(gateway_id="GW1", site_id=uuid.uuid4(), x=1.0, y=2.0))
    with pytest.raises(IntegrityError, match="FOREIGN KEY"):
        session.commit()


def test_a_gateway_needs_a_position_by_metres_or_lat_lon(session: Session, site: Site) -> None:
    session.add(Gateway(gateway_id="GW-LATLON", site_id=site.id, lat=52.52, lon=13.40))
    session.commit()
    session.add(Gateway(gateway_id="GW-NOWHERE", site_id=site.id))
    with pytest.raises(IntegrityError, match="has_position"):
        session.commit()


def test_a_circle_geofence_needs_a_centre_and_positive_radius(session: Session, site: Site) -> None:
    session.add(Geofence(site_id=site.id, name="Bay", shape="circle", center_x=3, center_y=4, radius_m=0))
    with pytest.raises(IntegrityError, match="circle_has_center_radius"):
        session.commit()


def test_enumerated_columns_refuse_unknown_values(session: Session, site: Site) -> None:
    session.add(
        Geofence(site_id=site.id, name="Yard", shape="polygon", kind="car_park", geometry={"type": "Polygon"})
    )
    with pytest.raises(IntegrityError, match="kind_valid"):
        session.commit()


def test_site_time_zone_must_be_a_real_zone() -> None:
    with pytest.raises(ValueError, match="timezone"):
        Site(name="Nowhere", origin_lat=0, origin_lon=0, timezone="Mars/Olympus")


def test_replayed_history_and_zone_events_insert_nothing_twice(
    engine: Engine, session: Session, site: Site
) -> None:
    fix = {
        "tag_id": "AC233FA00102",
        "ts": T0,
        "x": 1.5,
        "y": 2.5,
        "accuracy_m": 1.2,
        "confidence": 0.8,
        "method": "trilateration",
        "gateway_count": 4,
    }
    zone = Geofence(site_id=site.id, name="Bay 1", shape="circle", center_x=0, center_y=0, radius_m=5)
    session.add(zone)
    session.commit()
    event = {"tag_id": "AC233FA00102", "geofence_id": zone.id, "kind": "enter", "ts": T0}
    for _ in range(2):  # the same batch delivered twice
        with engine.begin() as connection:
            connection.execute(sqlite_insert(LocationHistory).values([fix]).on_conflict_do_nothing())
            connection.execute(sqlite_insert(ZoneEvent).values([event]).on_conflict_do_nothing())
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(LocationHistory)) == 1
        assert connection.scalar(select(func.count()).select_from(ZoneEvent)) == 1
        stored_ts = connection.scalar(select(LocationHistory.ts))
    assert stored_ts == T0


def test_jobs_carry_their_assigned_assets(session: Session, site: Site) -> None:
    drill, saw = Asset(name="Drill", tag_id="A1"), Asset(name="Saw", tag_id="A2")
    job = Job(title="Refit bay 3", site_id=site.id, starts_at=T0, ends_at=T0 + datetime.timedelta(hours=8))
    job.assets.extend([drill, saw])
    session.add(job)
    session.commit()
    session.expunge_all()
    loaded = session.get(Job, job.id)
    assert loaded is not None and sorted(a.name for a in loaded.assets) == ["Drill", "Saw"]
    assert loaded.status == "planned"


def test_json_columns_round_trip_and_have_defaults(engine: Engine, session: Session) -> None:
    session.add(Asset(name="Generator", attributes={"serial": "G-77", "kw": 5.5}))
    session.commit()
    with engine.begin() as connection:  # a writer that leaves attributes out gets {} from the database
        connection.execute(
            text(
                "INSERT INTO assets (id, name, created_at, updated_at) "
                "VALUES (x'00000000000000000000000000000001', 'Bare', '2025-01-01', '2025-01-01')"
            )
        )
    session.expire_all()
    by_name = {a.name: a.attributes for a in session.scalars(select(Asset))}
    assert by_name == {"Generator": {"serial": "G-77", "kw": 5.5}, "Bare": {}}
