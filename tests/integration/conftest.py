"""Fixtures that connect to the real PostgreSQL, Redis, Kafka and MinIO started by `scripts/services.sh up`.

The URLs come from the file that script writes (`~/.cache/asset-tag/services.env`, or `$ASSET_TAG_SERVICES_ENV`),
so tests use exactly what the app would. Each test module gets its own database, topic prefix, Redis prefix and
bucket prefix. An unreachable service fails the test with a message saying how to start it — never a skip.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from core.settings import Settings, load_settings

pytestmark = pytest.mark.integration

SERVICES_ENV = Path(os.environ.get("ASSET_TAG_SERVICES_ENV", Path.home() / ".cache/asset-tag/services.env"))
START_HINT = "start them with `scripts/services.sh up` (or `make services`)"


def _read_services_env() -> dict[str, str]:
    if not SERVICES_ENV.exists():
        pytest.fail(
            f"{SERVICES_ENV} not found: the integration services are not running; {START_HINT}", pytrace=False
        )
    values: dict[str, str] = {}
    for line in SERVICES_ENV.read_text().splitlines():
        line = line.removeprefix("export ").strip()
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key] = value
    return values


def _require_port(name: str, url: str) -> None:
    host, port = (urlsplit(url).hostname or "127.0.0.1"), urlsplit(url).port
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        pytest.fail(f"{name} at {host}:{port} is unreachable ({exc}); {START_HINT}", pytrace=False)


@pytest.fixture(scope="session")
def services() -> dict[str, str]:
    """The ASSET_TAG_* URLs of the running services, each checked to be reachable."""
    values = _read_services_env()
    _require_port("PostgreSQL", values["ASSET_TAG_DATABASE_URL"])
    _require_port("Redis", values["ASSET_TAG_REDIS_URL"])
    _require_port("Kafka", "//" + values["ASSET_TAG_STREAM_URL"].removeprefix("kafka://").split(",")[0])
    _require_port("MinIO", values["ASSET_TAG_S3_ENDPOINT_URL"])
    return values


@pytest.fixture(scope="module")
def run_id() -> str:
    """A short unique name for this test module's database, topics, keys and objects."""
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture(scope="module")
def postgres_url(services: dict[str, str], run_id: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (postgresql+psycopg:// URL), dropped afterwards."""
    import psycopg

    admin_url = services["ASSET_TAG_DATABASE_URL"]
    parts = urlsplit(admin_url)
    plain = urlunsplit(parts._replace(scheme="postgresql"))
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{run_id}"')
    yield urlunsplit(parts._replace(path=f"/{run_id}"))
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{run_id}" WITH (FORCE)')


@pytest.fixture(scope="module")
def redis_url(services: dict[str, str]) -> str:
    return services["ASSET_TAG_REDIS_URL"]


@pytest.fixture(scope="module")
def kafka_bootstrap(services: dict[str, str]) -> str:
    return services["ASSET_TAG_STREAM_URL"].removeprefix("kafka://")


@pytest.fixture(scope="module")
def topic_prefix(kafka_bootstrap: str, run_id: str) -> Iterator[str]:
    """A prefix for this module's topics; topics created with it are deleted afterwards."""
    from confluent_kafka.admin import AdminClient

    prefix = f"{run_id}."
    yield prefix
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    mine = [name for name in admin.list_topics(timeout=10).topics if name.startswith(prefix)]
    if mine:
        for future in admin.delete_topics(mine, operation_timeout=10).values():
            future.result()


@pytest.fixture(scope="module")
def lakehouse_s3_url(services: dict[str, str], run_id: str) -> Iterator[str]:
    """An s3:// lakehouse URL under a prefix of its own in the MinIO bucket, emptied afterwards."""
    base = services["ASSET_TAG_LAKEHOUSE_URL"].rstrip("/")
    url = f"{base}/{run_id}"
    yield url
    import s3fs

    fs = s3fs.S3FileSystem(**service_settings(services).s3_storage_options())
    path = url.removeprefix("s3://")
    if fs.exists(path):
        fs.rm(path, recursive=True)


def service_settings(services: dict[str, str], **overrides: object) -> Settings:
    """Settings pointing at the real services (not exported to the environment, so nothing leaks between tests)."""
    values: dict[str, object] = {
        "database_url": services["ASSET_TAG_DATABASE_URL"],
        "redis_url": services["ASSET_TAG_REDIS_URL"],
        "stream_url": services["ASSET_TAG_STREAM_URL"],
        "lakehouse_url": services["ASSET_TAG_LAKEHOUSE_URL"],
        "s3_endpoint_url": services["ASSET_TAG_S3_ENDPOINT_URL"],
        "s3_access_key_id": services["ASSET_TAG_S3_ACCESS_KEY_ID"],
        "s3_secret_access_key": services["ASSET_TAG_S3_SECRET_ACCESS_KEY"],
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture(scope="module")
def integration_settings(
    services: dict[str, str], postgres_url: str, topic_prefix: str, run_id: str, lakehouse_s3_url: str
) -> Settings:
    """Settings for a module that uses all four services, isolated from other modules and runs."""
    return service_settings(
        services,
        database_url=postgres_url,
        topic_prefix=topic_prefix,
        redis_prefix=f"{run_id}:",
        lakehouse_url=lakehouse_s3_url,
        consumer_group=f"{run_id}-realtime",
    )
