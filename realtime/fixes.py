"""Location fixes as the realtime path carries them: a columnar `FixBatch` per processed batch, and the
`LocationFix` record of the data contract (DESIGN.md) that goes to Redis, pub/sub and `ble.locations`.

Columns, not objects, because a batch holds tens of thousands of fixes and every consumer of them (writers,
geofence stage) works best on whole columns; `FixBatch.rows()` gives contract records when a loop is simpler.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import msgspec
import numpy as np

UTC = datetime.UTC


class LocationFix(msgspec.Struct, kw_only=True, omit_defaults=False):
    """The location-fix contract: one JSON object per fix (Redis current location, `locations.<site>`, Kafka)."""

    tag_id: str
    asset_id: str | None
    site_id: str | None
    ts: str  # RFC 3339 UTC with milliseconds
    x: float
    y: float
    lat: float | None
    lon: float | None
    floor: int
    accuracy_m: float
    confidence: float
    method: str
    gateway_count: int
    zone_ids: list[str] = msgspec.field(default_factory=list)


def rfc3339(ts_s: float) -> str:
    """Epoch seconds -> '2026-01-01T12:00:00.500Z' (millisecond precision, what the contract promises)."""
    millis = int(round(ts_s * 1000.0))
    moment = datetime.datetime.fromtimestamp(millis // 1000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{millis % 1000:03d}Z"


def to_datetime(ts_s: float) -> datetime.datetime:
    """Epoch seconds -> aware UTC datetime, rounded to the millisecond like the contract (stable natural keys)."""
    millis = int(round(ts_s * 1000.0))
    return datetime.datetime.fromtimestamp(millis // 1000, UTC).replace(microsecond=(millis % 1000) * 1000)


@dataclass(slots=True, eq=False)
class FixBatch:
    """The fixes of one processed batch, row i of every column belonging to fix i.

    `ts` is epoch seconds (event time of the fix, on the `fix_interval_s` grid). `asset_id`/`site_id` hold
    `uuid.UUID` (or None). `zone_ids` starts as empty lists; the geofence stage fills it before anything is
    written, so Postgres, Redis and `ble.locations` all carry the zones of the fix.
    """

    tag_id: np.ndarray  # (N,) object str
    asset_id: np.ndarray  # (N,) object uuid.UUID | None
    site_id: np.ndarray  # (N,) object uuid.UUID | None
    ts: np.ndarray  # (N,) float epoch seconds
    x: np.ndarray
    y: np.ndarray
    lat: np.ndarray  # NaN when the site has no origin
    lon: np.ndarray
    floor: np.ndarray  # (N,) int
    accuracy_m: np.ndarray
    confidence: np.ndarray
    method: np.ndarray  # (N,) object str: proximity|midpoint|centroid|trilateration|fingerprint
    gateway_count: np.ndarray  # (N,) int
    zone_ids: list[list[str]] = field(default_factory=list)
    # (N,) object str | None: "<registered model>/<version>" of the site's champion that made the fix, None when
    # the path-loss chain did (stored in location_history / current_locations for drift monitoring).
    model_version: np.ndarray | None = None
    # Whether the tracker had pinned the tag as parked at the fix. Zone membership uses it to tell a walk from a
    # parked tag's scatter; batches built without a tracker say "not known to be parked" (False).
    stationary: np.ndarray | None = None
    # The tracker's learnt fix noise at the fix (squared innovation per claimed variance, ~1 = as claimed): zone
    # membership does not take a noisy tag's apparent speed for a walk. Without a tracker: 1.
    noise_ratio: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.ts)
        if not self.zone_ids:
            self.zone_ids = [[] for _ in range(n)]
        if self.model_version is None:
            self.model_version = np.full(n, None, dtype=object)
        if self.stationary is None:
            self.stationary = np.zeros(n, bool)
        if self.noise_ratio is None:
            self.noise_ratio = np.ones(n)

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def empty(cls) -> FixBatch:
        obj = np.array([], dtype=object)
        flt = np.array([], dtype=float)
        return cls(
            obj,
            obj,
            obj,
            flt,
            flt,
            flt,
            flt,
            flt,
            np.array([], np.int64),
            flt,
            flt,
            obj,
            np.array([], np.int64),
        )

    def select(self, rows: np.ndarray) -> FixBatch:
        """A new batch with only `rows` (bool mask or indices); zone lists are shared, not copied."""
        index = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows, dtype=np.int64)
        return FixBatch(
            self.tag_id[index],
            self.asset_id[index],
            self.site_id[index],
            self.ts[index],
            self.x[index],
            self.y[index],
            self.lat[index],
            self.lon[index],
            self.floor[index],
            self.accuracy_m[index],
            self.confidence[index],
            self.method[index],
            self.gateway_count[index],
            [self.zone_ids[i] for i in index] or [[] for _ in index],
            self.model_version[index],  # type: ignore[index]
            self.stationary[index],  # type: ignore[index]
            self.noise_ratio[index],  # type: ignore[index]
        )

    def datetimes(self) -> list[datetime.datetime]:
        return [to_datetime(t) for t in self.ts.tolist()]

    def rows(self) -> Iterator[LocationFix]:
        """Contract records, one per fix (rounding and time formatting done on whole columns)."""
        n = len(self)
        # None where there is no geo origin; numpy's stubs do not know where() takes None
        lat = np.where(np.isnan(self.lat), None, np.round(self.lat, 8)).tolist() if n else []  # type: ignore[call-overload]
        lon = np.where(np.isnan(self.lon), None, np.round(self.lon, 8)).tolist() if n else []  # type: ignore[call-overload]
        columns = zip(
            self.tag_id.tolist(),
            _strings(self.asset_id),
            _strings(self.site_id),
            rfc3339_many(self.ts),
            np.round(self.x, 3).tolist(),
            np.round(self.y, 3).tolist(),
            lat,
            lon,
            self.floor.tolist(),
            np.round(self.accuracy_m, 3).tolist(),
            np.round(self.confidence, 4).tolist(),
            self.method.tolist(),
            self.gateway_count.tolist(),
            self.zone_ids,
            strict=True,
        )
        for tag, asset, site, ts, x, y, la, lo, floor, acc, conf, method, count, zones in columns:
            yield LocationFix(
                tag_id=tag,
                asset_id=asset,
                site_id=site,
                ts=ts,
                x=x,
                y=y,
                lat=la,
                lon=lo,
                floor=floor,
                accuracy_m=acc,
                confidence=conf,
                method=method,
                gateway_count=count,
                zone_ids=zones,
            )


def rfc3339_many(ts_s: np.ndarray) -> list[str]:
    """`rfc3339` of a whole column at once."""
    if len(ts_s) == 0:
        return []
    millis = np.rint(np.asarray(ts_s, float) * 1000.0).astype(np.int64).astype("datetime64[ms]")
    return [f"{text}Z" for text in np.datetime_as_string(millis, unit="ms").tolist()]


_uuid_text: dict[uuid.UUID, str] = {}


def _strings(ids: np.ndarray) -> list[str | None]:
    """UUIDs as text; the same few hundred thousand ids recur batch after batch, so their text is cached."""
    cache = _uuid_text
    if len(cache) > 1_000_000:
        cache.clear()
    out: list[str | None] = []
    for value in ids.tolist():
        if value is None:
            out.append(None)
            continue
        text = cache.get(value)
        if text is None:
            text = cache[value] = str(value)
        out.append(text)
    return out


def parse_uuid(value: object) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(str(value))
