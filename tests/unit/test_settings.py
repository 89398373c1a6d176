"""Settings: embedded defaults, production URLs, and one-line errors that name the variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.cli import main
from core.settings import SettingsError, load_settings

pytestmark = pytest.mark.unit


def test_embedded_defaults_need_no_services(embedded_settings) -> None:
    settings = load_settings()
    assert settings.database_url.startswith("sqlite:///")
    assert settings.redis_url == "memory://"
    assert settings.stream_url == "memory://"
    assert settings.lakehouse_url.startswith("file:///")
    assert settings.mlflow_tracking_uri.startswith("sqlite:///")
    assert not settings.uses_postgres


def test_production_urls_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSET_TAG_DATABASE_URL", "postgresql+psycopg://u:p@db.example:5432/assettag")
    monkeypatch.setenv("ASSET_TAG_STREAM_URL", "kafka://k1:9092,k2:9092")
    monkeypatch.setenv("ASSET_TAG_TOPIC_PREFIX", "staging.")
    monkeypatch.setenv("ASSET_TAG_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    settings = load_settings()
    assert settings.uses_postgres
    assert settings.kafka_bootstrap_servers == "k1:9092,k2:9092"
    assert settings.topic("ble.observations") == "staging.ble.observations"
    assert settings.kafka_config()["sasl.mechanism"] == "SCRAM-SHA-512"


def test_dotenv_file_is_read(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("ASSET_TAG_REDIS_URL=redis://127.0.0.1:6380/2\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings().redis_url == "redis://127.0.0.1:6380/2"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("ASSET_TAG_DATABASE_URL", "mysql://x", "ASSET_TAG_DATABASE_URL: expected sqlite"),
        (
            "ASSET_TAG_DATABASE_URL",
            "postgresql+psycopg:///nohost",
            "ASSET_TAG_DATABASE_URL: a postgresql URL needs a host",
        ),
        ("ASSET_TAG_REDIS_URL", "http://x", "ASSET_TAG_REDIS_URL: expected memory://"),
        ("ASSET_TAG_STREAM_URL", "kafka://", "ASSET_TAG_STREAM_URL: a kafka URL needs at least one broker"),
        ("ASSET_TAG_LAKEHOUSE_URL", "gs://b/p", "ASSET_TAG_LAKEHOUSE_URL: expected file://"),
        ("ASSET_TAG_WINDOW_S", "-1", "ASSET_TAG_WINDOW_S:"),
        ("ASSET_TAG_API_PORT", "eighty", "ASSET_TAG_API_PORT:"),
        ("ASSET_TAG_ZONE_EXIT_DWELL_S", "-3", "ASSET_TAG_ZONE_EXIT_DWELL_S:"),
        ("ASSET_TAG_ZONE_SPEED_AWARE", "sometimes", "ASSET_TAG_ZONE_SPEED_AWARE:"),
    ],
)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert str(error.value).startswith(expected)
    assert "\n" not in str(error.value)


def test_zone_settings_reach_the_consumers_zone_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    from realtime.zones_stage import ZonesStage

    monkeypatch.setenv("ASSET_TAG_ZONE_ENTER_DWELL_S", "12")
    monkeypatch.setenv("ASSET_TAG_ZONE_EXIT_DWELL_S", "7.5")
    monkeypatch.setenv("ASSET_TAG_ZONE_SPEED_AWARE", "false")
    config = ZonesStage(load_settings()).config
    assert (config.enter_dwell_s, config.exit_dwell_s, config.speed_aware) == (12.0, 7.5, False)


def test_cli_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "db" in capsys.readouterr().out


def test_cli_bad_database_url_is_one_line_without_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"ASSET_TAG_DATABASE_URL": "mysql://nope", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "core.cli", "db", "upgrade"],
        capture_output=True,
        text=True,
        env=env,
        cwd=_repo_root(),
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "assettag db: error: ASSET_TAG_DATABASE_URL: expected sqlite:///path/to.db or "
        "postgresql+psycopg://user:pass@host:port/db (got 'mysql://nope')"
    ]


def _repo_root() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parents[2])
