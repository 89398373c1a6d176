from __future__ import annotations

import datetime
import uuid
from typing import Annotated

from msgspec import Meta

from api.schemas import UNSET, Base, Floor, Latitude, Longitude, Metres, UnsetType

GatewayId = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9:._\-]+$")]
OptionalName = Annotated[str, Meta(max_length=200)]
RefRssi = Annotated[float, Meta(ge=-120, le=0, description="RSSI at 1 m, dBm (path-loss A)")]
PathLossExponent = Annotated[float, Meta(gt=0.5, lt=6, description="path-loss exponent n")]
Sensitivity = Annotated[
    float,
    Meta(
        ge=-130,
        le=-30,
        description="weakest RSSI the gateway reports, dBm (its receiver sensitivity; null = the site-wide "
        "ASSET_TAG_GATEWAY_SENSITIVITY_DBM)",
    ),
]


class Gateway(Base):
    id: uuid.UUID
    gateway_id: str
    site_id: uuid.UUID
    name: str | None
    x: float | None
    y: float | None
    z: float | None
    lat: float | None
    lon: float | None
    floor: int
    ref_rssi_1m_dbm: float | None
    path_loss_exponent: float | None
    sensitivity_dbm: float | None
    status: str
    last_seen: datetime.datetime | None
    created_at: datetime.datetime
    updated_at: datetime.datetime


class GatewayStatus(Base):
    id: uuid.UUID
    gateway_id: str
    status: str
    last_seen: datetime.datetime | None
    seconds_since_seen: float | None
    observation_rate_per_s: float | None
    """Observations per second in the newest hour the lakehouse landed (None: nothing landed in a day)."""
    observation_rate_from: datetime.datetime | None
    observation_rate_to: datetime.datetime | None


class GatewayCreate(Base):
    gateway_id: GatewayId
    site_id: uuid.UUID
    name: OptionalName | None = None
    x: Metres | None = None
    y: Metres | None = None
    z: Metres | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    floor: Floor = 0
    ref_rssi_1m_dbm: RefRssi | None = None
    path_loss_exponent: PathLossExponent | None = None
    sensitivity_dbm: Sensitivity | None = None


class GatewayUpdate(Base):
    name: OptionalName | None | UnsetType = UNSET
    x: Metres | None | UnsetType = UNSET
    y: Metres | None | UnsetType = UNSET
    z: Metres | None | UnsetType = UNSET
    lat: Latitude | None | UnsetType = UNSET
    lon: Longitude | None | UnsetType = UNSET
    floor: Floor | UnsetType = UNSET
    ref_rssi_1m_dbm: RefRssi | None | UnsetType = UNSET
    path_loss_exponent: PathLossExponent | None | UnsetType = UNSET
    sensitivity_dbm: Sensitivity | None | UnsetType = UNSET
