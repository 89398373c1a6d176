"""How many observations per second a gateway delivers, from the raw observations the lakehouse lands.

The realtime consumer keeps only each gateway's last_seen (PostgreSQL), not per-gateway counts; every
observation is landed in hourly Parquet partitions (`raw/observations/date=…/hour=…`), so the rate is the
gateway's count in the newest landed hour divided by the time that hour covers (up to now, for an hour still
being landed). Counts for all gateways of a partition are computed at once and kept for `CACHE_S`: a
status page polling many gateways reads the partition's `gateway_id` column once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.layout import RAW_OBSERVATIONS, Partition
from lakehouse.store import Lakehouse

logger = logging.getLogger(__name__)

CACHE_S = 60.0
LOOKBACK_DAYS = 1
"""How far back the newest landed hour is looked for: older than this, the rate is unknown (None)."""


@dataclass(frozen=True, slots=True)
class ObservationRate:
    per_s: float
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True, slots=True)
class _Counts:
    partition: Partition | None  # None: nothing landed, or the lakehouse could not be read
    by_gateway: dict[str, int]
    read_at: float


class ObservationRates:
    """Per-gateway observation rates over the newest landed hour of raw observations."""

    def __init__(self, lakehouse: Lakehouse, cache_s: float = CACHE_S) -> None:
        self.lakehouse = lakehouse
        self.cache_s = cache_s
        self._counts: _Counts | None = None  # None: not read yet
        self._lock = asyncio.Lock()

    async def rate(self, gateway_id: str, now: dt.datetime | None = None) -> ObservationRate | None:
        """None when no hour was landed in the last `LOOKBACK_DAYS` (the batch path is not running)."""
        now = now or dt.datetime.now(dt.UTC)
        async with self._lock:  # one reader at a time; the others use what it read
            counts = self._counts
            if counts is None or time.monotonic() - counts.read_at >= self.cache_s:
                counts = self._counts = await asyncio.to_thread(self._read_newest, now)
        partition = counts.partition
        if partition is None:
            return None
        end = min(partition.end, max(now, partition.start))
        seconds = (end - partition.start).total_seconds()
        if seconds <= 0:
            return None
        return ObservationRate(counts.by_gateway.get(gateway_id, 0) / seconds, partition.start, end)

    def _read_newest(self, now: dt.datetime) -> _Counts:
        try:
            partitions = self.lakehouse.partitions_between(
                RAW_OBSERVATIONS, (now - dt.timedelta(days=LOOKBACK_DAYS)).date(), now.date()
            )
            landed = [p for p in partitions if p.start <= now]
            if not landed:
                return _Counts(None, {}, time.monotonic())
            newest = landed[-1]
            table = self.lakehouse.read_partition(RAW_OBSERVATIONS, newest, columns=["gateway_id"])
        except (OSError, pa.ArrowException) as error:
            # The status still answers (last seen comes from PostgreSQL); the rate is unknown for a while.
            logger.warning("observation rates: cannot read the lakehouse: %s", error)
            return _Counts(None, {}, time.monotonic())
        counted = pc.value_counts(table["gateway_id"]).to_pylist() if table.num_rows else []
        return _Counts(newest, {row["values"]: row["counts"] for row in counted}, time.monotonic())
