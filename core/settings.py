"""Platform settings: `ASSET_TAG_*` environment variables, optionally from a `.env` file.

One URL per component picks its backend (see the README's configuration table):
the embedded defaults run the whole platform in one process with no services; the
production URLs point at PostgreSQL, Redis, Kafka and S3/MinIO.

`load_settings()` turns any bad value into a `SettingsError` whose message names the
variable and what it expects, so the CLI can print one line instead of a driver traceback.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "ASSET_TAG_"


class SettingsError(ValueError):
    """A configuration value is missing or wrong; the message is meant for a person."""


def _default_data_dir() -> Path:
    return Path(os.environ.get("ASSET_TAG_DATA_DIR", ".asset-tag")).resolve()


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.lower()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    # --- where things live -------------------------------------------------------------
    data_dir: Path = Field(
        default_factory=_default_data_dir, description="Embedded backends keep files here."
    )
    database_url: str = Field(
        default="",
        description="sqlite:///path/to.db (embedded) or postgresql+psycopg://user:pass@host:port/db",
    )
    redis_url: str = Field(default="memory://", description="memory:// (in-process) or redis://host:port/db")
    redis_prefix: str = Field(
        default="", description="prepended to every Redis key and channel (isolates test runs)"
    )
    stream_url: str = Field(
        default="memory://", description="memory:// (in-process queue) or kafka://host:port[,host:port]"
    )
    lakehouse_url: str = Field(default="", description="file:///path/to/lakehouse or s3://bucket/prefix")
    s3_endpoint_url: str | None = Field(
        default=None, description="S3 endpoint for MinIO, e.g. http://127.0.0.1:9000"
    )
    s3_access_key_id: str | None = Field(default=None, description="falls back to AWS_ACCESS_KEY_ID")
    s3_secret_access_key: str | None = Field(default=None, description="falls back to AWS_SECRET_ACCESS_KEY")
    s3_region: str = "us-east-1"
    mlflow_tracking_uri: str = Field(
        default="",
        validation_alias="MLFLOW_TRACKING_URI",
        description="MLflow tracking store; defaults to sqlite under the data directory",
    )

    # --- Kafka -------------------------------------------------------------------------
    topic_prefix: str = Field(default="", description="prepended to every topic name (isolates test runs)")
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_ssl_ca_location: str | None = None
    consumer_group: str = "asset-tag-realtime"

    # --- positioning (units in the names) ------------------------------------------------
    ref_rssi_1m_dbm: float = Field(default=-59.0, description="default RSSI at 1 m (path-loss A)")
    path_loss_exponent: float = Field(default=2.0, gt=0.5, lt=6.0, description="default path-loss n")
    gateway_sensitivity_dbm: float = Field(
        default=-95.0,
        ge=-130.0,
        le=-30.0,
        description="weakest RSSI the gateways report (their receiver sensitivity): positioning models the "
        "loud-biased means of gateways that hear a tag near it",
    )
    window_s: float = Field(default=3.0, gt=0, le=60, description="event-time window per tag")
    fix_interval_s: float = Field(default=0.5, gt=0, le=60, description="one fix per tag this often")
    fix_lateness_s: float = Field(
        default=0.0,
        ge=0,
        le=60,
        description="a fix for time t waits until its partition is this far past t (raise it when gateways batch)",
    )
    max_clock_skew_s: float = Field(
        default=300.0, gt=0, description="observations further in the future are rejected"
    )
    max_observation_age_s: float = Field(
        default=7 * 24 * 3600.0, gt=0, description="older observations are rejected by the realtime path"
    )

    # --- zones (defaults of every geofence; a zone's own dwell times win) -----------------------
    zone_enter_dwell_s: float = Field(
        default=5.0, ge=0, le=3600, description="a parked tag is in a zone after lingering inside this long"
    )
    zone_exit_dwell_s: float = Field(
        default=2.0, ge=0, le=3600, description="a parked tag leaves after being clearly outside this long"
    )
    zone_speed_aware: bool = Field(
        default=True,
        description="walking tags switch zones on a small margin and short dwells; false judges every tag as parked",
    )

    # --- history and retention ------------------------------------------------------------
    history_heartbeat_s: float = Field(
        default=60.0, gt=0, description="store a history row at least this often"
    )
    history_retention_days: int = Field(default=90, gt=0)

    # --- API ------------------------------------------------------------------------------
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    cors_origins: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _fill_embedded_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'asset-tag.db'}"
        if not self.lakehouse_url:
            self.lakehouse_url = (self.data_dir / "lakehouse").as_uri()
        if not self.mlflow_tracking_uri:
            self.mlflow_tracking_uri = f"sqlite:///{self.data_dir / 'mlflow.db'}"
        return self

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if value and _scheme(value) not in {"sqlite", "sqlite+aiosqlite", "postgresql", "postgresql+psycopg"}:
            raise ValueError("expected sqlite:///path/to.db or postgresql+psycopg://user:pass@host:port/db")
        if _scheme(value).startswith("postgresql") and not urlsplit(value).hostname:
            raise ValueError(
                "a postgresql URL needs a host, e.g. postgresql+psycopg://user:pass@127.0.0.1:5432/assettag"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        if _scheme(value) not in {"memory", "redis", "rediss"}:
            raise ValueError("expected memory:// or redis://host:port/db")
        return value

    @field_validator("stream_url")
    @classmethod
    def _check_stream_url(cls, value: str) -> str:
        if _scheme(value) not in {"memory", "kafka"}:
            raise ValueError("expected memory:// or kafka://host:port[,host:port]")
        if _scheme(value) == "kafka" and not urlsplit(value).netloc:
            raise ValueError("a kafka URL needs at least one broker, e.g. kafka://127.0.0.1:9092")
        return value

    @field_validator("lakehouse_url")
    @classmethod
    def _check_lakehouse_url(cls, value: str) -> str:
        if value and _scheme(value) not in {"file", "s3"}:
            raise ValueError("expected file:///absolute/path or s3://bucket/prefix")
        if _scheme(value) == "s3" and not urlsplit(value).netloc:
            raise ValueError("an s3 URL needs a bucket, e.g. s3://asset-tag/lakehouse")
        return value

    # --- derived values ---------------------------------------------------------------------
    @property
    def uses_postgres(self) -> bool:
        return _scheme(self.database_url).startswith("postgresql")

    @property
    def kafka_bootstrap_servers(self) -> str:
        """`host:port,host:port` from a kafka:// URL."""
        return urlsplit(self.stream_url).netloc

    def topic(self, name: str) -> str:
        """Full topic name, e.g. `topic("ble.observations")`."""
        return f"{self.topic_prefix}{name}"

    def kafka_config(self) -> dict[str, str | int | float | bool]:
        """librdkafka options shared by producers, consumers and admin clients."""
        config: dict[str, str | int | float | bool] = {
            "bootstrap.servers": self.kafka_bootstrap_servers,
            "security.protocol": self.kafka_security_protocol,
        }
        optional = {
            "sasl.mechanism": self.kafka_sasl_mechanism,
            "sasl.username": self.kafka_sasl_username,
            "sasl.password": self.kafka_sasl_password,
            "ssl.ca.location": self.kafka_ssl_ca_location,
        }
        config.update({key: value for key, value in optional.items() if value})
        return config

    def s3_storage_options(self) -> dict[str, object]:
        """fsspec/s3fs options for the lakehouse bucket (MinIO needs path-style addressing)."""
        options: dict[str, object] = {}
        key = self.s3_access_key_id or os.environ.get("AWS_ACCESS_KEY_ID")
        secret = self.s3_secret_access_key or os.environ.get("AWS_SECRET_ACCESS_KEY")
        if key and secret:
            options.update(key=key, secret=secret)
        client_kwargs: dict[str, str] = {"region_name": self.s3_region}
        if self.s3_endpoint_url:
            client_kwargs["endpoint_url"] = self.s3_endpoint_url
            options["config_kwargs"] = {"s3": {"addressing_style": "path"}}
        options["client_kwargs"] = client_kwargs
        return options


def _env_name(field: str) -> str:
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else f"{ENV_PREFIX}{field.upper()}"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; a bad value raises `SettingsError` naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            name = _env_name(field) if field in Settings.model_fields else field
            given = error.get("input")
            shown = f" (got {given!r})" if isinstance(given, str | int | float) else ""
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{name}: {message}{shown}")
        raise SettingsError("; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once."""
    return load_settings()
