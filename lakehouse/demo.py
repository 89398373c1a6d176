"""A synthetic but plausible day of site data written straight into the lakehouse (notebooks, tests, benchmark).

Tags alternate between moving (about 1 m/s) and standing still on a 100 m x 60 m site, drop out now and then,
cross three rectangular zones (which produces enter/exit events) and are heard by a grid of gateways with a
log-distance RSSI. Everything is generated with numpy in a few vectorised steps, so 10 million observations
take seconds. The same seed gives the same data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse import layout, schemas
from lakehouse.store import Lakehouse

SITE_W, SITE_H = 100.0, 60.0
ZONES = {
    "dock": (0.0, 0.0, 25.0, 20.0),
    "workshop": (40.0, 30.0, 70.0, 60.0),
    "yard": (75.0, 0.0, 100.0, 25.0),
}
CATEGORIES = ("forklift", "pallet_jack", "cart")


@dataclass(frozen=True)
class DemoDay:
    observations: pa.Table
    locations: pa.Table
    zone_events: pa.Table
    alerts: pa.Table
    assets: pa.Table  # asset_id, tag_id, category


def _ts(day: dt.date, seconds: np.ndarray) -> pa.Array:
    base = int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp() * 1_000_000)
    return pa.array(base + (seconds * 1_000_000).astype(np.int64), schemas.UTC_TS)


def _labels(indices: np.ndarray, names: object) -> pa.Array:
    """Strings by index, built in C++ (numpy string arrays of millions of rows are slow to convert)."""
    dictionary = pa.array(list(names))  # type: ignore[call-overload]
    return pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32()), dictionary).cast(pa.string())


def _reflect(position: np.ndarray, size: float) -> np.ndarray:
    """Bounce off the site's walls: a triangle wave keeps positions continuous within [0, size]."""
    return size - np.abs(np.mod(position, 2 * size) - size)


