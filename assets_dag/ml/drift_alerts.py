"""Drift → the alert engine: a degraded site opens (or refreshes) one `model_drift` alert; a healthy site resolves it.

The alert belongs to the system rule of kind `model_drift` (`core.alerts.persist`): the partial unique index on
(rule_id, subject_key) keeps one unresolved alert per site however often the daily partition is re-run. A site
with too few live fixes to judge (`MIN_LIVE_FIXES`) neither opens nor resolves: no evidence either way.
Opening and resolving queue notifications in the same transaction through the alert engine's outbox (every
enabled channel that wants the action and severity; the delivery worker in `assettag consume`/`alerts` sends
them); a refresh notifies nobody, as a repeat never does.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import asdict

from sqlalchemy import Engine

from core.alerts.changes import change_of
from core.alerts.outbox import enqueue
from core.alerts.persist import OPENED, RESOLVED, AlertWrite, ensure_system_rule, resolve_alert, upsert_alert
from core.ml.drift import MIN_LIVE_FIXES, DriftReport

MODEL_DRIFT_KIND = "model_drift"  # listed in core.alerts.persist.SYSTEM_KINDS
RULE_NAME = "Location model drift"
RULE_DESCRIPTION = (
    "Raised by the daily `location_model_drift` Dagster asset when a site's live fix quality falls behind its "
    "champion location model's held-out evaluation; resolved when a later day is healthy again."
)


def _site_uuid(site_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(site_id)
    except ValueError:
        return None


def sync_drift_alerts(
    engine: Engine, reports: list[DriftReport], day: dt.date, now: dt.datetime
) -> list[AlertWrite]:
    """Open/refresh an alert per degraded site, resolve it for sites judged healthy; one transaction."""
    writes: list[AlertWrite] = []
    with engine.begin() as conn:
        rule = ensure_system_rule(conn, MODEL_DRIFT_KIND, RULE_NAME, RULE_DESCRIPTION, now)
        for report in reports:
            if report.degraded:
                if not rule.enabled:  # a person switched the check's alerts off
                    continue
                details = {"day": day.isoformat(), **asdict(report), "reasons": list(report.reasons)}
                details = {k: (None if isinstance(v, float) and v != v else v) for k, v in details.items()}
                writes.append(
                    upsert_alert(
                        conn,
                        rule,
                        subject_type="site",
                        subject_id=report.site_id,
                        site_id=_site_uuid(report.site_id),
                        message=f"location model drift on {day}: {'; '.join(report.reasons)}",
                        details=details,
                        at=now,
                        now=now,
                    )
                )
            elif report.fixes >= MIN_LIVE_FIXES and rule.auto_resolve:
                resolved = resolve_alert(conn, rule, subject_type="site", subject_id=report.site_id, now=now)
                if resolved is not None:
                    writes.append(resolved)
        changes = [change_of(conn, w.alert_id, w.action) for w in writes if w.action in (OPENED, RESOLVED)]
        enqueue(conn, changes, now)
    return writes
