"""docker-compose.yml stays in step with the settings: every variable exists and every URL points at a service."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from core.settings import ENV_PREFIX, Settings, load_settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _app_env(compose: dict) -> dict[str, str]:
    return {key: str(value) for key, value in compose["x-app-env"].items()}


def test_every_asset_tag_variable_is_a_setting(compose: dict) -> None:
    known = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields} | {
        "MLFLOW_TRACKING_URI",
        "DAGSTER_HOME",
    }
    known.add("ASSET_TAG_DAGSTER_PG_URL")  # read by orchestration/dagster.yaml, not by Settings
    unknown = set(_app_env(compose)) - known
    assert not unknown, f"compose sets variables the platform does not read: {unknown}"


def test_app_settings_load_and_point_at_compose_services(compose: dict) -> None:
    env = _app_env(compose)
    settings = load_settings(
        **{k.removeprefix(ENV_PREFIX).lower(): v for k, v in env.items() if k.startswith(ENV_PREFIX)}
    )
    services = compose["services"]
    hosts = {
        urlsplit(settings.database_url).hostname,
        urlsplit(settings.redis_url).hostname,
        settings.kafka_bootstrap_servers.split(":")[0],
        urlsplit(settings.s3_endpoint_url or "").hostname,
        urlsplit(env["MLFLOW_TRACKING_URI"]).hostname,
    }
    assert hosts <= set(services), f"URLs name hosts that are not compose services: {hosts - set(services)}"
    # internal ports the URLs use are the ones the services listen on
    assert urlsplit(settings.database_url).port == 5432
    assert urlsplit(settings.redis_url).port == 6379
    assert settings.kafka_bootstrap_servers == "redpanda:9092"
    assert "PLAINTEXT://0.0.0.0:9092" in " ".join(services["redpanda"]["command"])
    assert f"{settings.api_port}:{settings.api_port}" in services["api"]["ports"]


def test_database_credentials_match_postgres_service(compose: dict) -> None:
    url = urlsplit(_app_env(compose)["ASSET_TAG_DATABASE_URL"])
    pg = compose["services"]["postgres"]["environment"]
    assert (url.username, url.password, url.path.lstrip("/")) == (
        pg["POSTGRES_USER"],
        pg["POSTGRES_PASSWORD"],
        pg["POSTGRES_DB"],
    )


def test_s3_credentials_match_minio(compose: dict) -> None:
    env = _app_env(compose)
    minio = compose["services"]["minio"]["environment"]
    assert env["ASSET_TAG_S3_ACCESS_KEY_ID"] == minio["MINIO_ROOT_USER"]
    assert env["ASSET_TAG_S3_SECRET_ACCESS_KEY"] == minio["MINIO_ROOT_PASSWORD"]
    bucket = urlsplit(env["ASSET_TAG_LAKEHOUSE_URL"]).netloc
    assert f"local/{bucket}" in compose["services"]["minio-init"]["command"][0]


def test_topics_created_match_the_services_script(compose: dict) -> None:
    script = (ROOT / "scripts/services.sh").read_text()
    topics_line = next(line for line in script.splitlines() if line.startswith("TOPICS=("))
    native = set(topics_line.removeprefix("TOPICS=(").rstrip(")").split())
    compose_cmd = compose["services"]["redpanda-init"]["command"][0]
    assert native == set(compose_cmd.split("for t in ")[1].split(";")[0].split())
