"""`assettag db ...`: migrations from the command line, and one clear line when the database URL is wrong."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from core.cli import main
from core.db.engine import make_engine
from core.db.migrate import head_revision
from core.db.models import LocationHistory
from core.settings import get_settings

pytestmark = pytest.mark.unit


def _use_database(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("ASSET_TAG_DATABASE_URL", url)
    get_settings.cache_clear()


def test_upgrade_then_current_on_the_embedded_database(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "current"]) == 0
    assert "database at base (empty)" in capsys.readouterr().out

    assert main(["db", "upgrade"]) == 0
    assert f"database now at {head_revision()}" in capsys.readouterr().out
    assert (get_settings().data_dir / "asset-tag.db").exists()

    assert main(["db", "current"]) == 0
    assert "up to date" in capsys.readouterr().out

    assert main(["db", "downgrade", "--revision", "base"]) == 0
    assert "database now at base" in capsys.readouterr().out


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://assettag:s3cret@127.0.0.1:1/assettag",  # nothing listens on port 1
        "sqlite:////proc/no-such-dir/asset-tag.db",  # cannot be created
    ],
)
def test_an_unusable_database_url_gives_one_line_naming_the_variable(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _use_database(monkeypatch, url)
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("assettag db: error: ASSET_TAG_DATABASE_URL: cannot use the database at")
    assert "Traceback" not in err and "s3cret" not in err


def test_a_database_url_of_the_wrong_kind_is_refused_by_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _use_database(monkeypatch, "mysql://root@localhost/assets")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ASSET_TAG_DATABASE_URL" in err and "postgresql+psycopg://" in err


def test_an_unknown_revision_is_reported_against_the_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _use_database(monkeypatch, f"sqlite:///{tmp_path / 'x.db'}")
    assert main(["db", "upgrade", "--revision", "doesnotexist"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--revision" in err and "doesnotexist" in err


def test_maintain_deletes_expired_history_on_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    _use_database(monkeypatch, url)
    monkeypatch.setenv("ASSET_TAG_HISTORY_RETENTION_DAYS", "30")
    get_settings.cache_clear()
    assert main(["db", "upgrade"]) == 0
    now = datetime.datetime.now(datetime.UTC)
    fix = {
        "x": 0.0,
        "y": 0.0,
        "accuracy_m": 2.0,
        "confidence": 0.5,
        "method": "proximity",
        "gateway_count": 1,
    }
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            insert(LocationHistory).values(
                [
                    {"tag_id": "AB01", "ts": now - datetime.timedelta(days=31), **fix},
                    {"tag_id": "AB01", "ts": now - datetime.timedelta(days=29), **fix},
                ]
            )
        )
    capsys.readouterr()
    assert main(["db", "maintain"]) == 0
    assert "1 expired rows deleted" in capsys.readouterr().out
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(LocationHistory)) == 1
    engine.dispose()
