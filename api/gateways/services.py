from __future__ import annotations

from typing import Any

from advanced_alchemy.repository import SQLAlchemyAsyncRepository

from api.errors import Unprocessable
from api.services import EntityService
from core.db.models import Gateway


class GatewayService(EntityService[Gateway]):
    class Repository(SQLAlchemyAsyncRepository[Gateway]):
        model_type = Gateway

    repository_type = Repository
    entity = "gateway"


def check_position(values: Any) -> None:
    """A gateway is placed by x/y metres or by lat/lon; half a position is a mistake worth naming."""
    x, y, lat, lon = (getattr(values, name, None) for name in ("x", "y", "lat", "lon"))
    if (x is None) != (y is None):
        raise Unprocessable("x, y: give both coordinates (metres in the site frame) or neither", field="x")
    if (lat is None) != (lon is None):
        raise Unprocessable("lat, lon: give both or neither", field="lat")
    if x is None and lat is None:
        raise Unprocessable(
            "position: place the gateway with x and y (metres) or with lat and lon", field="x"
        )
