"""The battery-life model asset: lakehouse battery history → one MLflow run and registered version per site."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa
import pytest

from assets_dag.ml.battery_assets import battery_models
from assets_dag.ml.registry import client_for
from assets_dag.resources import DatabaseResource, LakehouseResource, MLflowResource
from core.db.engine import make_engine, session_factory, upgrade_database
from core.db.models import Asset, Site
from core.ml.registry_names import CHAMPION_ALIAS, battery_model_name
from lakehouse import RAW_OBSERVATIONS, Lakehouse, Partition, mart
from lakehouse.schemas import OBSERVATIONS

pytestmark = pytest.mark.unit

END = dt.date(2025, 3, 30)
DAYS = 30
RAW_DAYS = 5  # the mart was not built for the last days: the raw observations stand in
RATES = {"A1": 0.4, "A2": 0.5, "A3": 0.6, "A4": 0.7, "A5": 0.8}  # %/day drain per tag on the site


def _level(tag: str, i: int) -> float:
    return 95.0 - RATES.get(tag, 0.0) * i  # a tag not in RATES (FF99) sits at 95 %: not draining


def _lake(root: Path) -> Lakehouse:
    lake = Lakehouse(root.as_uri())
    tags = [*RATES, "FF99"]  # FF99 has no asset and was never located: no site
    for i in range(DAYS):
        day = END - dt.timedelta(days=DAYS - 1 - i)
        if i < DAYS - RAW_DAYS:
            table = pa.table({"date": [day] * len(tags), "tag_id": tags,
                              "battery_median": [_level(t, i) for t in tags]})  # fmt: skip
            lake.write_partition(mart("battery_trend"), Partition(day), table)
        else:
            ts = [dt.datetime.combine(day, dt.time(9, m), tzinfo=dt.UTC) for m in range(3)]
            rows = [(t, s, _level(t, i) + d) for t in tags for s, d in zip(ts, (-0.3, 0.0, 0.3), strict=True)]
            n = len(rows)
            table = pa.table(
                {
                    "tag_id": [r[0] for r in rows],
                    "gateway_id": ["GW1"] * n,
                    "ts": [r[1] for r in rows],
                    "rssi": [-70] * n,
                    "tx_power": [None] * n,
                    "battery": [r[2] for r in rows],
                    "temperature": [None] * n,
                    "seq": [None] * n,
                    "kafka_partition": [0] * n,
                    "kafka_offset": list(range(n)),
                    "kafka_ts": [r[1] for r in rows],
                },  # fmt: skip
                schema=OBSERVATIONS,
            )
            lake.write_partition(RAW_OBSERVATIONS, Partition(day, 9), table)
    return lake


def _run(db_url: str, lake: Lakehouse, tracking: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [battery_models],
        resources={
            "database": DatabaseResource(url=db_url),
            "lakehouse": LakehouseResource(url=lake.url),
            "mlflow": MLflowResource(tracking_uri=tracking),
        },
        partition_key=END.isoformat(),
    )


def test_battery_history_trains_a_registered_backtested_model_per_site(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'platform.db'}"
    upgrade_database(db_url)
    site_id = uuid.uuid4()
    with session_factory(make_engine(db_url))() as db:
        db.add(Site(id=site_id, name="depot", origin_lat=52.2, origin_lon=21.0))
        db.flush()
        for tag in RATES:
            db.add(Asset(name=f"pump {tag}", tag_id=tag, site_id=site_id))
        db.commit()
    lake = _lake(tmp_path / "lake")
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"

    result = _run(db_url, lake, tracking)
    assert result.success
    meta = result.asset_materializations_for_node("battery_models")[0].metadata
    assert meta["dagster/row_count"].value == 1
    assert meta["days_from_raw_observations"].value == RAW_DAYS
    assert meta["days_from_mart"].value == DAYS - RAW_DAYS
    assert meta["tags_without_site"].value == 1

    client = client_for(tracking)
    name = battery_model_name(site_id)
    champion = client.get_model_version_by_alias(name, CHAMPION_ALIAS)
    run = client.get_run(champion.run_id)
    assert run.data.metrics["site_drain_pct_per_day"] == pytest.approx(0.6, abs=0.01)
    assert run.data.metrics["backtest_mae_pct"] < 0.5  # straight-line drains: predicted a week ahead closely
    assert run.data.params["history_days"] == "90"

    import mlflow

    loaded = mlflow.pyfunc.load_model(f"models:/{name}@{CHAMPION_ALIAS}")
    assert loaded.metadata.signature is not None
    assert loaded.metadata.saved_input_example_info is not None
    import pandas as pd

    history = pd.DataFrame(
        {"tag_id": ["A3"] * 20, "day": np.arange(20.0), "battery_pct": 90 - 0.6 * np.arange(20.0)}
    )
    [row] = loaded.predict(history).to_dict("records")
    assert row["drain_pct_per_day"] == pytest.approx(0.6, abs=0.02)
    assert row["days_left"] == pytest.approx((90 - 0.6 * 19) / 0.6, rel=0.05)

    # A retrain on the same history registers a new version and, backtesting no worse, becomes champion.
    assert _run(db_url, lake, tracking).success
    assert str(client.get_model_version_by_alias(name, CHAMPION_ALIAS).version) == "2"


def test_a_site_without_draining_batteries_is_reported_not_failed(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'platform.db'}"
    upgrade_database(db_url)
    site_id = uuid.uuid4()
    with session_factory(make_engine(db_url))() as db:
        db.add(Site(id=site_id, name="depot", origin_lat=52.2, origin_lon=21.0))
        db.flush()
        db.add(Asset(name="pump", tag_id="FF99", site_id=site_id))  # FF99's level never falls in _lake
        db.commit()
    lake = _lake(tmp_path / "lake")
    result = _run(db_url, lake, f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert result.success
    meta = result.asset_materializations_for_node("battery_models")[0].metadata
    assert meta["dagster/row_count"].value == 0
    assert "no tag has" in meta["not_trained"].value
