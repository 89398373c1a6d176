"""Keep `location_history` time-partitioned and within its retention period.

On PostgreSQL the table is either a TimescaleDB hypertable (when the extension can be enabled) or a native
`PARTITION BY RANGE (ts)` table with one partition per UTC day (`location_history_pYYYYMMDD`) plus a default
partition that catches rows outside every daily range, so an insert never fails for lack of a partition.
On SQLite it is a plain table. Whatever the storage, `maintain_history` makes the coming days' partitions and
removes history older than the retention period (`ASSET_TAG_HISTORY_RETENTION_DAYS`): by dropping whole
partitions or chunks on PostgreSQL, which is instant and leaves no bloat, and with a DELETE on SQLite.
Run it daily (the orchestration schedules it; `assettag db maintain` runs it by hand).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Literal

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Connection, Engine, bindparam, text

TABLE = "location_history"
DEFAULT_PARTITION = f"{TABLE}_default"
DAYS_AHEAD = 7
_PARTITION_NAME = re.compile(rf"^{TABLE}_p(\d{{8}})$")
# Serialises partition changes between concurrent maintainers (e.g. two consumers starting at once).
_ADVISORY_LOCK_KEY = 0x4C4F4348  # "LOCH"

HistoryStorage = Literal["timescaledb", "partitioned", "plain"]


@dataclass
class HistoryMaintenance:
    """What `maintain_history` did."""

    storage: HistoryStorage
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    rows_deleted: int = 0


def _utc_today(now: datetime.datetime | None) -> datetime.date:
    return (now or datetime.datetime.now(datetime.UTC)).astimezone(datetime.UTC).date()


def _midnight(day: datetime.date) -> str:
    return datetime.datetime.combine(day, datetime.time(), datetime.UTC).isoformat()


def partition_name(day: datetime.date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def partition_day(name: str) -> datetime.date | None:
    """The UTC day a daily partition covers, or None for any other table (e.g. the default partition)."""
    match = _PARTITION_NAME.match(name)
    return datetime.datetime.strptime(match.group(1), "%Y%m%d").date() if match else None


def is_partition(name: str) -> bool:
    """True for the tables this module manages (daily and default partitions of location_history)."""
    return name == DEFAULT_PARTITION or partition_day(name) is not None


# --- set-up (used by the migration) -----------------------------------------------------------------------------
def enable_timescaledb(connection: Connection) -> bool:
    """Enable TimescaleDB if the server has it; False if absent or unusable (e.g. not in shared_preload_libraries).

    Tried inside a savepoint so a refusal does not abort the migration's transaction.
    """
    if connection.dialect.name != "postgresql":
        return False
    installed = connection.scalar(text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'"))
    if installed:
        return True
    available = connection.scalar(text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"))
    if not available:
        return False
    savepoint = connection.begin_nested()
    try:
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS timescaledb"))
    except Exception:  # noqa: BLE001 - any refusal means: fall back to native partitioning
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def make_hypertable(connection: Connection, chunk_interval: str = "1 day") -> None:
    """Daily chunks. No default ts index: the migration's indexes (and the (tag_id, ts) key) serve the queries,
    and an extra index would show up as schema drift."""
    connection.execute(
        text(
            f"SELECT create_hypertable('{TABLE}', 'ts', chunk_time_interval => INTERVAL '{chunk_interval}', "
            "create_default_indexes => FALSE, if_not_exists => TRUE)"
        )
    )


def create_default_partition(connection: Connection) -> None:
    connection.execute(text(f"CREATE TABLE IF NOT EXISTS {DEFAULT_PARTITION} PARTITION OF {TABLE} DEFAULT"))


# --- inspection ---------------------------------------------------------------------------------------------------
def history_storage(connection: Connection) -> HistoryStorage:
    """How location_history is stored on this database."""
    if connection.dialect.name != "postgresql":
        return "plain"
    relkind = connection.scalar(
        text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"), {"t": TABLE}
    )
    if relkind == "p":
        return "partitioned"
    has_timescale = connection.scalar(text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'"))
    if has_timescale and connection.scalar(
        text("SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = :t"), {"t": TABLE}
    ):
        return "timescaledb"
    return "plain"


def list_partitions(connection: Connection) -> list[str]:
    """Names of location_history's partitions (daily ones and the default), sorted."""
    rows = connection.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:t) ORDER BY c.relname"
        ),
        {"t": TABLE},
    )
    return [row[0] for row in rows]


