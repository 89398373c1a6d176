"""Names shared by the code that registers models (Dagster assets) and the code that serves them (realtime).

One registered model per site and kind, so a site's champion can move without touching any other site.
"""

from __future__ import annotations

CHAMPION_ALIAS = "champion"
LOCATION_MODEL_PREFIX = "asset-tag-location-"
BATTERY_MODEL_PREFIX = "asset-tag-battery-"
EXPERIMENT_NAME = "asset-tag"


def location_model_name(site_id: object) -> str:
    """Registered model name of a site's location model (calibrated path loss + fingerprint)."""
    return f"{LOCATION_MODEL_PREFIX}{site_id}"


def battery_model_name(site_id: object) -> str:
    return f"{BATTERY_MODEL_PREFIX}{site_id}"


def site_of_location_model(name: str) -> str | None:
    """Inverse of `location_model_name`; None for names that are not location models."""
    return name.removeprefix(LOCATION_MODEL_PREFIX) if name.startswith(LOCATION_MODEL_PREFIX) else None