def generate(day: dt.date, observations: int = 200_000, tags: int = 40, gateways: int = 12, seed: int = 7,
             fix_interval_s: float = 30.0) -> DemoDay:  # fmt: skip
    rng = np.random.default_rng(seed)
    tag_ids = [f"AC233F{i:06X}" for i in range(tags)]
    asset_ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(tags)]

    # --- tracks: one fix per tag every fix_interval_s, moving or idle in 10-minute spells ----------------------
    steps = int(86_400 / fix_interval_s)
    t = np.arange(steps) * fix_interval_s
    spell = max(1, int(600 / fix_interval_s))
    moving = np.repeat(rng.random((tags, steps // spell + 1)) < 0.35, spell, axis=1)[:, :steps]
    heading = np.repeat(rng.uniform(0, 2 * np.pi, (tags, steps // spell + 1)), spell, axis=1)[:, :steps]
    step_len = np.where(moving, 1.0 * fix_interval_s, 0.0)
    x = _reflect(rng.uniform(0, SITE_W, (tags, 1)) + np.cumsum(np.cos(heading) * step_len, axis=1), SITE_W)
    y = _reflect(rng.uniform(0, SITE_H, (tags, 1)) + np.cumsum(np.sin(heading) * step_len, axis=1), SITE_H)
    # Each tag is missing for one random hour (battery swap, out of range).
    gap = int(3600 / fix_interval_s)
    gap_start = rng.integers(0, steps - gap, tags)
    step_numbers = np.arange(steps)[None, :]
    present = ~((step_numbers >= gap_start[:, None]) & (step_numbers < gap_start[:, None] + gap))
    tag_index, step_index = np.nonzero(present)
    fx, fy, ft = x[tag_index, step_index], y[tag_index, step_index], t[step_index]
    n = ft.size
    method = np.where(rng.random(n) < 0.8, 0, np.where(rng.random(n) < 0.5, 1, 2))
    accuracy = np.where(method == 0, rng.gamma(2.0, 1.0, n), rng.gamma(4.0, 1.5, n))
    zone_names = list(ZONES)
    zone_of = np.full(n, -1)
    for number, (x0, y0, x1, y1) in enumerate(ZONES.values()):
        zone_of[(fx >= x0) & (fx < x1) & (fy >= y0) & (fy < y1)] = number
    inside = zone_of >= 0
    zone_ids = pa.ListArray.from_arrays(
        pa.array(np.concatenate([[0], np.cumsum(inside)]).astype(np.int32)),
        _labels(zone_of[inside], zone_names),
    )
    tag_labels, asset_labels = _labels(tag_index, tag_ids), _labels(tag_index, asset_ids)
    locations = pa.table(
        {
            "tag_id": tag_labels, "asset_id": asset_labels, "site_id": _labels(np.zeros(n, np.int32), ["site-1"]),
            "ts": _ts(day, ft), "x": fx, "y": fy, "lat": 52.0 + fy / 111_320, "lon": 13.0 + fx / 68_500,
            "floor": np.zeros(n, np.int16), "accuracy_m": accuracy.astype(np.float32),
            "confidence": rng.uniform(0.4, 1.0, n).astype(np.float32),
            "method": _labels(method, ["trilateration", "midpoint", "proximity"]),
            "gateway_count": np.where(method == 0, rng.integers(3, 7, n), 2).astype(np.int16),
            "zone_ids": zone_ids,
            "kafka_partition": (tag_index % 3).astype(np.int32), "kafka_offset": np.arange(n, dtype=np.int64),
            "kafka_ts": _ts(day, ft),
        }
    ).cast(schemas.LOCATIONS)  # fmt: skip

    # --- zone events: membership changes along each tag's track ---------------------------------------------
    events = []
    for tag in range(tags):
        mine = tag_index == tag
        zones, times = zone_of[mine], ft[mine]
        changed = np.nonzero(zones[1:] != zones[:-1])[0] + 1
        for i in changed:
            if zones[i - 1] >= 0:
                events.append((tag, zone_names[zones[i - 1]], "exit", times[i]))
            if zones[i] >= 0:
                events.append((tag, zone_names[zones[i]], "enter", times[i]))
    ev = np.array([e[3] for e in events], dtype=float)
    zone_events = pa.table(
        {
            "tag_id": [tag_ids[e[0]] for e in events], "asset_id": [asset_ids[e[0]] for e in events],
            "site_id": ["site-1"] * len(events), "zone_id": [e[1] for e in events], "kind": [e[2] for e in events],
            "ts": _ts(day, ev), "dwell_s": pa.nulls(len(events), pa.float64()),
            "reason": pa.nulls(len(events), pa.string()),  # naive inside-tests: no membership rule decided
            **{name: pa.nulls(len(events), pa.float64()) for name in ("depth_m", "accuracy_m", "margin_m")},
            "kafka_partition": pa.array(np.zeros(len(events), np.int32)),
            "kafka_offset": pa.array(np.arange(len(events), dtype=np.int64)), "kafka_ts": _ts(day, ev),
        }
    ).cast(schemas.ZONE_EVENTS)  # fmt: skip

    # --- observations: each one a tag heard by a gateway, near a fix of that tag ----------------------------
    gx = np.tile(np.linspace(5, SITE_W - 5, 4), 3)[:gateways]
    gy = np.repeat(np.linspace(5, SITE_H - 5, 3), 4)[:gateways]
    pick = rng.integers(0, ft.size, observations)
    pick.sort()
    gateway = rng.integers(0, gateways, observations)
    distance = np.hypot(fx[pick] - gx[gateway], fy[pick] - gy[gateway]) + 0.5
    rssi = np.clip(-59 - 20 * np.log10(distance) + rng.normal(0, 4, observations), -110, -30).astype(np.int16)
    seconds = ft[pick] + rng.uniform(0, fix_interval_s, observations)
    start_battery = rng.uniform(40, 100, tags)
    battery = start_battery[tag_index[pick]] - seconds / 86_400 * rng.uniform(0.05, 0.5)
    battery = np.where(rng.random(observations) < 0.1, np.round(battery, 1), np.nan).astype(np.float32)
    observations_table = pa.table(
        {
            "tag_id": _labels(tag_index[pick], tag_ids), "gateway_id": _labels(gateway, [f"GW{g:02d}" for g in range(gateways)]),
            "ts": _ts(day, seconds), "rssi": rssi, "tx_power": pa.nulls(observations, pa.int16()),
            "battery": pa.array(battery, mask=np.isnan(battery)), "temperature": pa.nulls(observations, pa.float32()),
            "seq": pa.nulls(observations, pa.int64()), "kafka_partition": (tag_index[pick] % 3).astype(np.int32),
            "kafka_offset": np.arange(observations, dtype=np.int64), "kafka_ts": _ts(day, seconds),
        }
    ).cast(schemas.OBSERVATIONS)  # fmt: skip

    # --- alerts -----------------------------------------------------------------------------------------------
    n_alerts = 12
    opened = np.sort(rng.uniform(0, 80_000, n_alerts))
    acked = np.where(rng.random(n_alerts) < 0.7, opened + rng.gamma(2, 300, n_alerts), np.nan)
    resolved = np.where(rng.random(n_alerts) < 0.6, opened + rng.gamma(2, 1800, n_alerts), np.nan)
    alerts = pa.table(
        {
            "alert_id": [f"alert-{i}" for i in range(n_alerts)],
            "kind": rng.choice(["zone_exit", "low_battery", "missing", "restricted_zone"], n_alerts),
            "severity": rng.choice(["warning", "critical"], n_alerts), "subject_key": [f"asset:{asset_ids[i % tags]}" for i in range(n_alerts)],
            "asset_id": _labels(rng.integers(0, tags, n_alerts), asset_ids), "site_id": ["site-1"] * n_alerts,
            "status": np.where(~np.isnan(resolved), "resolved", np.where(~np.isnan(acked), "acknowledged", "open")),
            "opened_at": _ts(day, opened),
            "acknowledged_at": pc.if_else(pa.array(np.isnan(acked)), pa.nulls(n_alerts, schemas.UTC_TS), _ts(day, np.nan_to_num(acked))),
            "resolved_at": pc.if_else(pa.array(np.isnan(resolved)), pa.nulls(n_alerts, schemas.UTC_TS), _ts(day, np.nan_to_num(resolved))),
        }
    ).cast(schemas.ALERTS)  # fmt: skip
    assets = pa.table(
        {"asset_id": asset_ids, "tag_id": tag_ids, "category": [CATEGORIES[i % 3] for i in range(tags)]}
    )
    return DemoDay(observations_table, locations, zone_events, alerts, assets)


def write_day(lakehouse: Lakehouse, day: dt.date, demo: DemoDay) -> None:
    """Land the demo day like the landing assets would: hourly partitions, alerts daily."""
    for dataset, table in (
        (layout.RAW_OBSERVATIONS, demo.observations),
        (layout.LOCATIONS, demo.locations),
        (layout.ZONE_EVENTS, demo.zone_events),
    ):
        hours = pc.hour(table["ts"]).to_numpy()
        for hour in range(24):
            rows = table.filter(pa.array(hours == hour))
            lakehouse.write_partition(dataset, layout.Partition(day, hour), rows)
    lakehouse.write_partition(layout.ALERTS, layout.Partition(day), demo.alerts)
