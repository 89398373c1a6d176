"""Scheduled reports (group `reports`)."""

import datetime as dt

import dagster as dg

from assets_dag.partitions import DAILY
from assets_dag.reports.delivery import email_report
from assets_dag.reports.site_report import FILENAME, KIND, SECTIONS, write_report
from assets_dag.resources import DatabaseResource, LakehouseResource

REPORT_HAS_SECTIONS = "has_every_section"
REPORT_DELIVERED = "emailed_to_subscribers"


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
        ),
        dg.AssetCheckSpec(
            REPORT_DELIVERED,
            asset="site_daily_report",
            description='Sent to every email channel subscribed with config "reports": ["site_daily"].',
        ),
    ],
)
def site_daily_report(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, database: DatabaseResource
) -> dg.MaterializeResult:
    """The day's site report: utilisation, top dwell, occupancy, alerts, gateway health and maintenance due,
    as one self-contained HTML file with inline SVG charts (reports/site_daily/<date>/report.html), then
    emailed to the channels subscribed to it."""
    day = dt.date.fromisoformat(context.partition_key)
    uri, html = write_report(lakehouse.lakehouse(), day)
    missing = [s for s in SECTIONS if f'id="{s}"' not in html]
    sent = email_report(database.engine(), KIND, day, html, uri, FILENAME)
    failed = [f"{s.channel}: {s.detail}" for s in sent if not s.ok]
    for failure in failed:
        context.log.warning("site report for %s not emailed to %s", day, failure)
    return dg.MaterializeResult(
        metadata={
            "uri": dg.MetadataValue.path(uri),
            "bytes": len(html.encode()),
            "emailed_to": ", ".join(s.channel for s in sent if s.ok) or "-",
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=REPORT_HAS_SECTIONS,
                passed=not missing,
                metadata={"missing": ", ".join(missing) or "-"},
            ),
            # A WARN, not an error: the report is stored and listed by the API whether or not the mail got out.
            dg.AssetCheckResult(
                check_name=REPORT_DELIVERED,
                passed=not failed,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"channels": len(sent), "failed": "; ".join(failed) or "-"},
            ),
        ],
    )
