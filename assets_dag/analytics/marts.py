"""The daily analytics marts as DuckDB SQL over views named after the curated datasets.

Each function takes a connection on which the views it reads exist (`locations`, `zone_events`,
`observations`, `alerts`, optionally `assets` and `battery_history`), the day (UTC), and tuning
parameters, and returns the mart as an Arrow table. Keeping them independent of where the views come from
lets the tests run them on small hand-made tables and the assets run them on the lakehouse.

Definitions (what a user should know when reading the numbers):
- utilisation: consecutive fixes of a tag form intervals. An interval longer than `missing_gap_s` is
  *missing*; otherwise it is *moving* if the speed between the fixes is at least `moving_speed_mps`, else
  *idle*. Time before the first and after the last fix of the day is missing. *In use* is moving time plus
  idle time within `in_use_grace_s` after the asset last moved (short stops while working).
- zone dwell / occupancy: a visit runs from an enter to the next exit of the same tag and zone; visits are
  clipped to the day (a visit still open at midnight counts up to midnight).
- zone flapping: an enter is a *return* (a flap) when the tag left the same zone at most `flap_window_s`
  before: it came straight back. A tag parked on a boundary where positions are poor (along a wall with few
  gateways behind it) flaps in and out; a forklift driving through does not come back. A *brief visit* (left
  again within `flap_window_s`) is shown beside it, but a drive-through is one too, so it is not a flap.
- gateway health: a silent period is a gap longer than `silent_gap_s` between consecutive observations,
  including from midnight to the first and from the last to the next midnight.
- battery: the daily median per tag, and a least-squares line through the last `battery_window_days` daily
  medians; days left = last reading / daily drain, when the battery is draining.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import polars as pl
import pyarrow as pa

DAY_S = 86_400


@dataclass(frozen=True)
class MartParameters:
    missing_gap_s: float = 300.0
    moving_speed_mps: float = 0.3
    in_use_grace_s: float = 600.0
    silent_gap_s: float = 300.0
    battery_window_days: int = 30
    flap_window_s: float = 120.0


def _bounds(day: dt.date) -> dict[str, object]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return {"day": day, "day_start": start, "day_end": start + dt.timedelta(days=1)}


def _run(connection: duckdb.DuckDBPyConnection, sql: str, parameters: dict[str, object]) -> pa.Table:
    return connection.execute(sql, parameters).fetch_arrow_table()


def _has_view(connection: duckdb.DuckDBPyConnection, name: str) -> bool:
    found = connection.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = $name AND NOT internal", {"name": name}
    ).fetchone()
    tables = connection.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = $name", {"name": name}
    )
    return bool(found and found[0]) or bool(tables.fetchone()[0])  # type: ignore[index]


def utilisation(connection: duckdb.DuckDBPyConnection, day: dt.date, p: MartParameters) -> pa.Table:
    """Per tag (asset): seconds moving, idle, missing and in use; utilisation = in use / 24 h; distance.

    Written with Polars: after one sort by (tag, ts), every step is a shift or a forward fill over whole
    columns, which is several times faster than the equivalent SQL window functions at millions of fixes."""
    bounds = {k: v for k, v in _bounds(day).items() if k != "day"}
    day_fixes = "FROM locations WHERE ts >= $day_start AND ts < $day_end"
    fixes = pl.from_arrow(
        connection.execute(f"SELECT tag_id, ts, x, y {day_fixes}", bounds).fetch_arrow_table()
    )
    # The asset of a tag is one value per tag: aggregated by DuckDB rather than exported and sorted per fix.
    tag_assets = pl.from_arrow(
        connection.execute(
            f"SELECT tag_id, max(asset_id) AS asset_id {day_fixes} GROUP BY tag_id", bounds
        ).fetch_arrow_table()
    )
    assert isinstance(fixes, pl.DataFrame) and isinstance(tag_assets, pl.DataFrame)
    tag = pl.col("tag_id")
    same_tag_next = tag == tag.shift(-1)
    first_of_tag = (tag != tag.shift(1)).fill_null(True)
    # One integer sort key instead of sorting by (tag string, ts): the tag's category code in the high bits,
    # microseconds since midnight (< 2**37 for rows of the day) in the low bits. About 3x cheaper; rows of a
    # tag stay together in time order, which is all the shifts below need (the result is sorted by tag_id).
    day_start_us = int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp() * 1_000_000)
    order_key = pl.col("tag_id").cast(pl.Categorical).to_physical().cast(pl.Int64) * (1 << 37) + (
        pl.col("ts").dt.epoch("us") - day_start_us
    )
    intervals = (
        fixes.with_columns(order_key=order_key)
        .sort("order_key")
        .with_columns(t=pl.col("ts").dt.epoch("us") / 1e6)
        .with_columns(
            seconds=pl.when(same_tag_next).then(pl.col("t").shift(-1) - pl.col("t")),
            distance_m=pl.when(same_tag_next).then(
                (
                    (pl.col("x").shift(-1) - pl.col("x")) ** 2 + (pl.col("y").shift(-1) - pl.col("y")) ** 2
                ).sqrt()
            ),
            first=first_of_tag,
        )
        .with_columns(
            missing=pl.col("seconds") > p.missing_gap_s,
            moving=(pl.col("seconds") <= p.missing_gap_s)
            & (pl.col("distance_m") >= p.moving_speed_mps * pl.col("seconds"))
            & (pl.col("seconds") > 0),
        )
        # End of the latest moving interval before this one, not leaking across tags: seed each tag with -inf.
        .with_columns(
            move_end=pl.when(pl.col("moving"))
            .then(pl.col("t") + pl.col("seconds"))
            .when(pl.col("first"))
            .then(float("-inf"))
            .forward_fill()
        )
        .with_columns(
            last_move_end=pl.when(pl.col("first")).then(None).otherwise(pl.col("move_end").shift(1))
        )
        .with_columns(
            idle=pl.col("seconds").is_not_null() & ~pl.col("missing") & ~pl.col("moving"),
            idle_in_use=(
                pl.min_horizontal(pl.col("t") + pl.col("seconds"), pl.col("last_move_end") + p.in_use_grace_s)
                - pl.col("t")
            ).clip(lower_bound=0),
        )
    )
    per_tag = (
        intervals.group_by("tag_id")
        .agg(
            fixes=pl.len(),
            moving_s=pl.col("seconds").filter(pl.col("moving")).sum(),
            idle_s=pl.col("seconds").filter(pl.col("idle")).sum(),
            idle_in_use_s=pl.col("idle_in_use")
            .filter(pl.col("idle") & pl.col("last_move_end").is_finite())
            .sum(),
            distance_m=pl.col("distance_m").filter(pl.col("moving")).sum(),
        )
        .with_columns(
            date=pl.lit(day),
            missing_s=DAY_S - pl.col("moving_s") - pl.col("idle_s"),
            in_use_s=pl.col("moving_s") + pl.col("idle_in_use_s"),
        )
        .with_columns(utilisation=pl.col("in_use_s") / DAY_S)
        .join(tag_assets, on="tag_id", how="left")
    )
    if _has_view(connection, "assets"):
        categories = pl.from_arrow(
            connection.execute(
                "SELECT CAST(asset_id AS VARCHAR) AS asset_id, category FROM assets"
            ).fetch_arrow_table()
        )
        assert isinstance(categories, pl.DataFrame)
        per_tag = per_tag.join(categories.unique("asset_id"), on="asset_id", how="left")
    else:
        per_tag = per_tag.with_columns(category=pl.lit(None, pl.String))
    columns = ["date", "tag_id", "asset_id", "category", "fixes", "moving_s", "idle_s", "missing_s", "in_use_s",
               "utilisation", "distance_m"]  # fmt: skip
    return per_tag.select(columns).sort("tag_id").to_arrow()


_VISITS = """
    WITH ordered AS (
        SELECT tag_id, asset_id, zone_id, kind, ts, dwell_s,
               lead(kind) OVER w AS next_kind, lead(ts) OVER w AS next_ts, lag(kind) OVER w AS previous_kind
        FROM zone_events
        WHERE ts >= $day_start - INTERVAL 1 DAY AND ts < $day_end
        WINDOW w AS (PARTITION BY tag_id, zone_id ORDER BY ts)
    ), raw_visits AS (
        SELECT tag_id, asset_id, zone_id, ts AS entered, CASE WHEN next_kind = 'exit' THEN next_ts END AS exited
        FROM ordered WHERE kind = 'enter'
        UNION ALL  -- an exit with no enter before it: the visit began dwell_s earlier (or at midnight)
        SELECT tag_id, asset_id, zone_id, ts - to_seconds(coalesce(dwell_s, {day_s})), ts
        FROM ordered WHERE kind = 'exit' AND (previous_kind IS NULL OR previous_kind = 'exit')
    ), visits AS (
        SELECT tag_id, asset_id, zone_id,
               greatest(entered, $day_start) AS v_start, least(coalesce(exited, $day_end), $day_end) AS v_end,
               exited IS NULL AS still_open
        FROM raw_visits
    )
