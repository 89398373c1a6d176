"""The `ml` asset group: calibration data → location models per site (trained, logged, registered, gated) →
daily drift of live fix quality against each champion."""

import datetime as dt
from dataclasses import asdict

import dagster as dg
import numpy as np
from sqlalchemy import select

from assets_dag.ml.drift_alerts import sync_drift_alerts
from assets_dag.ml.registry import champion_evaluation, log_location_model, promote_if_better
from assets_dag.ml.training_data import SiteTrainingData, load_site_training_data
from assets_dag.partitions import DAILY
from assets_dag.resources import DatabaseResource, LakehouseResource, MLflowResource
from core.db.models import LocationHistory
from core.ml.drift import DriftReport, drift_report
from core.ml.registry_names import location_model_name
from core.ml.training import TrainingConfig, train_location_model
from core.settings import get_settings

GROUP = "ml"


@dg.asset(group_name=GROUP, kinds={"postgres", "parquet"})
def location_training_data(
    context: dg.AssetExecutionContext, database: DatabaseResource, lakehouse: LakehouseResource
) -> dg.Output[dict[str, SiteTrainingData]]:
    """Per site: observations heard at calibration points (fitted/applied sessions) with their true positions —
    raw observations from the lakehouse where landed, the points' cached summaries otherwise."""
    data = load_site_training_data(database.engine(), get_settings(), lakehouse.lakehouse())
    rows = sum(len(site.data) for site in data.values())
    context.log.info("calibration data for %d site(s), %d observations", len(data), rows)
    return dg.Output(
        data,
        metadata={
            "dagster/row_count": rows,
            "sites": len(data),
            "per_site": dg.MetadataValue.json(
                {
                    site: {
                        "observations": len(d.data),
                        "points": d.points,
                        "sessions": d.sessions,
                        "from_lakehouse": d.from_lakehouse,
                    }
                    for site, d in data.items()
                }
            ),
        },
    )


@dg.asset(group_name=GROUP, kinds={"mlflow"})
def location_models(
    context: dg.AssetExecutionContext,
    location_training_data: dict[str, SiteTrainingData],
    mlflow: MLflowResource,
) -> dg.MaterializeResult:
    """Per site: calibrate path loss, train a fingerprint when there are enough windows, keep the better on held-out
    time blocks, log the run and register a new version; promote it to `champion` only if the gate passes."""
    settings = get_settings()
    config = TrainingConfig(window_s=settings.window_s, fix_interval_s=settings.fix_interval_s)
    summary: dict[str, dict[str, object]] = {}
    failures: list[str] = []
    for site, site_data in sorted(location_training_data.items()):
        try:
            result = train_location_model(site_data.gateways, site_data.data, config)
        except ValueError as exc:  # too little or unusable data for this site: say so, train the others
            failures.append(f"{site}: {exc}")
            context.log.warning("site %s not trained: %s", site, exc)
            continue
        version = log_location_model(
            mlflow.tracking_uri, site, result, tags={"sessions": str(site_data.sessions)}
        )
        decision = promote_if_better(mlflow.tracking_uri, version, result)
        summary[site] = {
            "model": location_model_name(site),
            "version": version.version,
            "kind": result.model.kind,
            "promoted": decision.promote,
            "gate": decision.reason,
            "heldout_median_m": round(result.evaluation.median_m, 3),
            "heldout_p90_m": round(result.evaluation.p90_m, 3),
            "train_seconds": round(result.seconds.get("total", float("nan")), 2),
        }
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(summary),
            "promoted": sum(bool(s["promoted"]) for s in summary.values()),
            "sites": dg.MetadataValue.json(summary),
            "not_trained": "\n".join(failures) or "-",
        }
    )


def _live_fixes(
    database: DatabaseResource, day: dt.date
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    with database.engine().connect() as conn:
        rows = conn.execute(
            select(
                LocationHistory.site_id,
                LocationHistory.accuracy_m,
                LocationHistory.method,
                LocationHistory.model_version,
            ).where(LocationHistory.ts >= start, LocationHistory.ts < start + dt.timedelta(days=1))
        ).all()
    by_site: dict[str, list[tuple[float, str, str | None]]] = {}
    for row in rows:
        if row.site_id is not None:
            by_site.setdefault(str(row.site_id), []).append((row.accuracy_m, row.method, row.model_version))
    return {
        site: (
            np.array([r[0] for r in v], float),
            np.array([r[1] for r in v]),
            np.array([r[2] for r in v], object),
        )
        for site, v in by_site.items()
    }


@dg.asset(
    group_name=GROUP,
    partitions_def=DAILY,
    deps=[location_models],
    kinds={"postgres", "mlflow"},
    check_specs=[dg.AssetCheckSpec("location_quality_holds", asset="location_model_drift")],
)
def location_model_drift(
    context: dg.AssetExecutionContext, database: DatabaseResource, mlflow: MLflowResource
) -> dg.MaterializeResult:
    """Per site with a champion: the day's live fixes (accuracy_m, method mix, serving version) against the
    champion's held-out evaluation. The check fails (warning) for every site that degraded, and each degraded
    site opens (or refreshes) one `model_drift` alert in the alert engine's table; a site judged healthy again
    has its alert auto-resolved."""
    day = dt.date.fromisoformat(context.partition_key)
    reports: list[DriftReport] = []
    for site, (accuracy, method, version) in sorted(_live_fixes(database, day).items()):
        champion = champion_evaluation(mlflow.tracking_uri, site)
        if champion is None:
            continue
        champion_version, reference = champion
        label = f"{location_model_name(site)}/{champion_version}"
        reports.append(drift_report(site, accuracy, method, version, reference, label))
    degraded = [r for r in reports if r.degraded]
    writes = sync_drift_alerts(database.engine(), reports, day, dt.datetime.now(dt.UTC))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(reports),
            "degraded_sites": len(degraded),
            "alerts": dg.MetadataValue.json([{"action": w.action, "subject": w.subject_key} for w in writes]),
            "reports": dg.MetadataValue.json([asdict(r) for r in reports]),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="location_quality_holds",
                passed=not degraded,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "degraded": "\n".join(f"{r.site_id}: {'; '.join(r.reasons)}" for r in degraded) or "-"
                },
            )
        ],
    )
