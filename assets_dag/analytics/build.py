"""Build one or all marts of a day from the lakehouse and write them back as daily partitions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from assets_dag.analytics import marts, sources
from lakehouse import Lakehouse, Partition, WrittenPartition, connect, mart


@dataclass(frozen=True)
class MartDefinition:
    name: str
    reads: tuple[str, ...]
    compute: Callable[[duckdb.DuckDBPyConnection, dt.date, marts.MartParameters], pa.Table]
    days_before: int = 0  # zone visits may have begun the day before


def _ignoring_parameters(
    compute: Callable[[duckdb.DuckDBPyConnection, dt.date], pa.Table],
) -> Callable[[duckdb.DuckDBPyConnection, dt.date, marts.MartParameters], pa.Table]:
    def run(connection: duckdb.DuckDBPyConnection, day: dt.date, _: marts.MartParameters) -> pa.Table:
        return compute(connection, day)

    run.__doc__ = compute.__doc__
    return run


MARTS: dict[str, MartDefinition] = {
    m.name: m
    for m in (
        MartDefinition("asset_utilisation", ("locations",), marts.utilisation),
        MartDefinition("zone_dwell", ("zone_events",), _ignoring_parameters(marts.zone_dwell), days_before=1),
        MartDefinition("zone_occupancy", ("zone_events",), _ignoring_parameters(marts.zone_occupancy), 1),
        MartDefinition("zone_flapping", ("zone_events",), marts.zone_flapping, days_before=1),
        MartDefinition("gateway_health", ("observations",), marts.gateway_health),
        MartDefinition("battery_trend", ("observations",), marts.battery),
        MartDefinition("alert_stats", ("alerts",), _ignoring_parameters(marts.alert_stats)),
        MartDefinition("location_quality", ("locations",), _ignoring_parameters(marts.location_quality)),
    )
}


def build_mart(
    lakehouse: Lakehouse,
    name: str,
    day: dt.date,
    parameters: marts.MartParameters | None = None,
    assets: pa.Table | None = None,
    connection: duckdb.DuckDBPyConnection | None = None,
    sources_ready: bool = False,
) -> tuple[pa.Table, WrittenPartition]:
    """Compute mart `name` for `day` and replace its partition. `assets` (asset_id, category) adds categories."""
    definition = MARTS[name]
    parameters = parameters or marts.MartParameters()
    connection = connection or connect(lakehouse)
    if not sources_ready:
        sources.register(
            connection, lakehouse, day, definition.reads, definition.days_before, materialise=True
        )
    if assets is not None:
        connection.register("assets", assets)
    if name == "battery_trend":
        sources.register_history(
            connection, lakehouse, "battery_trend", "battery_history", day, parameters.battery_window_days
        )
    table = definition.compute(connection, day, parameters)
    return table, lakehouse.write_partition(mart(name), Partition(day), table)


def build_all(
    lakehouse: Lakehouse, day: dt.date, parameters: marts.MartParameters | None = None
) -> dict[str, WrittenPartition]:
    """Every mart of the day on one DuckDB connection, reading each source once (what the benchmark times)."""
    connection = connect(lakehouse)
    sources.register(connection, lakehouse, day, ["observations", "alerts"], materialise=True)
    sources.register(connection, lakehouse, day, ["locations"], materialise=True)
    sources.register(connection, lakehouse, day, ["zone_events"], days_before=1, materialise=True)
    return {
        name: build_mart(lakehouse, name, day, parameters, connection=connection, sources_ready=True)[1]
        for name in MARTS
    }
