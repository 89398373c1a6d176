"""All tables of the platform, one module per domain; import models from here.

Importing this package registers every table on `metadata` (advanced-alchemy's shared `orm_registry.metadata`),
which is what the Alembic migrations are checked against.
"""

from core.db.models._base import metadata
from core.db.models.access import ApiKey, AuditLogEntry
from core.db.models.alerts import Alert, AlertComment, AlertRule, subject_key
from core.db.models.assets import Asset, normalise_tag_id
from core.db.models.calibration import CalibrationPoint, CalibrationSession
from core.db.models.jobs import Job, job_assets
from core.db.models.locations import CurrentLocation, LocationHistory, ZoneEvent
from core.db.models.maintenance import MaintenanceRecord, MaintenanceSchedule
from core.db.models.notifications import NotificationChannel, NotificationDelivery
from core.db.models.sites import Gateway, Geofence, Site

__all__ = [
    "Alert",
    "AlertComment",
    "AlertRule",
    "ApiKey",
    "Asset",
    "AuditLogEntry",
    "CalibrationPoint",
    "CalibrationSession",
    "CurrentLocation",
    "Gateway",
    "Geofence",
    "Job",
    "LocationHistory",
    "MaintenanceRecord",
    "MaintenanceSchedule",
    "NotificationChannel",
    "NotificationDelivery",
    "Site",
    "ZoneEvent",
    "job_assets",
    "metadata",
    "normalise_tag_id",
    "subject_key",
]