# --- maintenance --------------------------------------------------------------------------------------------------
def ensure_partitions(
    connection: Connection,
    *,
    days_ahead: int = DAYS_AHEAD,
    start: datetime.date | None = None,
    now: datetime.datetime | None = None,
) -> list[str]:
    """Create the daily partitions from `start` (default: today, UTC) to today + `days_ahead`; return the new ones.

    Rows that already landed in the default partition for a day being created are moved into the new partition
    (PostgreSQL refuses to create a partition whose range the default partition already holds rows for).
    Only for natively partitioned tables; a no-op otherwise.
    """
    if history_storage(connection) != "partitioned":
        return []
    connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})
    today = _utc_today(now)
    first = start or today
    existing = set(list_partitions(connection))
    created = []
    for offset in range((today + datetime.timedelta(days=days_ahead) - first).days + 1):
        day = first + datetime.timedelta(days=offset)
        name = partition_name(day)
        if name not in existing:
            _create_partition(connection, day)
            created.append(name)
    return created


def _create_partition(connection: Connection, day: datetime.date) -> None:
    name = partition_name(day)
    low, high = _midnight(day), _midnight(day + datetime.timedelta(days=1))
    bounds = f"FOR VALUES FROM ('{low}') TO ('{high}')"
    in_range = "ts >= CAST(:low AS timestamptz) AND ts < CAST(:high AS timestamptz)"
    stranded = connection.scalar(
        text(f"SELECT EXISTS (SELECT 1 FROM {DEFAULT_PARTITION} WHERE {in_range})"),
        {"low": low, "high": high},
    )
    if not stranded:
        connection.execute(text(f"CREATE TABLE {name} PARTITION OF {TABLE} {bounds}"))
        return
    connection.execute(text(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    params = {"low": low, "high": high}
    connection.execute(text(f"INSERT INTO {name} SELECT * FROM {DEFAULT_PARTITION} WHERE {in_range}"), params)
    connection.execute(text(f"DELETE FROM {DEFAULT_PARTITION} WHERE {in_range}"), params)
    connection.execute(text(f"ALTER TABLE {TABLE} ATTACH PARTITION {name} {bounds}"))


def drop_expired(
    connection: Connection, retention_days: int, *, now: datetime.datetime | None = None
) -> tuple[list[str], int]:
    """Remove history older than `retention_days`: (dropped partitions or chunks, rows deleted).

    A daily partition is dropped once all of its day is older than the cutoff; rows older than the cutoff in the
    default partition (or in the plain SQLite table) are deleted.
    """
    if retention_days <= 0:
        raise ValueError(f"retention_days: must be positive, got {retention_days}")
    cutoff = (now or datetime.datetime.now(datetime.UTC)).astimezone(datetime.UTC) - datetime.timedelta(
        days=retention_days
    )
    storage = history_storage(connection)
    if storage == "timescaledb":
        rows = connection.execute(
            text(f"SELECT drop_chunks('{TABLE}', older_than => CAST(:cutoff AS timestamptz))"),
            {"cutoff": cutoff},
        )
        return [str(row[0]) for row in rows], 0
    if storage == "plain":
        # Bound with the column's type: SQLite stores DateTimeUTC as naive UTC text, compared as such.
        delete = text(f"DELETE FROM {TABLE} WHERE ts < :cutoff").bindparams(
            bindparam("cutoff", type_=DateTimeUTC())
        )
        deleted = connection.execute(delete, {"cutoff": cutoff})
        return [], deleted.rowcount or 0
    connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})
    dropped = []
    for name in list_partitions(connection):
        day = partition_day(name)
        if (
            day is not None
            and datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(), datetime.UTC)
            <= cutoff
        ):
            connection.execute(text(f"DROP TABLE {name}"))
            dropped.append(name)
    deleted = connection.execute(
        text(f"DELETE FROM {DEFAULT_PARTITION} WHERE ts < :cutoff"), {"cutoff": cutoff}
    )
    return dropped, deleted.rowcount or 0


def maintain_history(
    engine: Engine, retention_days: int, *, days_ahead: int = DAYS_AHEAD, now: datetime.datetime | None = None
) -> HistoryMaintenance:
    """Create upcoming partitions and drop expired history, in one transaction."""
    with engine.begin() as connection:
        result = HistoryMaintenance(storage=history_storage(connection))
        result.created = ensure_partitions(connection, days_ahead=days_ahead, now=now)
        result.dropped, result.rows_deleted = drop_expired(connection, retention_days, now=now)
    return result
