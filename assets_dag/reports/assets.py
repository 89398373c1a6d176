"""Scheduled reports (group `reports`)."""

import datetime as dt

import dagster as dg

from assets_dag.partitions import DAILY
from assets_dag.reports.site_report import SECTIONS, write_report
from assets_dag.resources import LakehouseResource

REPORT_HAS_SECTIONS = "has_every_section"


@dg.asset(
    group_name="reports",
    partitions_def=DAILY,
    deps=[
        "asset_utilisation",
        "zone_dwell",
        "zone_occupancy",
        "alert_stats",
        "gateway_health",
        "maintenance_due",
    ],
    kinds={"html"},
    check_specs=[
        dg.AssetCheckSpec(
            REPORT_HAS_SECTIONS, asset="site_daily_report", description="Every section is rendered."
        )
    ],
)
def site_daily_report(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource
) -> dg.MaterializeResult:
    """The day's site report: utilisation, top dwell, occupancy, alerts, gateway health and maintenance due,
    as one self-contained HTML file with inline SVG charts (reports/site_daily/<date>/report.html)."""
    day = dt.date.fromisoformat(context.partition_key)
    uri, html = write_report(lakehouse.lakehouse(), day)
    missing = [s for s in SECTIONS if f'id="{s}"' not in html]
    return dg.MaterializeResult(
        metadata={"uri": dg.MetadataValue.path(uri), "bytes": len(html.encode())},
        check_results=[
            dg.AssetCheckResult(
                check_name=REPORT_HAS_SECTIONS,
                passed=not missing,
                metadata={"missing": ", ".join(missing) or "-"},
            )
        ],
    )
