"""The stage hook of the realtime loop: code that runs on every batch of fixes before anything is written.

The pipeline computes a `FixBatch` per consumed batch, then calls each stage's `process(batch, ctx)` in order,
inside the batch's database transaction, then writes locations (Postgres, Redis, `ble.locations`) and only
then commits the Kafka offsets. The geofence/alert stage (`realtime/zones_stage.py`) plugs in here.

Rules a stage must follow so the loop stays exactly-once in effect:

* **Database writes** go through `ctx.connection` (a SQLAlchemy `Connection` whose transaction the pipeline
  commits together with the location writes). Make them idempotent (natural keys, `ON CONFLICT DO NOTHING`):
  after a crash the same batch is processed again.
* **Redis writes, publishes and Kafka produces** must not happen before the database commit: register them
  with `ctx.after_commit(fn)`; the pipeline runs them after the transaction commits and before the offsets are
  committed. (If the transaction fails, they are dropped and the whole batch is retried.)
* **Per-tag state** lives in the live store (`ctx.live`, keys from `ctx.keys`, e.g. `keys.zone_state(tag)`),
  read with `ctx.live.get_many` — a rebalance may hand a tag to another process at any batch boundary.
  A stage may cache it in memory if it drops the cache in `reset()`, which the pipeline calls whenever
  partitions are revoked.
* **Transient failures** (database, Redis, Kafka unavailable) should be raised, not swallowed: the pipeline
  rolls back, backs off and retries the batch without committing offsets. Bad data is a stage's own business
  (log and skip); it must never make the loop crash.
* The stage may fill `batch.zone_ids[i]` (list of geofence ids as str): the location writers run after the
  stages and store the zone ids with the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from core.live import LiveKeys
from core.settings import Settings
from realtime.fixes import FixBatch

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from realtime.live_store import LiveStore
    from realtime.stream import StreamProducer


@dataclass(slots=True)
class StageContext:
    """What a stage may use while processing one batch."""

    settings: Settings
    connection: Connection  # open transaction; committed by the pipeline with the location writes
    live: LiveStore  # Redis or the in-process MemoryHub: get_many / set_many / publish
    keys: LiveKeys
    producer: StreamProducer  # produce(topic, key, value); topics via ctx.settings.topic("ble.alerts")
    now_s: float  # wall clock when the batch was processed (epoch seconds)
    _after_commit: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once the batch's database transaction has committed (Redis writes, publishes, produces)."""
        self._after_commit.append(action)


@runtime_checkable
class FixStage(Protocol):
    """A processing step over each batch of fixes (geofences, alert rules, ...)."""

    name: str

    def process(self, batch: FixBatch, ctx: StageContext) -> None:
        """Handle the batch; see the module docstring for what may be done where."""

    def reset(self) -> None:
        """Forget cached per-tag state (partitions were revoked; another process may own those tags now)."""


def no_stages(_settings: Settings) -> list[FixStage]:
    """`assettag consume --stages realtime.stages:no_stages`: locations only, no geofences or alerts."""
    return []