"""


def zone_dwell(connection: duckdb.DuckDBPyConnection, day: dt.date) -> pa.Table:
    """Per zone and tag, and per zone overall (tag_id NULL): visits, total, median and p90 dwell seconds."""
    sql = (
        _VISITS.format(day_s=DAY_S)
        + """
    , dwell AS (
        SELECT *, epoch(v_end) - epoch(v_start) AS dwell_s FROM visits WHERE v_end > v_start
    )
    SELECT $day AS date, zone_id, tag_id, max(asset_id) AS asset_id, count(*) AS visits,
           sum(dwell_s) AS total_dwell_s, median(dwell_s) AS median_dwell_s,
           quantile_cont(dwell_s, 0.9) AS p90_dwell_s, count(*) FILTER (still_open) AS open_visits
    FROM dwell GROUP BY GROUPING SETS ((zone_id, tag_id), (zone_id))
    ORDER BY zone_id, tag_id NULLS FIRST
    """
    )
    return _run(connection, sql, _bounds(day))


def zone_occupancy(connection: duckdb.DuckDBPyConnection, day: dt.date) -> pa.Table:
    """Per zone and hour of the day: distinct tags present, and average occupancy (tag-hours in the hour)."""
    sql = (
        _VISITS.format(day_s=DAY_S)
        + """
    , hours AS (
        SELECT h AS hour, $day_start + to_hours(h) AS h_start, $day_start + to_hours(h + 1) AS h_end
        FROM range(24) t(h)
    ), overlap AS (
        SELECT v.zone_id, v.tag_id, hours.hour,
               epoch(least(v.v_end, hours.h_end)) - epoch(greatest(v.v_start, hours.h_start)) AS seconds
        FROM visits v JOIN hours ON v.v_start < hours.h_end AND v.v_end > hours.h_start
    )
    SELECT $day AS date, zone_id, hour, count(DISTINCT tag_id) AS tags_present,
           sum(seconds) / 3600.0 AS avg_occupancy
    FROM overlap WHERE seconds > 0 GROUP BY zone_id, hour ORDER BY zone_id, hour
    """
    )
    return _run(connection, sql, _bounds(day))


def zone_flapping(connection: duckdb.DuckDBPyConnection, day: dt.date, p: MartParameters) -> pa.Table:
    """Per zone, and per zone and tag for the tags that flapped: today's enters, the returns among them (back
    within `flap_window_s` of leaving), the brief visits (left again within it) and the flap share (returns per
    enter)."""
    sql = """
    WITH ordered AS (
        SELECT tag_id, asset_id, zone_id, kind, ts,
               lag(kind) OVER w AS previous_kind, lag(ts) OVER w AS previous_ts,
               lead(kind) OVER w AS next_kind, lead(ts) OVER w AS next_ts
        FROM zone_events
        WHERE ts >= $day_start - to_seconds($flap_s) AND ts < $day_end + to_seconds($flap_s)
        WINDOW w AS (PARTITION BY tag_id, zone_id ORDER BY ts)
    ), enters AS (
        SELECT tag_id, asset_id, zone_id,
               coalesce(previous_kind = 'exit' AND epoch(ts) - epoch(previous_ts) <= $flap_s, false) AS came_back,
               coalesce(next_kind = 'exit' AND epoch(next_ts) - epoch(ts) <= $flap_s, false) AS left_again
        FROM ordered WHERE kind = 'enter' AND ts >= $day_start AND ts < $day_end
    ), grouped AS (
        SELECT grouping(tag_id) AS overall, zone_id, tag_id, max(asset_id) AS asset_id, count(*) AS enters,
               count(DISTINCT tag_id) AS tags, count(*) FILTER (came_back) AS returns,
               count(*) FILTER (left_again) AS brief_visits
        FROM enters GROUP BY GROUPING SETS ((zone_id, tag_id), (zone_id))
    )
    SELECT $day AS date, zone_id, tag_id, asset_id, enters, tags, returns, brief_visits,
           returns / enters AS flap_share
    FROM grouped WHERE overall = 1 OR returns > 0
    ORDER BY zone_id, tag_id NULLS FIRST
    """
    return _run(connection, sql, {**_bounds(day), "flap_s": p.flap_window_s})


def gateway_health(connection: duckdb.DuckDBPyConnection, day: dt.date, p: MartParameters) -> pa.Table:
    """Per gateway: observations, tags heard, RSSI distribution, silent periods (count, total, longest).

    Every step aggregates into small tables first, so 10 million observations are never sorted: RSSI
    quantiles come from each gateway's histogram of (integer) RSSI values, with the same linear
    interpolation as `quantile_cont`; silences from each minute's first and last observation, which is
    exact for any threshold of a minute or more (a gap inside one minute cannot exceed it)."""
    if p.silent_gap_s < 60:
        raise ValueError(f"silent_gap_s: must be at least 60 s, got {p.silent_gap_s}")
    # No CTE over the raw rows: DuckDB materialises a CTE that is referenced more than once, which copies
    # every observation. Each aggregate below scans the source once; everything after works on small tables.
    sql = """
    WITH minutes AS (  -- integer minute keys and microsecond bounds: no floating point per observation
        SELECT gateway_id, epoch_us(ts) // 60000000 AS minute, count(*) AS n, min(ts) AS first_ts,
               max(ts) AS last_ts
        FROM observations WHERE ts >= $day_start AND ts < $day_end GROUP BY gateway_id, minute
    ), histogram AS (
        SELECT gateway_id, rssi, count(*) AS n
        FROM observations WHERE ts >= $day_start AND ts < $day_end GROUP BY gateway_id, rssi
    ), ranked AS (
        SELECT gateway_id, rssi, sum(n) OVER (PARTITION BY gateway_id ORDER BY rssi) AS upto,
               sum(n) OVER (PARTITION BY gateway_id) AS total
        FROM histogram
    ), wanted AS (
        SELECT DISTINCT gateway_id, total, q, (total - 1) * q AS position
        FROM ranked, (VALUES (0.1::DOUBLE), (0.5::DOUBLE), (0.9::DOUBLE)) qs(q)
    ), quantiles AS (  -- value at rank floor(position), interpolated towards the value at rank ceil(position)
        SELECT w.gateway_id, w.q,
               min(r.rssi) FILTER (r.upto > floor(w.position))
               + (w.position - floor(w.position))
                 * (min(r.rssi) FILTER (r.upto > ceil(w.position)) - min(r.rssi) FILTER (r.upto > floor(w.position)))
               AS value
        FROM wanted w JOIN ranked r USING (gateway_id) GROUP BY w.gateway_id, w.q, w.position
    ), tags AS (
        SELECT gateway_id, count(DISTINCT tag_id) AS tags_heard
        FROM observations WHERE ts >= $day_start AND ts < $day_end GROUP BY gateway_id
    ), stats AS (
        SELECT m.gateway_id, m.observations, h.rssi_min, h.rssi_max, m.first_seen, m.last_seen
        FROM (SELECT gateway_id, sum(n)::BIGINT AS observations, min(first_ts) AS first_seen, max(last_ts) AS last_seen
              FROM minutes GROUP BY gateway_id) m
        JOIN (SELECT gateway_id, min(rssi) AS rssi_min, max(rssi) AS rssi_max FROM histogram GROUP BY gateway_id) h
        USING (gateway_id)
    ), bounds AS (
        SELECT gateway_id, epoch_us(first_ts) AS first_us, epoch_us(last_ts) AS last_us FROM minutes
        UNION ALL SELECT gateway_id, epoch_us($day_start), epoch_us($day_start) FROM stats  -- from midnight
        UNION ALL SELECT gateway_id, epoch_us($day_end), epoch_us($day_end) FROM stats      -- to the next midnight
    ), gaps AS (
        SELECT gateway_id, (lead(first_us) OVER (PARTITION BY gateway_id ORDER BY first_us) - last_us) / 1e6 AS gap_s
        FROM bounds
    ), silences AS (
        SELECT gateway_id, count(*) AS silent_periods, sum(gap_s) AS silent_s, max(gap_s) AS longest_silence_s
        FROM gaps WHERE gap_s > $silent_gap_s GROUP BY gateway_id
    )
    SELECT $day AS date, s.gateway_id, s.observations, t.tags_heard, s.rssi_min,
           (SELECT value FROM quantiles q WHERE q.gateway_id = s.gateway_id AND q.q = 0.1::DOUBLE) AS rssi_p10,
           (SELECT value FROM quantiles q WHERE q.gateway_id = s.gateway_id AND q.q = 0.5::DOUBLE) AS rssi_median,
           (SELECT value FROM quantiles q WHERE q.gateway_id = s.gateway_id AND q.q = 0.9::DOUBLE) AS rssi_p90,
           s.rssi_max, s.first_seen, s.last_seen,
           coalesce(z.silent_periods, 0) AS silent_periods, coalesce(z.silent_s, 0) AS silent_s,
           coalesce(z.longest_silence_s, 0) AS longest_silence_s
    FROM stats s JOIN tags t USING (gateway_id) LEFT JOIN silences z USING (gateway_id) ORDER BY s.gateway_id
    """
    return _run(connection, sql, _bounds(day) | {"silent_gap_s": p.silent_gap_s})


def battery(connection: duckdb.DuckDBPyConnection, day: dt.date, p: MartParameters) -> pa.Table:
    """Per tag: the day's battery readings and the trend over recent days, with predicted days left.

    Reads `battery_history` (earlier partitions of this mart: date, tag_id, battery_median) when it exists."""
    has_history = _has_view(connection, "battery_history")
    history = (
        """SELECT date, tag_id, battery_median FROM battery_history
           WHERE date >= $day - INTERVAL ($window - 1) DAY AND date < $day"""
        if has_history
        else "SELECT NULL::DATE AS date, NULL::VARCHAR AS tag_id, NULL::DOUBLE AS battery_median WHERE false"
    )
    sql = f"""
    WITH today AS (
        SELECT tag_id, count(*) AS readings, median(battery) AS battery_median, min(battery) AS battery_min,
               arg_max(battery, ts) AS battery_last
        FROM observations WHERE ts >= $day_start AND ts < $day_end AND battery IS NOT NULL GROUP BY tag_id
    ), series AS (
        SELECT tag_id, CAST($day AS DATE) AS date, battery_median FROM today
        UNION ALL SELECT h.tag_id, h.date, h.battery_median FROM ({history}) h SEMI JOIN today USING (tag_id)
    ), trend AS (
        SELECT tag_id, count(*) AS trend_days,
               CASE WHEN count(DISTINCT date) >= 2  -- a line needs two days
                    THEN regr_slope(battery_median, epoch(date) / {DAY_S}) END AS drain_per_day
        FROM series GROUP BY tag_id
    )
    SELECT $day AS date, t.tag_id, t.readings, t.battery_last, t.battery_min, t.battery_median,
           r.trend_days, r.drain_per_day,
           CASE WHEN r.drain_per_day < 0 THEN t.battery_last / -r.drain_per_day END AS predicted_days_left
    FROM today t JOIN trend r USING (tag_id) ORDER BY t.tag_id
    """
    return _run(connection, sql, _bounds(day) | ({"window": p.battery_window_days} if has_history else {}))


def alert_stats(connection: duckdb.DuckDBPyConnection, day: dt.date) -> pa.Table:
    """Per alert kind (and 'all'): alerts opened that day, acknowledged, resolved, open; time to ack/resolve."""
    sql = """
    WITH opened AS (
        SELECT kind, opened_at, acknowledged_at, resolved_at,
               epoch(acknowledged_at) - epoch(opened_at) AS ack_s,
               epoch(resolved_at) - epoch(opened_at) AS resolve_s
        FROM alerts WHERE opened_at >= $day_start AND opened_at < $day_end
    )
    SELECT $day AS date, CASE WHEN grouping(kind) = 1 THEN 'all' ELSE kind END AS kind,
           count(*) AS raised, count(acknowledged_at) AS acknowledged, count(resolved_at) AS resolved,
           count(*) - count(resolved_at) AS unresolved,
           median(ack_s) AS median_ack_s, quantile_cont(ack_s, 0.9) AS p90_ack_s,
           median(resolve_s) AS median_resolve_s, quantile_cont(resolve_s, 0.9) AS p90_resolve_s
    FROM opened GROUP BY GROUPING SETS ((kind), ())
    ORDER BY grouping(kind), kind
    """
    return _run(connection, sql, _bounds(day))


def location_quality(connection: duckdb.DuckDBPyConnection, day: dt.date) -> pa.Table:
    """Per method (and 'all'): fixes, share of fixes, median/p90 accuracy_m, mean confidence and gateways."""
    sql = """
    WITH fixes AS (
        SELECT method, accuracy_m, confidence, gateway_count FROM locations
        WHERE ts >= $day_start AND ts < $day_end
    ), grouped AS (
        SELECT grouping(method) AS overall, method, count(*) AS fixes,
               count(*) / sum(count(*)) FILTER (grouping(method) = 0) OVER () AS share,
               -- both quantiles from one sort of each group's values (median and p90 apart sort twice)
               quantile_cont(accuracy_m, [0.5, 0.9]) AS accuracy,
               avg(confidence) AS mean_confidence, avg(gateway_count) AS mean_gateway_count
        FROM fixes GROUP BY GROUPING SETS ((method), ())
    )
    SELECT $day AS date, CASE WHEN overall = 1 THEN 'all' ELSE method END AS method, fixes, share,
           accuracy[1] AS median_accuracy_m, accuracy[2] AS p90_accuracy_m, mean_confidence, mean_gateway_count
    FROM grouped ORDER BY overall, method
    """
    return _run(connection, sql, _bounds(day))
