"""Where every dataset lives under the lakehouse URL (hive-style keys, one Parquet file per partition).

    raw/observations/date=YYYY-MM-DD/hour=HH/part-0.parquet
    curated/locations/date=YYYY-MM-DD/hour=HH/part-0.parquet
    curated/zone_events/date=YYYY-MM-DD/hour=HH/part-0.parquet
    curated/alerts/date=YYYY-MM-DD/part-0.parquet
    marts/<name>/date=YYYY-MM-DD/part-0.parquet
    reports/<kind>/<YYYY-MM-DD>/<file>

This module is the only place that spells these keys; everything else asks for a `Dataset` and a `Partition`.
A partition holds exactly one file with a fixed name, so rewriting it replaces it whole (idempotent).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

PART_FILE = "part-0.parquet"

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PARTITION = re.compile(r"date=(\d{4}-\d{2}-\d{2})(?:/hour=(\d{2}))?$")


@dataclass(frozen=True, order=True)
class Partition:
    """One day, or one hour of a day (UTC)."""

    date: dt.date
    hour: int | None = None

    def __post_init__(self) -> None:
        if self.hour is not None and not 0 <= self.hour <= 23:
            raise ValueError(f"hour: expected 0-23, got {self.hour}")

    @classmethod
    def of(cls, moment: dt.datetime, *, hourly: bool) -> Partition:
        moment = moment.astimezone(dt.UTC)
        return cls(moment.date(), moment.hour if hourly else None)

    @classmethod
    def parse(cls, key: str) -> Partition:
        """From a Dagster partition key: '2024-05-01' or '2024-05-01-13:00'."""
        try:
            if len(key) == 10:
                return cls(dt.date.fromisoformat(key))
            moment = dt.datetime.strptime(key, "%Y-%m-%d-%H:%M")
        except ValueError:
            raise ValueError(f"partition key: expected YYYY-MM-DD or YYYY-MM-DD-HH:00, got {key!r}") from None
        return cls(moment.date(), moment.hour)

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.date, dt.time(self.hour or 0), tzinfo=dt.UTC)

    @property
    def end(self) -> dt.datetime:
        return self.start + (dt.timedelta(days=1) if self.hour is None else dt.timedelta(hours=1))

    @property
    def dagster_key(self) -> str:
        """The matching Dagster partition key: '2024-05-01' or '2024-05-01-13:00'."""
        day = self.date.isoformat()
        return day if self.hour is None else f"{day}-{self.hour:02d}:00"

    @property
    def key(self) -> str:
        """Hive-style key of the partition, relative to its dataset."""
        day = f"date={self.date.isoformat()}"
        return day if self.hour is None else f"{day}/hour={self.hour:02d}"


@dataclass(frozen=True)
class Dataset:
    """A table in the lakehouse: a key prefix and whether it is partitioned by hour or by day."""

    prefix: str
    hourly: bool

    def partition_key(self, partition: Partition) -> str:
        if self.hourly != (partition.hour is not None):
            grain = "an hourly" if self.hourly else "a daily"
            raise ValueError(f"partition: {self.prefix} needs {grain} partition, got {partition.key}")
        return f"{self.prefix}/{partition.key}/{PART_FILE}"

    def parse_partition(self, relative_key: str) -> Partition | None:
        """The partition a stored directory key (relative to the dataset) stands for, or None if it is not one."""
        match = _PARTITION.search(relative_key.strip("/"))
        if not match:
            return None
        date, hour = match.groups()
        if (hour is not None) != self.hourly:
            return None
        return Partition(dt.date.fromisoformat(date), None if hour is None else int(hour))


RAW_OBSERVATIONS = Dataset("raw/observations", hourly=True)
LOCATIONS = Dataset("curated/locations", hourly=True)
ZONE_EVENTS = Dataset("curated/zone_events", hourly=True)
ALERTS = Dataset("curated/alerts", hourly=False)


def mart(name: str) -> Dataset:
    """The daily dataset of analytics mart `name`, e.g. mart('zone_dwell')."""
    if not _NAME.match(name):
        raise ValueError(f"mart name: expected lower_snake_case, got {name!r}")
    return Dataset(f"marts/{name}", hourly=False)


def report_key(kind: str, date: dt.date, filename: str) -> str:
    """Key of a report file, e.g. reports/site_daily/2024-05-01/report.html."""
    if not _NAME.match(kind):
        raise ValueError(f"report kind: expected lower_snake_case, got {kind!r}")
    if not filename or "/" in filename or filename.startswith("."):
        raise ValueError(f"report filename: expected a plain file name, got {filename!r}")
    return f"{reports_prefix(kind)}/{date.isoformat()}/{filename}"


def reports_prefix(kind: str | None = None) -> str:
    return "reports" if kind is None else f"reports/{kind}"


def days(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every date from start to end inclusive."""
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
