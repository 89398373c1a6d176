"""The realtime catalog builds its gateway table from the database: each gateway's own path-loss values and
sensitivity where it has them, the site-wide settings where it does not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.orm import Session

from core.db.engine import make_engine, upgrade_database
from core.db.models import Gateway, Site
from core.settings import Settings
from realtime.catalog import load_catalog

pytestmark = pytest.mark.unit


def test_a_gateways_own_sensitivity_wins_over_the_site_wide_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session, session.begin():
            site = Site(name="Yard", origin_lat=52.0, origin_lon=4.0)
            session.add(site)
            session.flush()
            session.add_all(
                [
                    Gateway(gateway_id="GW-A", site_id=site.id, x=0.0, y=0.0, sensitivity_dbm=-88.0),
                    Gateway(gateway_id="GW-B", site_id=site.id, x=10.0, y=0.0),
                ]
            )
        catalog = load_catalog(engine, Settings(gateway_sensitivity_dbm=-97.0))
    finally:
        engine.dispose()
    assert catalog.gateways is not None
    by_id = dict(zip(catalog.gateways.ids, np.asarray(catalog.gateways.sensitivity_dbm), strict=True))
    assert by_id == {"GW-A": -88.0, "GW-B": -97.0}
