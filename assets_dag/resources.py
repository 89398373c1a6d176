"""The resources assets need, as Dagster `ConfigurableResource`s.

`orchestration.resources` configures them from `ASSET_TAG_*` environment variables (`dg.EnvVar`); tests build
them directly. Each one turns its fields back into the platform's own objects (`Lakehouse`, `Settings`), so
the assets use exactly the same code paths as the rest of the platform.
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field
from sqlalchemy import Engine, create_engine

from core.settings import Settings, load_settings
from lakehouse import Lakehouse, S3Options


class LakehouseResource(dg.ConfigurableResource):
    """The lakehouse under `url` (file:///path or s3://bucket/prefix; MinIO through `s3_endpoint_url`)."""

    url: str = Field(description="file:///path/to/lakehouse or s3://bucket/prefix")
    s3_endpoint_url: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_region: str = "us-east-1"

    def lakehouse(self) -> Lakehouse:
        return Lakehouse(
            self.url,
            S3Options(self.s3_endpoint_url, self.s3_access_key_id, self.s3_secret_access_key, self.s3_region),
        )


class KafkaResource(dg.ConfigurableResource):
    """The Kafka cluster the realtime path writes to; landing reads topics by time window."""

    stream_url: str = Field(description="kafka://host:port[,host:port]")
    topic_prefix: str = ""
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    # Producers' clocks and batching spread record timestamps: read this much around each hour.
    slack_s: float = 300.0

    def settings(self) -> Settings:
        return load_settings(
            stream_url=self.stream_url,
            topic_prefix=self.topic_prefix,
            kafka_security_protocol=self.security_protocol,
            kafka_sasl_mechanism=self.sasl_mechanism,
            kafka_sasl_username=self.sasl_username,
            kafka_sasl_password=self.sasl_password,
        )

    def client_config(self) -> dict[str, str]:
        """librdkafka options; the in-process stream of the demo has nothing for a batch job to read back."""
        if not self.stream_url.startswith("kafka://"):
            raise dg.Failure(
                f"ASSET_TAG_STREAM_URL is {self.stream_url!r}: landing reads topics by time and needs Kafka "
                "(kafka://host:port); the in-process memory:// stream keeps nothing to land"
            )
        return self.settings().kafka_config()

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"


class DatabaseResource(dg.ConfigurableResource):
    """The platform database (PostgreSQL in production, SQLite in the demo)."""

    url: str = Field(description="postgresql+psycopg://user:pass@host:port/db or sqlite:///path.db")

    def engine(self) -> Engine:
        return create_engine(self.url, pool_pre_ping=True)


class MLflowResource(dg.ConfigurableResource):
    """Where training assets (the `ml` group) log runs and register models."""

    tracking_uri: str
