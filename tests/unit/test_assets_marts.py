"""Each daily mart on a small hand-made data set, with the answers worked out by hand in the comments."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pytest

from assets_dag.analytics import marts
from lakehouse import schemas

pytestmark = pytest.mark.unit

DAY = dt.date(2024, 5, 1)
MIDNIGHT = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
P = marts.MartParameters(missing_gap_s=300, moving_speed_mps=0.3, in_use_grace_s=600, silent_gap_s=300)


def at(seconds: float) -> dt.datetime:
    return MIDNIGHT + dt.timedelta(seconds=seconds)


def _table(schema: pa.Schema, rows: list[dict[str, object]]) -> pa.Table:
    full = [{name: row.get(name) for name in schema.names} for row in rows]
    for row in full:
        for kafka_column in ("kafka_partition", "kafka_offset"):
            if kafka_column in row and row[kafka_column] is None:
                row[kafka_column] = 0
        if "kafka_ts" in row and row["kafka_ts"] is None:
            row["kafka_ts"] = row["ts"]
    return pa.Table.from_pylist(full, schema=schema)


def _connection(**tables: pa.Table) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    for name, table in tables.items():
        connection.register(name, table)
    return connection


def _rows(table: pa.Table, *columns: str) -> list[tuple[object, ...]]:
    return [tuple(row[c] for c in columns) for row in table.to_pylist()]


def test_utilisation_splits_the_day_into_moving_idle_missing_and_in_use() -> None:
    fixes = [
        # Tag A: 0 -> 60 s moves 60 m (1 m/s: moving); 60 -> 120 s stays (idle, within 600 s of moving: in use);
        # 120 -> 1000 s is a gap of 880 s > 300 s (missing); 1000 -> 1060 s idle, 940 s after moving: not in use.
        {"tag_id": "A", "asset_id": "asset-a", "ts": at(0), "x": 0.0, "y": 0.0},
        {"tag_id": "A", "asset_id": "asset-a", "ts": at(60), "x": 60.0, "y": 0.0},
        {"tag_id": "A", "asset_id": "asset-a", "ts": at(120), "x": 60.0, "y": 0.0},
        {"tag_id": "A", "asset_id": "asset-a", "ts": at(1000), "x": 60.0, "y": 0.0},
        {"tag_id": "A", "asset_id": "asset-a", "ts": at(1060), "x": 60.0, "y": 1.0},
        # Tag B: one fix only; and a fix of the next day that must not count.
        {"tag_id": "B", "ts": at(500), "x": 1.0, "y": 1.0},
        {"tag_id": "B", "ts": at(86_400 + 5), "x": 9.0, "y": 9.0},
    ]
    assets = pa.table({"asset_id": ["asset-a"], "category": ["forklift"]})
    result = marts.utilisation(_connection(locations=_table(schemas.LOCATIONS, fixes), assets=assets), DAY, P)
    a, b = result.to_pylist()
    assert (a["moving_s"], a["idle_s"], a["missing_s"], a["in_use_s"]) == (60, 120, 86_400 - 180, 120)
    assert a["category"] == "forklift" and a["fixes"] == 5 and a["distance_m"] == pytest.approx(60.0)
    assert a["utilisation"] == pytest.approx(120 / 86_400)
    assert (b["fixes"], b["moving_s"], b["idle_s"], b["missing_s"]) == (1, 0, 0, 86_400)


def _events(rows: list[tuple[str, str, str, float]]) -> pa.Table:
    return _table(
        schemas.ZONE_EVENTS, [{"tag_id": t, "zone_id": z, "kind": k, "ts": at(s)} for t, z, k, s in rows]
    )


# Dock: A visits 60 s and 600 s; B visits 120 s; C is inside since the day before until 01:00 (3600 s of today).
# Yard: A enters at 23:00 and is still inside at midnight (3600 s, open).
ZONE_ROWS = [
    ("A", "dock", "enter", 100), ("A", "dock", "exit", 160),
    ("A", "dock", "enter", 7200), ("A", "dock", "exit", 7800),
    ("B", "dock", "enter", 7300), ("B", "dock", "exit", 7420),
    ("C", "dock", "enter", -600), ("C", "dock", "exit", 3600),
    ("A", "yard", "enter", 82_800),
]  # fmt: skip


def test_zone_dwell_per_zone_and_tag_with_median_and_p90() -> None:
    result = marts.zone_dwell(_connection(zone_events=_events(ZONE_ROWS)), DAY)
    rows = _rows(result, "zone_id", "tag_id", "visits", "total_dwell_s", "median_dwell_s", "p90_dwell_s")
    assert rows == [
        # Dock overall: dwells 60, 600, 120, 3600 -> median (120 + 600) / 2 = 360; p90 = 600 + 0.7 * 3000 = 2700.
        ("dock", None, 4, 4380, 360, pytest.approx(2700)),
        ("dock", "A", 2, 660, 330, pytest.approx(546)),  # p90 of 60, 600 = 60 + 0.9 * 540
        ("dock", "B", 1, 120, 120, 120),
        ("dock", "C", 1, 3600, 3600, 3600),
        ("yard", None, 1, 3600, 3600, 3600),
        ("yard", "A", 1, 3600, 3600, 3600),
    ]
    assert result.to_pylist()[-1]["open_visits"] == 1


def test_zone_occupancy_by_hour() -> None:
    result = marts.zone_occupancy(_connection(zone_events=_events(ZONE_ROWS)), DAY)
    rows = _rows(result, "zone_id", "hour", "tags_present", "avg_occupancy")
    assert rows == [
        # Hour 0: C all hour (3600 s) + A 60 s -> 3660 / 3600.
        ("dock", 0, 2, pytest.approx(3660 / 3600)),
        # Hour 2 (7200-10800): A 600 s + B 120 s.
        ("dock", 2, 2, pytest.approx(720 / 3600)),
        ("yard", 23, 1, pytest.approx(1.0)),
    ]


def test_gateway_health_counts_silences_including_the_day_edges() -> None:
    observations = [
        # G1 hears A at 00:00:00 and 00:04:00 (gap 240 s: not silent), then nothing until 01:00 (3360 s silent),
        # B at 01:00 and then nothing until midnight (82800 s silent).
        ("G1", "A", 0, -50), ("G1", "A", 240, -60), ("G1", "B", 3600, -70),
        # G2 first hears at 00:10 (600 s silent since midnight), last at 23:59:00 (60 s to midnight: fine).
        ("G2", "A", 600, -80), ("G2", "A", 86_340, -90),
    ]  # fmt: skip
    table = _table(
        schemas.OBSERVATIONS,
        [{"gateway_id": g, "tag_id": t, "ts": at(s), "rssi": r} for g, t, s, r in observations],
    )
    result = marts.gateway_health(_connection(observations=table), DAY, P)
    rows = _rows(
        result, "gateway_id", "observations", "tags_heard", "silent_periods", "silent_s", "longest_silence_s"
    )
    assert rows == [("G1", 3, 2, 2, 3360 + 82_800, 82_800), ("G2", 2, 1, 2, 600 + 85_740, 85_740)]
    g1 = result.to_pylist()[0]
    assert (g1["rssi_min"], g1["rssi_median"], g1["rssi_max"]) == (-70, -60, -50)


def test_battery_trend_predicts_days_left_from_daily_medians() -> None:
    # Two earlier days at 90 % and 89 %; today readings 88.5 and 87.5 (median 88, last 87.5).
    # Medians 90, 89, 88 over three days drain 1 %/day -> 87.5 days left.
    history = pa.table(
        {
            "date": [DAY - dt.timedelta(days=2), DAY - dt.timedelta(days=1), DAY - dt.timedelta(days=40)],
            "tag_id": ["A", "A", "A"],  # the 40-day-old median is outside the 30-day window
            "battery_median": [90.0, 89.0, 10.0],
        }
    )
    readings = [
        {"tag_id": "A", "gateway_id": "G1", "ts": at(100), "rssi": -60, "battery": 88.5},
        {"tag_id": "A", "gateway_id": "G1", "ts": at(200), "rssi": -60, "battery": 87.5},
        {"tag_id": "A", "gateway_id": "G1", "ts": at(300), "rssi": -60},  # no battery field
        {
            "tag_id": "B",
            "gateway_id": "G1",
            "ts": at(100),
            "rssi": -60,
            "battery": 50.0,
        },  # no history: no trend
    ]
    connection = _connection(observations=_table(schemas.OBSERVATIONS, readings), battery_history=history)
    a, b = marts.battery(connection, DAY, P).to_pylist()
    assert (a["readings"], a["battery_median"], a["battery_last"], a["trend_days"]) == (2, 88.0, 87.5, 3)
    assert a["drain_per_day"] == pytest.approx(-1.0)
    assert a["predicted_days_left"] == pytest.approx(87.5)
    assert b["trend_days"] == 1 and b["predicted_days_left"] is None


def test_alert_stats_time_to_acknowledge_and_resolve() -> None:
    alerts = [
        # Two zone alerts: acked after 60 s and 180 s, resolved after 600 s and still open.
        {"alert_id": "1", "kind": "zone_exit", "opened_at": at(1000), "acknowledged_at": at(1060), "resolved_at": at(1600)},
        {"alert_id": "2", "kind": "zone_exit", "opened_at": at(5000), "acknowledged_at": at(5180)},
        # A battery alert, never acknowledged, resolved after 3600 s; and one from the day before (excluded).
        {"alert_id": "3", "kind": "low_battery", "opened_at": at(7200), "resolved_at": at(10_800)},
        {"alert_id": "4", "kind": "low_battery", "opened_at": at(-10)},
    ]  # fmt: skip
    result = marts.alert_stats(_connection(alerts=_table(schemas.ALERTS, alerts)), DAY)
    rows = _rows(
        result, "kind", "raised", "acknowledged", "resolved", "unresolved", "median_ack_s", "median_resolve_s"
    )
    assert rows == [
        ("low_battery", 1, 0, 1, 0, None, 3600),
        ("zone_exit", 2, 2, 1, 1, 120, 600),
        ("all", 3, 2, 2, 1, 120, 2100),
    ]


def test_location_quality_share_of_fixes_by_method() -> None:
    fixes = [
        {"tag_id": "A", "ts": at(i), "x": 0.0, "y": 0.0, "method": method, "accuracy_m": acc, "confidence": 0.5,
         "gateway_count": gateways}
        for i, (method, acc, gateways) in enumerate(
            [("trilateration", 1.0, 3), ("trilateration", 3.0, 5), ("trilateration", 2.0, 4), ("proximity", 8.0, 1)]
        )
    ]  # fmt: skip
    result = marts.location_quality(_connection(locations=_table(schemas.LOCATIONS, fixes)), DAY)
    rows = _rows(result, "method", "fixes", "share", "median_accuracy_m", "mean_gateway_count")
    assert rows == [
        ("proximity", 1, 0.25, 8.0, 1.0),
        ("trilateration", 3, 0.75, 2.0, 4.0),
        ("all", 4, 1.0, 2.5, 3.25),
    ]


def test_battery_without_any_history_reports_no_trend() -> None:
    readings = [{"tag_id": "A", "gateway_id": "G1", "ts": at(100), "rssi": -60, "battery": 80.0}]
    (row,) = marts.battery(
        _connection(observations=_table(schemas.OBSERVATIONS, readings)), DAY, P
    ).to_pylist()
    assert (row["battery_last"], row["trend_days"], row["drain_per_day"], row["predicted_days_left"]) == (
        80.0,
        1,
        None,
        None,
    )


def test_gateway_rssi_quantiles_match_duckdb_quantile_cont_on_the_raw_values() -> None:
    import random

    rng = random.Random(3)
    rows = [
        {
            "gateway_id": f"G{g}",
            "tag_id": "A",
            "ts": at(rng.uniform(0, 86_399)),
            "rssi": rng.randint(-100, -40),
        }
        for g in range(3)
        for _ in range(rng.randint(1, 400))
    ]
    connection = _connection(observations=_table(schemas.OBSERVATIONS, rows))
    expected = connection.execute(
        "SELECT gateway_id, quantile_cont(rssi, 0.1), median(rssi), quantile_cont(rssi, 0.9)"
        " FROM observations GROUP BY 1 ORDER BY 1"
    ).fetchall()
    result = marts.gateway_health(connection, DAY, P)
    assert _rows(result, "gateway_id", "rssi_p10", "rssi_median", "rssi_p90") == [
        (g, pytest.approx(a), pytest.approx(b), pytest.approx(c)) for g, a, b, c in expected
    ]


def test_gateway_silence_threshold_below_a_minute_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="silent_gap_s: must be at least 60 s"):
        marts.gateway_health(_connection(), DAY, marts.MartParameters(silent_gap_s=30))


def test_zone_flapping_counts_enters_that_came_straight_back() -> None:
    rows = [
        # A, parked on the ward's edge: in at 100, out at 130 (a brief visit), back at 200 (a return, 70 s after
        # leaving: a flap), out at 5000, back at 5300 (300 s later: a new visit, not a flap).
        ("A", "ward", "enter", 100), ("A", "ward", "exit", 130), ("A", "ward", "enter", 200),
        ("A", "ward", "exit", 5000), ("A", "ward", "enter", 5300),
        # B drives through the ward in 40 s (brief, never back: no flap); its visit before midnight is yesterday's
        ("B", "ward", "enter", 1000), ("B", "ward", "exit", 1040),
        ("B", "ward", "enter", -60), ("B", "ward", "exit", -10),
        # C left the lab 30 s before midnight and came back just after: a flap of today's
        ("C", "lab", "exit", -30), ("C", "lab", "enter", 20),
    ]  # fmt: skip
    result = marts.zone_flapping(_connection(zone_events=_events(rows)), DAY, P)
    columns = ("zone_id", "tag_id", "enters", "tags", "returns", "brief_visits", "flap_share")
    assert _rows(result, *columns) == [
        ("lab", None, 1, 1, 1, 0, 1.0),
        ("lab", "C", 1, 1, 1, 0, 1.0),
        ("ward", None, 4, 2, 1, 2, 0.25),  # A's enter at 200 came back; A at 100 and B at 1000 were brief
        ("ward", "A", 3, 1, 1, 1, pytest.approx(1 / 3)),  # B never came back: no row of its own
    ]
    wider = marts.zone_flapping(
        _connection(zone_events=_events(rows)), DAY, marts.MartParameters(flap_window_s=400)
    )
    assert _rows(wider, "zone_id", "tag_id", "returns")[2] == ("ward", None, 2)  # A's return after 300 s too
