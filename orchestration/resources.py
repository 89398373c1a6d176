"""The code location's resources, configured from the same `ASSET_TAG_*` variables as the rest of the platform.

A variable that is set is passed as `dg.EnvVar` (read when a run starts, never stored in the run config or shown
in the UI); one that is not set falls back to the embedded default from `core.settings`, so `dagster dev` works
on a fresh checkout with nothing configured.
"""

from __future__ import annotations

import os

import dagster as dg

from assets_dag.resources import DatabaseResource, KafkaResource, LakehouseResource, MLflowResource
from core.settings import get_settings


def _env(name: str, default: str | None) -> str | dg.EnvVar | None:
    return dg.EnvVar(name) if os.environ.get(name) else default


def build_resources() -> dict[str, dg.ConfigurableResource]:
    settings = get_settings()
    return {
        "lakehouse": LakehouseResource(
            url=_env("ASSET_TAG_LAKEHOUSE_URL", settings.lakehouse_url),
            s3_endpoint_url=_env("ASSET_TAG_S3_ENDPOINT_URL", settings.s3_endpoint_url),
            s3_access_key_id=_env("ASSET_TAG_S3_ACCESS_KEY_ID", _env("AWS_ACCESS_KEY_ID", None)),
            s3_secret_access_key=_env("ASSET_TAG_S3_SECRET_ACCESS_KEY", _env("AWS_SECRET_ACCESS_KEY", None)),
            s3_region=_env("ASSET_TAG_S3_REGION", settings.s3_region),
        ),
        "kafka": KafkaResource(
            stream_url=_env("ASSET_TAG_STREAM_URL", settings.stream_url),
            topic_prefix=_env("ASSET_TAG_TOPIC_PREFIX", settings.topic_prefix),
            security_protocol=_env("ASSET_TAG_KAFKA_SECURITY_PROTOCOL", settings.kafka_security_protocol),
            sasl_mechanism=_env("ASSET_TAG_KAFKA_SASL_MECHANISM", settings.kafka_sasl_mechanism),
            sasl_username=_env("ASSET_TAG_KAFKA_SASL_USERNAME", settings.kafka_sasl_username),
            sasl_password=_env("ASSET_TAG_KAFKA_SASL_PASSWORD", None),
        ),
        "database": DatabaseResource(url=_env("ASSET_TAG_DATABASE_URL", settings.database_url)),
        "mlflow": MLflowResource(tracking_uri=_env("MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri)),
    }
