"""Battery history per site for the battery-life model: daily median level per tag, from the lakehouse.

The `battery_trend` mart already holds one daily median per tag; where it was not built for a day the raw
observations' `battery` column is reduced to the same daily medians. Tags are placed on a site by their asset
(`assets.site_id`), else by where the realtime path last located them (`current_locations.site_id`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl
from sqlalchemy import Engine, select

from core.db.models import Asset, CurrentLocation
from lakehouse import RAW_OBSERVATIONS, Lakehouse, mart, scan

BATTERY_MART = "battery_trend"
_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class SiteBatteryHistory:
    """One site's daily median battery level per tag (`day` = days since the epoch)."""

    tag: np.ndarray
    day: np.ndarray
    level_pct: np.ndarray

    @property
    def tags(self) -> int:
        return len(np.unique(self.tag))


@dataclass(frozen=True, slots=True)
class BatteryHistory:
    sites: dict[str, SiteBatteryHistory]
    rows: int
    days_from_mart: int
    days_from_raw: int
    tags_without_site: int


def _daily_medians(lakehouse: Lakehouse, start: dt.date, end: dt.date) -> tuple[pl.DataFrame, int, int]:
    """(date, tag_id, level) rows for start..end: mart days first, raw observations for the other days."""
    frames: list[pl.DataFrame] = []
    mart_days: set[dt.date] = set()
    raw: pl.LazyFrame | None = None
    marts = scan(lakehouse, mart(BATTERY_MART), start, end)
    if marts is not None:
        from_mart = (
            marts.select("date", "tag_id", pl.col("battery_median").cast(pl.Float64).alias("level"))
            .drop_nulls()
            .collect()
        )
        mart_days = set(from_mart["date"].unique().to_list())
        frames.append(from_mart)
    raw_days = [
        p.date for p in lakehouse.partitions_between(RAW_OBSERVATIONS, start, end) if p.date not in mart_days
    ]
    if raw_days:
        raw = scan(lakehouse, RAW_OBSERVATIONS, min(raw_days), max(raw_days))
    if raw_days and raw is not None:
        from_raw = (
            raw.filter(pl.col("date").is_in(sorted(set(raw_days))) & pl.col("battery").is_not_null())
            .group_by("date", "tag_id")
            .agg(pl.col("battery").cast(pl.Float64).median().alias("level"))
            .collect()
        )
        frames.append(from_raw)
    if not frames:
        return pl.DataFrame(schema={"date": pl.Date, "tag_id": pl.String, "level": pl.Float64}), 0, 0
    return pl.concat(frames, how="vertical_relaxed"), len(mart_days), len(set(raw_days))


def _tag_sites(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        located = conn.execute(select(CurrentLocation.tag_id, CurrentLocation.site_id)).all()
        assigned = conn.execute(select(Asset.tag_id, Asset.site_id).where(Asset.tag_id.is_not(None))).all()
    sites = {str(tag): str(site) for tag, site in located if site is not None}
    sites.update({str(tag): str(site) for tag, site in assigned if site is not None})  # the asset wins
    return sites


def load_battery_history(
    engine: Engine, lakehouse: Lakehouse, end: dt.date, history_days: int
) -> BatteryHistory:
    """Daily medians of the `history_days` days up to `end` (inclusive), grouped by site."""
    if history_days < 1:
        raise ValueError(f"history_days: expected at least 1 day, got {history_days}")
    start = end - dt.timedelta(days=history_days - 1)
    daily, mart_days, raw_days = _daily_medians(lakehouse, start, end)
    tag_sites = _tag_sites(engine)
    tags = daily["tag_id"].to_numpy().astype(str)
    site = np.array([tag_sites.get(t, "") for t in tags], dtype=object)
    day = np.array([(d - _EPOCH).days for d in daily["date"].to_list()], float)
    level = daily["level"].to_numpy().astype(float)
    sites = {
        str(s): SiteBatteryHistory(tags[site == s], day[site == s], level[site == s])
        for s in sorted(set(site.tolist()) - {""})
    }
    return BatteryHistory(sites, len(daily), mart_days, raw_days, len(set(tags[site == ""].tolist())))
