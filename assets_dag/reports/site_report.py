"""The daily site report: one self-contained HTML file (inline SVG charts) from the day's marts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import jinja2
import pyarrow as pa

from assets_dag.reports.svg import bar_chart, column_chart
from lakehouse import Lakehouse, Partition, mart, report_key

KIND = "site_daily"
FILENAME = "report.html"
SECTIONS = ("utilisation", "dwell", "alerts", "gateways", "maintenance")
DUE_WITHIN_DAYS = 7
TOP_N = 10


@dataclass
class ReportInputs:
    day: dt.date
    utilisation: pa.Table
    zone_dwell: pa.Table
    zone_occupancy: pa.Table
    alert_stats: pa.Table
    gateway_health: pa.Table
    maintenance_due: pa.Table


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("assets_dag.reports", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
_ENVIRONMENT.filters["duration"] = _duration


def load_inputs(lakehouse: Lakehouse, day: dt.date) -> ReportInputs:
    """The day's marts; a mart that was not built yet is an empty table (its section says so)."""

    def read(name: str) -> pa.Table:
        dataset, partition = mart(name), Partition(day)
        return (
            lakehouse.read_partition(dataset, partition)
            if lakehouse.has_partition(dataset, partition)
            else pa.table({})
        )

    return ReportInputs(
        day,
        read("asset_utilisation"),
        read("zone_dwell"),
        read("zone_occupancy"),
        read("alert_stats"),
        read("gateway_health"),
        read("maintenance_due"),
    )


def render(inputs: ReportInputs) -> str:
    utilisation = sorted(inputs.utilisation.to_pylist(), key=lambda r: -r["utilisation"])
    zones = [r for r in inputs.zone_dwell.to_pylist() if r.get("tag_id") is None]
    zones.sort(key=lambda r: -r["total_dwell_s"])
    alerts = inputs.alert_stats.to_pylist()
    gateways = inputs.gateway_health.to_pylist()
    horizon = dt.datetime.combine(
        inputs.day + dt.timedelta(days=DUE_WITHIN_DAYS + 1), dt.time(), tzinfo=dt.UTC
    )
    maintenance = [
        r
        for r in inputs.maintenance_due.to_pylist()
        if r["overdue"] or (r["next_due_at"] and r["next_due_at"] < horizon)
    ]
    occupancy = [0.0] * 24
    for row in inputs.zone_occupancy.to_pylist():
        occupancy[row["hour"]] += row["avg_occupancy"]
    categories: dict[str, list[float]] = {}
    for row in utilisation:
        if row.get("category"):
            categories.setdefault(row["category"], []).append(row["utilisation"])
    top = utilisation[:TOP_N]
    return _ENVIRONMENT.get_template("site_daily.html.j2").render(
        day=inputs.day.isoformat(),
        kpis={
            "assets_seen": len(utilisation),
            "mean_utilisation": sum(r["utilisation"] for r in utilisation) / len(utilisation)
            if utilisation
            else 0.0,
            "alerts": next((a["raised"] for a in alerts if a["kind"] == "all"), 0),
            "overdue": sum(1 for r in maintenance if r["overdue"]),
        },
        charts={
            "occupancy": column_chart(occupancy, labels=[f"{h:02d}" for h in range(24)]),
            "utilisation": bar_chart(
                [r["asset_id"] or r["tag_id"] for r in top], [r["utilisation"] * 100 for r in top], unit=" %"
            ),
            "dwell": bar_chart(
                [z["zone_id"] for z in zones[:TOP_N]],
                [z["total_dwell_s"] / 3600 for z in zones[:TOP_N]],
                unit=" h",
            ),
            "gateways": bar_chart(
                [g["gateway_id"] for g in gateways[: TOP_N * 2]],
                [g["observations"] for g in gateways[: TOP_N * 2]],
            ),
        },
        categories=[
            {"category": c, "assets": len(v), "utilisation": sum(v) / len(v)}
            for c, v in sorted(categories.items())
        ],
        zones=zones[:TOP_N],
        alerts=alerts,
        gateways=sorted(gateways, key=lambda g: -g["longest_silence_s"]),
        maintenance=maintenance,
        due_within_days=DUE_WITHIN_DAYS,
    )


def write_report(lakehouse: Lakehouse, day: dt.date) -> tuple[str, str]:
    """Render the day's report and store it at reports/site_daily/<day>/report.html; returns (uri, html)."""
    html = render(load_inputs(lakehouse, day))
    return lakehouse.write_bytes(report_key(KIND, day, FILENAME), html.encode()), html
