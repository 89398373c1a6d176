"""Calibration sessions: a person walks a reference tag to known points; stopping the session fits path-loss
parameters (A, n) per gateway from what the gateways heard at those points, with the positioning package's own
fit (`core.positioning.calibration.fit_path_loss`). The result is stored on the session for review; gateways
are changed only when someone applies it (PATCH the gateways)."""

from __future__ import annotations

from typing import Any

import numpy as np
from advanced_alchemy.repository import SQLAlchemyAsyncRepository

from api.services import EntityService
from core.db.models import CalibrationSession, Gateway
from core.positioning.calibration import fit_path_loss
from core.positioning.gateways import placed_gateway_table
from core.settings import Settings


class CalibrationSessionService(EntityService[CalibrationSession]):
    class Repository(SQLAlchemyAsyncRepository[CalibrationSession]):
        model_type = CalibrationSession

    repository_type = Repository
    entity = "calibration session"


def fit_session(
    session: CalibrationSession, gateways: list[Gateway], settings: Settings
) -> dict[str, Any] | None:
    """Fitted {gateway_id: {ref_rssi_1m_dbm, path_loss_exponent, samples}}; None when nothing can be fitted."""
    table = placed_gateway_table(gateways, settings)
    if table is None:
        return None
    index = {str(gateway_id): i for i, gateway_id in enumerate(table.ids)}
    gw, rssi, xs, ys = [], [], [], []
    for point in session.points:
        for gateway_id, summary in (point.observations or {}).items():
            if gateway_id in index:
                gw.append(index[gateway_id])
                rssi.append(float(summary["median_rssi"]))
                xs.append(point.x)
                ys.append(point.y)
    if not gw:
        return None
    a, n, samples = fit_path_loss(table, np.array(gw), np.array(rssi), np.array(xs), np.array(ys))
    return {
        str(table.ids[i]): {
            "ref_rssi_1m_dbm": round(float(a[i]), 2),
            "path_loss_exponent": round(float(n[i]), 3),
            "samples": int(samples[i]),
        }
        for i in range(len(table))
        if samples[i] > 0
    }
