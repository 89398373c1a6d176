"""Initial schema: sites, gateways, assets, geofences, alerts, locations, jobs, maintenance, notifications,
API keys, audit log, calibration.

Runs on PostgreSQL and SQLite. location_history is a TimescaleDB hypertable when the extension can be enabled,
otherwise (on PostgreSQL) a table range-partitioned by day on ts with a default partition; a plain table on SQLite.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from advanced_alchemy.types import GUID, BigIntIdentity, DateTimeUTC
from alembic import op
from sqlalchemy.dialects import postgresql

from core.db import partitions

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types as they were when this revision was written (a migration must not change when models do).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _dialect() -> str:
    return op.get_bind().dialect.name


def _tag_id_check() -> sa.CheckConstraint:
    """Tag ids are upper-case hex; SQLite has no regex operator, so GLOB with a negated class does it there."""
    if _dialect() == "postgresql":
        sql = "tag_id ~ '^[0-9A-F]{1,64}$'"
    else:
        sql = "tag_id <> '' AND tag_id NOT GLOB '*[^0-9A-F]*' AND length(tag_id) <= 64"
    return sa.CheckConstraint(sql, name=op.f("ck_assets_tag_id_upper_hex"))


def _create_location_history() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    timescale = postgres and partitions.enable_timescaledb(bind)
    native_partitions = postgres and not timescale
    table_options: dict[str, Any] = {"postgresql_partition_by": "RANGE (ts)"} if native_partitions else {}
    op.create_table(
        "location_history",
        sa.Column("tag_id", sa.String(length=64), nullable=False),
        sa.Column("ts", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("asset_id", GUID(length=16), nullable=True),
        sa.Column("site_id", GUID(length=16), nullable=True),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("floor", sa.Integer(), server_default="0", nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("method", sa.String(length=13), nullable=False),
        sa.Column("gateway_count", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=True),
        # A partitioned table's primary key must contain the partition key: (tag_id, ts) does, and is the
        # natural key that makes replayed inserts no-ops.
        sa.PrimaryKeyConstraint("tag_id", "ts", name=op.f("pk_location_history")),
        **table_options,
    )
    op.create_index("ix_location_history_asset_ts", "location_history", ["asset_id", "ts"], unique=False)
    op.create_index("ix_location_history_site_ts", "location_history", ["site_id", "ts"], unique=False)
    if timescale:
        partitions.make_hypertable(bind)
    elif native_partitions:
        partitions.create_default_partition(bind)
        partitions.ensure_partitions(bind)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=8), server_default="viewer", nullable=False),
        sa.Column("expires_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("revoked_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("last_used_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('viewer', 'operator', 'admin')", name=op.f("ck_api_keys_role_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", BigIntIdentity, nullable=False),
        sa.Column("ts", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column("details", JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_actor_ts", "audit_log", ["actor", "ts"], unique=False)
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id"], unique=False)
    op.create_index(op.f("ix_audit_log_ts"), "audit_log", ["ts"], unique=False)

    _create_location_history()

    op.create_table(
        "notification_channels",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=7), nullable=False),
        sa.Column("config", JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("secret", sa.String(length=256), nullable=True),
        sa.Column("rate_limit_per_min", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('webhook', 'email')", name=op.f("ck_notification_channels_kind_valid")),
        sa.CheckConstraint(
            "rate_limit_per_min IS NULL OR rate_limit_per_min > 0",
            name=op.f("ck_notification_channels_rate_limit_positive"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_channels")),
        sa.UniqueConstraint("name", name=op.f("uq_notification_channels_name")),
    )
    op.create_table(
        "sites",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("origin_lat", sa.Float(), nullable=False),
        sa.Column("origin_lon", sa.Float(), nullable=False),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("width_m", sa.Float(), nullable=True),
        sa.Column("height_m", sa.Float(), nullable=True),
        sa.Column("floor_plan_svg", sa.Text(), nullable=True),
        sa.Column("floor_plan", JSON, nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint("height_m IS NULL OR height_m > 0", name=op.f("ck_sites_height_positive")),
        sa.CheckConstraint("origin_lat BETWEEN -90 AND 90", name=op.f("ck_sites_origin_lat_range")),
        sa.CheckConstraint("origin_lon BETWEEN -180 AND 180", name=op.f("ck_sites_origin_lon_range")),
        sa.CheckConstraint("width_m IS NULL OR width_m > 0", name=op.f("ck_sites_width_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("name", name=op.f("uq_sites_name")),
    )
    op.create_table(
        "assets",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("tag_id", sa.String(length=64), nullable=True),
        sa.Column("site_id", GUID(length=16), nullable=True),
        sa.Column("status", sa.String(length=11), server_default="active", nullable=False),
        sa.Column("battery_pct", sa.Float(), nullable=True),
        sa.Column("last_seen", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("usage_hours", sa.Float(), server_default="0", nullable=False),
        sa.Column("attributes", JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'inactive', 'maintenance', 'lost', 'retired')",
            name=op.f("ck_assets_status_valid"),
        ),
        _tag_id_check(),
        sa.CheckConstraint(
            "battery_pct IS NULL OR (battery_pct >= 0 AND battery_pct <= 100)",
            name=op.f("ck_assets_battery_pct_range"),
        ),
        sa.CheckConstraint("usage_hours >= 0", name=op.f("ck_assets_usage_hours_nonnegative")),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_assets_site_id_sites"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
        sa.UniqueConstraint("tag_id", name=op.f("uq_assets_tag_id")),
    )
    op.create_index(op.f("ix_assets_category"), "assets", ["category"], unique=False)
    op.create_index("ix_assets_site_status", "assets", ["site_id", "status"], unique=False)

    op.create_table(
        "calibration_sessions",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("site_id", GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=9), server_default="open", nullable=False),
        sa.Column("started_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("ended_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("result", JSON, nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'fitted', 'applied', 'discarded')",
            name=op.f("ck_calibration_sessions_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_calibration_sessions_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_sessions")),
    )
    op.create_index(
        op.f("ix_calibration_sessions_site_id"), "calibration_sessions", ["site_id"], unique=False
    )

    op.create_table(
        "gateways",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("x", sa.Float(), nullable=True),
        sa.Column("y", sa.Float(), nullable=True),
        sa.Column("z", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("floor", sa.Integer(), server_default="0", nullable=False),
        sa.Column("ref_rssi_1m_dbm", sa.Float(), nullable=True),
        sa.Column("path_loss_exponent", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=7), server_default="unknown", nullable=False),
        sa.Column("last_seen", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('online', 'offline', 'unknown')", name=op.f("ck_gateways_status_valid")
        ),
        sa.CheckConstraint(
            "(x IS NOT NULL AND y IS NOT NULL) OR (lat IS NOT NULL AND lon IS NOT NULL)",
            name=op.f("ck_gateways_has_position"),
        ),
        sa.CheckConstraint("lat IS NULL OR lat BETWEEN -90 AND 90", name=op.f("ck_gateways_lat_range")),
        sa.CheckConstraint("lon IS NULL OR lon BETWEEN -180 AND 180", name=op.f("ck_gateways_lon_range")),
        sa.CheckConstraint(
            "path_loss_exponent IS NULL OR (path_loss_exponent > 0.5 AND path_loss_exponent < 6)",
            name=op.f("ck_gateways_path_loss_exponent_range"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_gateways_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateways")),
        sa.UniqueConstraint("gateway_id", name=op.f("uq_gateways_gateway_id")),
    )
    op.create_index(op.f("ix_gateways_site_id"), "gateways", ["site_id"], unique=False)
    op.create_index(op.f("ix_gateways_status"), "gateways", ["status"], unique=False)

    op.create_table(
        "geofences",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("site_id", GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("floor", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=13), server_default="other", nullable=False),
        sa.Column("shape", sa.String(length=7), nullable=False),
        sa.Column("geometry", JSON, nullable=True),
        sa.Column("center_x", sa.Float(), nullable=True),
        sa.Column("center_y", sa.Float(), nullable=True),
        sa.Column("radius_m", sa.Float(), nullable=True),
        sa.Column("enter_dwell_s", sa.Float(), nullable=True),
        sa.Column("exit_dwell_s", sa.Float(), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('work_area', 'restricted', 'site_boundary', 'other')",
            name=op.f("ck_geofences_kind_valid"),
        ),
        sa.CheckConstraint(
            "shape <> 'circle' OR (center_x IS NOT NULL AND center_y IS NOT NULL AND radius_m > 0)",
            name=op.f("ck_geofences_circle_has_center_radius"),
        ),
        sa.CheckConstraint(
            "shape <> 'polygon' OR geometry IS NOT NULL", name=op.f("ck_geofences_polygon_has_geometry")
        ),
        sa.CheckConstraint("shape IN ('circle', 'polygon')", name=op.f("ck_geofences_shape_valid")),
        sa.CheckConstraint(
            "enter_dwell_s IS NULL OR enter_dwell_s >= 0", name=op.f("ck_geofences_enter_dwell_nonnegative")
        ),
        sa.CheckConstraint(
            "exit_dwell_s IS NULL OR exit_dwell_s >= 0", name=op.f("ck_geofences_exit_dwell_nonnegative")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_geofences_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_geofences")),
    )
    op.create_index("ix_geofences_site_floor", "geofences", ["site_id", "floor"], unique=False)

    op.create_table(
        "alert_rules",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("site_id", GUID(length=16), nullable=True),
        sa.Column("geofence_id", GUID(length=16), nullable=True),
        sa.Column("asset_id", GUID(length=16), nullable=True),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("severity", sa.String(length=8), server_default="warning", nullable=False),
        sa.Column("params", JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("schedule", JSON, nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("auto_resolve", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("escalate_after_s", sa.Float(), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint(
            "severity IN ('critical', 'warning', 'info')", name=op.f("ck_alert_rules_severity_valid")
        ),
        sa.CheckConstraint(
            "escalate_after_s IS NULL OR escalate_after_s > 0",
            name=op.f("ck_alert_rules_escalate_after_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_alert_rules_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["geofence_id"],
            ["geofences.id"],
            name=op.f("fk_alert_rules_geofence_id_geofences"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_alert_rules_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
    )
    op.create_index(op.f("ix_alert_rules_kind"), "alert_rules", ["kind"], unique=False)
    op.create_index("ix_alert_rules_site_enabled", "alert_rules", ["site_id", "enabled"], unique=False)

    op.create_table(
        "calibration_points",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("session_id", GUID(length=16), nullable=False),
        sa.Column("tag_id", sa.String(length=64), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("floor", sa.Integer(), server_default="0", nullable=False),
        sa.Column("window_start", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("window_end", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("observations", JSON, nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint("window_end > window_start", name=op.f("ck_calibration_points_window_positive")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["calibration_sessions.id"],
            name=op.f("fk_calibration_points_session_id_calibration_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_points")),
    )
    op.create_index(
        op.f("ix_calibration_points_session_id"), "calibration_points", ["session_id"], unique=False
    )

    op.create_table(
        "current_locations",
        sa.Column("tag_id", sa.String(length=64), nullable=False),
        sa.Column("asset_id", GUID(length=16), nullable=True),
        sa.Column("site_id", GUID(length=16), nullable=True),
        sa.Column("ts", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("floor", sa.Integer(), server_default="0", nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("method", sa.String(length=13), nullable=False),
        sa.Column("gateway_count", sa.Integer(), nullable=False),
        sa.Column("zone_ids", JSON, server_default=sa.text("'[]'"), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            "method IN ('proximity', 'midpoint', 'centroid', 'trilateration', 'fingerprint')",
            name=op.f("ck_current_locations_method_valid"),
        ),
        sa.CheckConstraint("accuracy_m >= 0", name=op.f("ck_current_locations_accuracy_nonnegative")),
        sa.CheckConstraint(
            "confidence >= 0 AND confidence <= 1", name=op.f("ck_current_locations_confidence_range")
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_current_locations_asset_id_assets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_current_locations_site_id_sites"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("tag_id", name=op.f("pk_current_locations")),
    )
    op.create_index(op.f("ix_current_locations_asset_id"), "current_locations", ["asset_id"], unique=False)
    op.create_index(
        "ix_current_locations_site_floor", "current_locations", ["site_id", "floor"], unique=False
    )

    op.create_table(
        "jobs",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("site_id", GUID(length=16), nullable=False),
        sa.Column("geofence_id", GUID(length=16), nullable=True),
        sa.Column("status", sa.String(length=9), server_default="planned", nullable=False),
        sa.Column("starts_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("ends_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('planned', 'active', 'done', 'cancelled')", name=op.f("ck_jobs_status_valid")
        ),
        sa.CheckConstraint("ends_at IS NULL OR ends_at >= starts_at", name=op.f("ck_jobs_ends_after_starts")),
        sa.ForeignKeyConstraint(
            ["geofence_id"], ["geofences.id"], name=op.f("fk_jobs_geofence_id_geofences"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_jobs_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_site_starts", "jobs", ["site_id", "starts_at"], unique=False)
    op.create_index("ix_jobs_site_status", "jobs", ["site_id", "status"], unique=False)

    op.create_table(
        "maintenance_schedules",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("asset_id", GUID(length=16), nullable=True),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("interval_days", sa.Float(), nullable=True),
        sa.Column("interval_usage_hours", sa.Float(), nullable=True),
        sa.Column("last_done_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("next_due_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("usage_hours_at_last", sa.Float(), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint(
            "asset_id IS NOT NULL OR category IS NOT NULL", name=op.f("ck_maintenance_schedules_has_scope")
        ),
        sa.CheckConstraint(
            "interval_days IS NOT NULL OR interval_usage_hours IS NOT NULL",
            name=op.f("ck_maintenance_schedules_has_interval"),
        ),
        sa.CheckConstraint(
            "interval_days IS NULL OR interval_days > 0",
            name=op.f("ck_maintenance_schedules_interval_days_positive"),
        ),
        sa.CheckConstraint(
            "interval_usage_hours IS NULL OR interval_usage_hours > 0",
            name=op.f("ck_maintenance_schedules_interval_usage_hours_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_maintenance_schedules_asset_id_assets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_schedules")),
    )
    op.create_index(
        op.f("ix_maintenance_schedules_asset_id"), "maintenance_schedules", ["asset_id"], unique=False
    )
    op.create_index(
        op.f("ix_maintenance_schedules_category"), "maintenance_schedules", ["category"], unique=False
    )
    op.create_index(
        "ix_maintenance_schedules_next_due", "maintenance_schedules", ["enabled", "next_due_at"], unique=False
    )

    op.create_table(
        "zone_events",
        sa.Column("id", BigIntIdentity, nullable=False),
        sa.Column("tag_id", sa.String(length=64), nullable=False),
        sa.Column("asset_id", GUID(length=16), nullable=True),
        sa.Column("geofence_id", GUID(length=16), nullable=False),
        sa.Column("site_id", GUID(length=16), nullable=True),
        sa.Column("kind", sa.String(length=5), nullable=False),
        sa.Column("ts", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("dwell_s", sa.Float(), nullable=True),
        sa.CheckConstraint("kind IN ('enter', 'exit')", name=op.f("ck_zone_events_kind_valid")),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_zone_events_asset_id_assets"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["geofence_id"],
            ["geofences.id"],
            name=op.f("fk_zone_events_geofence_id_geofences"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_zone_events_site_id_sites"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone_events")),
        sa.UniqueConstraint("tag_id", "geofence_id", "kind", "ts", name="uq_zone_events_natural_key"),
    )
    op.create_index("ix_zone_events_asset_ts", "zone_events", ["asset_id", "ts"], unique=False)
    op.create_index("ix_zone_events_geofence_ts", "zone_events", ["geofence_id", "ts"], unique=False)

    op.create_table(
        "alerts",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("rule_id", GUID(length=16), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("subject_type", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("subject_key", sa.String(length=128), nullable=False),
        sa.Column("asset_id", GUID(length=16), nullable=True),
        sa.Column("site_id", GUID(length=16), nullable=True),
        sa.Column("status", sa.String(length=12), server_default="open", nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("opened_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("last_seen_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), server_default="1", nullable=False),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        sa.Column("acknowledged_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.Column("resolved_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("escalated_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint(
            "severity IN ('critical', 'warning', 'info')", name=op.f("ck_alerts_severity_valid")
        ),
        sa.CheckConstraint(
            "status <> 'acknowledged' OR acknowledged_at IS NOT NULL",
            name=op.f("ck_alerts_acknowledged_has_time"),
        ),
        sa.CheckConstraint(
            "status <> 'resolved' OR resolved_at IS NOT NULL", name=op.f("ck_alerts_resolved_has_time")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'acknowledged', 'resolved')", name=op.f("ck_alerts_status_valid")
        ),
        sa.CheckConstraint("count >= 1", name=op.f("ck_alerts_count_positive")),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_alerts_asset_id_assets"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["alert_rules.id"], name=op.f("fk_alerts_rule_id_alert_rules"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_alerts_site_id_sites"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index("ix_alerts_asset_opened", "alerts", ["asset_id", "opened_at"], unique=False)
    op.create_index("ix_alerts_site_opened", "alerts", ["site_id", "opened_at"], unique=False)
    op.create_index("ix_alerts_status_site", "alerts", ["status", "site_id"], unique=False)
    op.create_index(
        "uq_alerts_one_unresolved_per_subject",
        "alerts",
        ["rule_id", "subject_key"],
        unique=True,
        postgresql_where=sa.text("status <> 'resolved'"),
        sqlite_where=sa.text("status <> 'resolved'"),
    )

    op.create_table(
        "job_assets",
        sa.Column("job_id", GUID(length=16), nullable=False),
        sa.Column("asset_id", GUID(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_job_assets_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_assets_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "asset_id", name=op.f("pk_job_assets")),
    )
    op.create_index(op.f("ix_job_assets_asset_id"), "job_assets", ["asset_id"], unique=False)

    op.create_table(
        "maintenance_records",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("asset_id", GUID(length=16), nullable=False),
        sa.Column("schedule_id", GUID(length=16), nullable=True),
        sa.Column("performed_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("performed_by", sa.String(length=200), nullable=True),
        sa.Column("usage_hours", sa.Float(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_maintenance_records_asset_id_assets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["maintenance_schedules.id"],
            name=op.f("fk_maintenance_records_schedule_id_maintenance_schedules"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_records")),
    )
    op.create_index(
        "ix_maintenance_records_asset_performed",
        "maintenance_records",
        ["asset_id", "performed_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_maintenance_records_schedule_id"), "maintenance_records", ["schedule_id"], unique=False
    )

    op.create_table(
        "alert_comments",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("alert_id", GUID(length=16), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_alert_comments_alert_id_alerts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_comments")),
    )
    op.create_index(op.f("ix_alert_comments_alert_id"), "alert_comments", ["alert_id"], unique=False)

    op.create_table(
        "notification_deliveries",
        sa.Column("id", BigIntIdentity, nullable=False),
        sa.Column("channel_id", GUID(length=16), nullable=False),
        sa.Column("alert_id", GUID(length=16), nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(length=9), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')",
            name=op.f("ck_notification_deliveries_status_valid"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_notification_deliveries_attempts_nonnegative")),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_notification_deliveries_alert_id_alerts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["notification_channels.id"],
            name=op.f("fk_notification_deliveries_channel_id_notification_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
        sa.UniqueConstraint("channel_id", "dedupe_key", name="uq_notification_deliveries_dedupe"),
    )
    op.create_index(
        op.f("ix_notification_deliveries_alert_id"), "notification_deliveries", ["alert_id"], unique=False
    )
    op.create_index(
        "ix_notification_deliveries_due",
        "notification_deliveries",
        ["status", "next_attempt_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("notification_deliveries")
    op.drop_table("alert_comments")
    op.drop_table("maintenance_records")
    op.drop_table("job_assets")
    op.drop_table("alerts")
    op.drop_table("zone_events")
    op.drop_table("maintenance_schedules")
    op.drop_table("jobs")
    op.drop_table("current_locations")
    op.drop_table("calibration_points")
    op.drop_table("alert_rules")
    op.drop_table("geofences")
    op.drop_table("gateways")
    op.drop_table("calibration_sessions")
    op.drop_table("assets")
    op.drop_table("sites")
    op.drop_table("notification_channels")
    op.drop_table("location_history")
    op.drop_table("audit_log")
    op.drop_table("api_keys")
