"""Daily analytics marts (group `analytics`), one asset per mart, built with DuckDB from the lakehouse.

The SQL and the definition of every number are in `assets_dag.analytics.marts`.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import inspect, select

from assets_dag.analytics import marts
from assets_dag.analytics.build import MARTS, build_mart
from assets_dag.ingest.alert_history import alerts_opened_on
from assets_dag.partitions import DAILY
from assets_dag.resources import DatabaseResource, LakehouseResource
from lakehouse import ALERTS, Partition

UTILISATION_ADDS_UP = "day_adds_up_to_24h"
ZONES_DO_NOT_FLAP = "zones_do_not_flap"
# A zone warns when at least this share of its enters flapped, out of at least this many enters that day.
FLAP_SHARE_WARN, FLAP_MIN_ENTERS = 0.2, 10


class MartConfig(dg.Config):
    """Thresholds of the mart definitions (see `assets_dag.analytics.marts`)."""

    missing_gap_s: float = 300.0
    moving_speed_mps: float = 0.3
    in_use_grace_s: float = 600.0
    silent_gap_s: float = 300.0
    battery_window_days: int = 30
    flap_window_s: float = 120.0

    def parameters(self) -> marts.MartParameters:
        return marts.MartParameters(
            self.missing_gap_s,
            self.moving_speed_mps,
            self.in_use_grace_s,
            self.silent_gap_s,
            self.battery_window_days,
            self.flap_window_s,
        )


@dg.asset(group_name="ingest", partitions_def=DAILY, kinds={"postgres", "parquet"})
def alert_history(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, database: DatabaseResource
) -> dg.MaterializeResult:
    """Alerts opened on the day with their acknowledge and resolve times, from the database (curated/alerts).

    Re-run later to pick up alerts acknowledged or resolved since; the partition is replaced whole."""
    day = Partition.parse(context.partition_key).date
    table = alerts_opened_on(database.engine(), day)
    written = lakehouse.lakehouse().write_partition(ALERTS, Partition(day), table)
    return dg.MaterializeResult(metadata={"dagster/row_count": table.num_rows, "uri": written.uri})


def _asset_categories(database: DatabaseResource) -> pa.Table | None:
    """asset_id -> category from the database, to break utilisation down by category (None before migration)."""
    from core.db.models import Asset

    engine = database.engine()
    if not inspect(engine).has_table(Asset.__tablename__):
        return None
    with engine.connect() as connection:
        rows = connection.execute(select(Asset.id, Asset.category)).all()
    return pa.table({"asset_id": [str(r[0]) for r in rows], "category": [r[1] for r in rows]})


def _utilisation_check(table: pa.Table) -> dg.AssetCheckResult:
    totals = pc.add(pc.add(table["moving_s"], table["idle_s"]), table["missing_s"])
    wrong = (
        0 if table.num_rows == 0 else pc.sum(pc.greater(pc.abs(pc.subtract(totals, 86_400)), 1e-6)).as_py()
    )
    return dg.AssetCheckResult(
        check_name=UTILISATION_ADDS_UP, passed=wrong == 0, metadata={"tags_not_adding_up": wrong}
    )


def _flapping_check(table: pa.Table) -> dg.AssetCheckResult:
    """Warn (not fail: people do step out and back) about busy zones where many enters came straight back."""
    zones = [
        r for r in table.to_pylist()
        if r["tag_id"] is None and r["enters"] >= FLAP_MIN_ENTERS and r["flap_share"] >= FLAP_SHARE_WARN
    ]  # fmt: skip
    zones.sort(key=lambda r: -r["flap_share"])
    return dg.AssetCheckResult(
        check_name=ZONES_DO_NOT_FLAP,
        passed=not zones,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "flapping_zones": len(zones),
            "worst": dg.MetadataValue.json(
                [{k: r[k] for k in ("zone_id", "enters", "returns", "flap_share")} for r in zones[:10]]
            ),
        },
    )


@dataclass(frozen=True)
class _MartCheck:
    name: str
    description: str
    evaluate: Callable[[pa.Table], dg.AssetCheckResult]  # on the mart just built


_CHECKS = {
    "asset_utilisation": _MartCheck(
        UTILISATION_ADDS_UP, "moving + idle + missing = 24 h per tag", _utilisation_check
    ),
    "zone_flapping": _MartCheck(
        ZONES_DO_NOT_FLAP,
        f"no zone with {FLAP_MIN_ENTERS}+ enters in a day had {FLAP_SHARE_WARN:.0%} or more of them come straight "
        "back (a tag flapping on its boundary)",
        _flapping_check,
    ),
}


def _mart_asset(name: str, deps: list[str], database: bool = False) -> dg.AssetsDefinition:
    definition = MARTS[name]
    doc = (definition.compute.__doc__ or "").strip() or f"The {name} mart."
    check = _CHECKS.get(name)
    check_specs = [dg.AssetCheckSpec(check.name, asset=name, description=check.description)] if check else []

    @dg.asset(
        name=name,
        group_name="analytics",
        partitions_def=DAILY,
        deps=deps,
        kinds={"duckdb", "parquet"},
        description=f"{doc} (marts/{name})",
        check_specs=check_specs,
        required_resource_keys={"lakehouse", "database"} if database else {"lakehouse"},
    )
    def _build(context: dg.AssetExecutionContext, config: MartConfig) -> dg.MaterializeResult:
        day = dt.date.fromisoformat(context.partition_key)
        lakehouse = context.resources.lakehouse.lakehouse()
        assets = _asset_categories(context.resources.database) if database else None
        table, written = build_mart(lakehouse, name, day, config.parameters(), assets=assets)
        return dg.MaterializeResult(
            metadata={"dagster/row_count": table.num_rows, "uri": dg.MetadataValue.path(written.uri)},
            check_results=[check.evaluate(table)] if check else [],
        )

    return _build


asset_utilisation = _mart_asset("asset_utilisation", ["locations"], database=True)
zone_dwell = _mart_asset("zone_dwell", ["zone_events"])
zone_occupancy = _mart_asset("zone_occupancy", ["zone_events"])
zone_flapping = _mart_asset("zone_flapping", ["zone_events"])
gateway_health = _mart_asset("gateway_health", ["raw_observations"])
battery_trend = _mart_asset("battery_trend", ["raw_observations"])
alert_stats = _mart_asset("alert_stats", ["alert_history"])
location_quality = _mart_asset("location_quality", ["locations"])

MART_ASSETS = [
    asset_utilisation,
    zone_dwell,
    zone_occupancy,
    zone_flapping,
    gateway_health,
    battery_trend,
    alert_stats,
    location_quality,
]
