"""The embedded realtime loop serves each site's MLflow champion: fixes record the served model version, and moving
the `champion` alias changes it while the pipeline keeps running (SQLite MLflow store, memory stream, SQLite DB)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from assets_dag.ml.registry import log_location_model, set_champion
from core.db.engine import make_engine, upgrade_database
from core.live import MemoryHub
from core.ml.dataset import CalibrationData
from core.ml.registry_names import location_model_name
from core.ml.training import TrainingConfig, TrainingResult, train_location_model
from core.positioning.gateways import GatewayTable
from realtime.memory_stream import MemoryBroker
from realtime.models import ModelRegistryWatcher
from realtime.pipeline import RealtimePipeline
from realtime.simulation import SimulatedSite, SiteSimulator, build_site, encode_observation, seed_database
from realtime.stream import OBSERVATIONS

pytestmark = [pytest.mark.unit, pytest.mark.slow]


def _calibration(site: SimulatedSite, start: float, seconds: float) -> CalibrationData:
    """What the gateways heard of every simulated asset, with the simulator's ground truth per observation."""
    sim = SiteSimulator(site, start_s=start, seed=11)
    rows = []
    index = {tag: i for i, tag in enumerate(site.tag_ids)}
    for t in sim.beacon_times(start, start + seconds):
        truth, _ = sim.positions(t)
        for obs in sim.observations_at(t):
            x, y = truth[index[obs.tag_id]]
            rows.append(
                {
                    "ts": obs.ts / 1000.0,
                    "tag_id": obs.tag_id,
                    "gateway_id": obs.gateway_id,
                    "rssi": obs.rssi,
                    "x": x,
                    "y": y,
                }
            )
    return CalibrationData.from_rows(rows)


def _train(site: SimulatedSite, start: float) -> TrainingResult:
    gateways = GatewayTable.from_rows(
        [
            {"gateway_id": g, "x": float(x), "y": float(y)}
            for g, (x, y) in zip(site.gateway_ids, site.gateway_xy.tolist(), strict=True)
        ],
        default_ref_rssi_1m_dbm=-59.0,
        default_path_loss_exponent=2.0,
    )
    return train_location_model(
        gateways,
        _calibration(site, start, 60.0),
        TrainingConfig(train_fingerprint=False),
        heldout=_calibration(site, start + 60.0, 20.0),
    )


def _produce(settings, sim: SiteSimulator, start: float, seconds: float) -> None:  # type: ignore[no-untyped-def]
    broker = MemoryBroker.shared()
    for t in sim.beacon_times(start, start + seconds):
        for obs in sim.observations_at(t):
            broker.append(settings.topic(OBSERVATIONS), encode_observation(obs), obs.tag_id.encode())


def _drain(pipeline: RealtimePipeline) -> None:
    for _ in range(50):
        if not pipeline.run_once().messages:
            return


def _versions_since(engine, ts: float) -> tuple[set, set]:  # type: ignore[no-untyped-def]
    """model_version of the history rows at or after `ts`, and of every current location."""
    with engine.connect() as conn:
        history = conn.execute(text("SELECT ts, model_version FROM location_history")).all()
        current = conn.execute(text("SELECT model_version FROM current_locations")).scalars().all()
    since = {version for when, version in history if _epoch(when) >= ts - 1e-3}
    return since, set(current)


def _epoch(value) -> float:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _wait_for(watcher: ModelRegistryWatcher, site_id: object, label: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        model = watcher.current(site_id)
        if model is not None and model.version == label:
            return
        time.sleep(0.05)
    pytest.fail(f"watcher did not serve {label} within {timeout_s:.0f} s: {watcher.status()}")


def test_pipeline_serves_the_site_champion_and_follows_the_alias_without_restart(
    embedded_settings,
    monkeypatch,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setattr(MemoryBroker, "_shared", None)
    monkeypatch.setattr(MemoryHub, "_shared", None)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    settings = embedded_settings.model_copy(update={"history_heartbeat_s": 0.5, "mlflow_tracking_uri": uri})
    upgrade_database(settings.database_url)
    engine = make_engine(settings.database_url)
    site = build_site(8, seed=2)
    site_id = seed_database(engine, site)

    now = float(int(time.time()))
    result = _train(site, now - 600)
    v1 = log_location_model(uri, site_id, result)
    v2 = log_location_model(uri, site_id, result)
    name = location_model_name(site_id)
    assert (v1.name, v2.name) == (name, name) and v1.version != v2.version

    watcher = ModelRegistryWatcher(settings, poll_interval_s=0.2)
    pipeline = RealtimePipeline(settings, engine=engine, models=watcher.current)
    watcher.start()
    try:
        # No champion yet: the path-loss chain, and fixes say no model made them.
        start = now - 60
        sim = SiteSimulator(site, start_s=start, seed=4)
        _produce(settings, sim, start, 4)
        _drain(pipeline)
        history, current = _versions_since(engine, start)
        assert history == {None} and current == {None}

        set_champion(uri, site_id, v1.version)
        _wait_for(watcher, site_id, f"{name}/{v1.version}")
        _produce(settings, sim, start + 4, 4)
        _drain(pipeline)
        history, current = _versions_since(engine, start + 5)
        assert history == {f"{name}/{v1.version}"}
        assert current == {f"{name}/{v1.version}"}

        # The alias moves while the same pipeline keeps consuming: the next fixes come from v2.
        set_champion(uri, site_id, v2.version)
        _wait_for(watcher, site_id, f"{name}/{v2.version}")
        _produce(settings, sim, start + 8, 4)
        _drain(pipeline)
        history, current = _versions_since(engine, start + 9)
        assert history == {f"{name}/{v2.version}"}
        assert current == {f"{name}/{v2.version}"}
        # The served model's fixes are real positions: they follow the simulated assets.
        index = {tag: i for i, tag in enumerate(site.tag_ids)}
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT tag_id, ts, x, y FROM location_history")).all()
        errors = [
            np.hypot(x - truth[0][index[tag], 0], y - truth[0][index[tag], 1])
            for tag, when, x, y in rows
            if _epoch(when) >= start + 9
            for truth in [sim.positions(_epoch(when))]
        ]
        assert errors and np.median(errors) < 3.0
        assert watcher.status().healthy
    finally:
        watcher.stop()
        pipeline.close()
