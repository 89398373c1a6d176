"""The realtime loop: observations in, fixes out — at-least-once from the stream, exactly-once in effect.

One iteration (`run_once`):
  1. consume up to `max_batch` messages; decode and validate them (bad ones become DLQ records);
  2. load per-tag state not yet in memory from the live store; compute the batch's fixes (`realtime.locator`);
  3. in one database transaction: the `FixStage`s (geofences, alerts), location history (significant fixes),
     current locations, gateways' and assets' last_seen; commit;
  4. live store: current location JSON + per-tag state, unknown-tag counters, one pub/sub message per site;
     Kafka: every fix to `ble.locations`, DLQ records; flush;
  5. only then commit offsets (with the offset the event-time windows must be re-read from as metadata).
Steps 3–4 run on a writer thread while the loop decodes and locates the next batch (`overlap_writes`); the
loop waits for them and commits (5) before handing over the next batch, so at most one batch is in flight and
the consumer is only ever used from the loop's thread.
Steps 3–5 are retried with backoff on transient failures (database, Redis, Kafka down) without committing;
a crash anywhere replays the batch, and every write is idempotent, so the replay changes nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import msgspec
import numpy as np
import psycopg.errors
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from core.db.engine import make_engine
from core.db.models import Asset, Site
from core.live import LiveKeys
from core.settings import Settings
from realtime import gc_tuning, metrics
from realtime.carry import Carry
from realtime.catalog import Catalog, catalog_fingerprint, load_catalog
from realtime.fixes import FixBatch, rfc3339
from realtime.ids import PerCode
from realtime.live_store import LiveStore, LiveStoreError, open_live_store, unknown_tags_key
from realtime.locator import Columns, Located, ModelLookup, TagStates, locate
from realtime.observations import DeadLetter, IdTables, decode_batch
from realtime.stages import FixStage, StageContext
from realtime.stream import (
    LOCATIONS,
    OBSERVATIONS,
    OBSERVATIONS_DLQ,
    StreamConsumer,
    StreamError,
    StreamProducer,
    TopicPartition,
    ensure_topics,
    open_consumer,
    open_producer,
)
from realtime.writers import touch_assets, touch_gateways, write_fixes

log = logging.getLogger("realtime.pipeline")

TRANSIENT = (OperationalError, DBAPIError, LiveStoreError, StreamError, OSError)
_encode = msgspec.json.Encoder().encode
LAG_EVERY_S = 2.0
# After a batch this big, hand the freed heap back to the OS (glibc keeps it otherwise: the carried window is
# rebuilt every batch, and the heap's high-water mark would become the process's resident size).
TRIM_AFTER_MESSAGES = 5000


def _load_libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


_LIBC = _load_libc()
# glibc only (musl, macOS: None, and nothing to tune)
_malloc_trim: Callable[[int], int] | None = getattr(_LIBC, "malloc_trim", None)
_mallopt: Callable[[int, int], int] | None = getattr(_LIBC, "mallopt", None)
M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
MMAP_THRESHOLD_BYTES = 256 * 1024


def _map_large_arrays() -> None:
    """Serve every allocation over 256 KiB (the batch's numpy columns) from its own mapping, returned to the OS
    when freed. glibc otherwise raises this threshold up to 32 MB as big blocks are freed, and the batch's
    arrays then fragment its heap: measured on a 100k-tag backlog, peak RSS 540 -> 483 MB."""
    if _mallopt is not None:
        _mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


class _Abandoned(Exception):
    """The batch in flight lost its partitions (rebalance) or the loop is stopping mid-retry: do not commit."""


@dataclass(slots=True)
class BatchReport:
    messages: int = 0
    observations: int = 0
    dlq: int = 0
    unknown_tags: int = 0
    fixes: int = 0
    history_rows: int = 0
    seconds: float = 0.0


@dataclass(slots=True)
class PipelineOptions:
    max_batch: int = 20000
    # consume() returns after this long unless max_batch messages came first: below the backlog rate it is the
    # time a batch collects for, i.e. latency. At 20k obs/s offered (100k tags): 0.2 s gave p50/p99 501/1417 ms
    # produce -> Redis on a loaded 2-core machine, 0.05 s 311/752 ms; catching up on a backlog, batches fill
    # to max_batch before it expires either way (throughput unchanged).
    poll_timeout_s: float = 0.05
    current_write_s: float = 5.0  # current_locations rewritten at least this often per moving/idle tag
    asset_touch_s: float = 30.0  # assets.last_seen granularity
    gateway_touch_s: float = 5.0
    catalog_refresh_s: float = 30.0
    catalog_retry_s: float = 5.0  # earliest reload after an unknown gateway
    max_backoff_s: float = 5.0
    overlap_writes: bool = True  # write batch N while batch N+1 is decoded and located


@dataclass(slots=True)
class _Decoded:
    columns: Columns
    dlq: list[bytes] = field(default_factory=list)
    unknown: dict[str, int] = field(default_factory=dict)
    # Per gateway heard in the batch: its catalog row and newest ts.
    gateway_row: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    gateway_ts: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # Per known tag heard in the batch: its state code, newest ts and newest battery reading (NaN: none).
    asset_code: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    asset_ts: np.ndarray = field(default_factory=lambda: np.zeros(0))
    asset_battery: np.ndarray = field(default_factory=lambda: np.zeros(0))
    next_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    newest_produce_ms: int = 0


@dataclass(slots=True, eq=False)
class _InFlight:
    """A located batch on its way to the stores; offsets are committed only after `thread` wrote it."""

    report: BatchReport
    decoded: _Decoded
    located: Located
    gateway_rows: list
    asset_rows: list
    offsets: dict[TopicPartition, tuple[int, str]]
    started: float
    thread: threading.Thread | None = None
    abandon: threading.Event = field(default_factory=threading.Event)
    history_rows: int = 0
    error: BaseException | None = None


class RealtimePipeline:
    """The consumer loop. `stages` run on every batch's fixes (see `realtime.stages`)."""

    def __init__(
        self,
        settings: Settings,
        stages: Sequence[FixStage] = (),
        *,
        engine: Engine | None = None,
        live: LiveStore | None = None,
        consumer: StreamConsumer | None = None,
        producer: StreamProducer | None = None,
        options: PipelineOptions | None = None,
        clock: Callable[[], float] = time.time,
        models: ModelLookup | None = None,
    ) -> None:
        """`models`: site id → the site's served `LocationModel` or None, asked once per site per batch
        (`ModelRegistryWatcher.current`); without it every site uses the path-loss chain."""
        self.settings = settings
        self.models = models
        _map_large_arrays()
        self.stages = list(stages)
        self.options = options or PipelineOptions()
        self.engine = engine or make_engine(settings.database_url)
        self.live = live or open_live_store(settings)
        self.keys = LiveKeys(settings.redis_prefix)
        self._consumer = consumer
        self._producer = producer
        self.clock = clock
        self.topic = settings.topic(OBSERVATIONS)
        self.states = TagStates()
        self.carry = Carry()
        self.catalog = Catalog.empty()
        self._catalog_loaded = -1e18
        # Periodic reloads run beside the loop (100k assets take a noticeable fraction of a second to read);
        # a reload is forced when a write found an asset or site deleted under it.
        self._catalog_loading: threading.Thread | None = None
        self._catalog_fresh: tuple[float, Catalog] | None = None  # (when its read began, the catalog)
        self._catalog_read_at = -1e18  # when the read of the catalog in use began
        self._catalog_stale = False
        self._asset_of: list[uuid.UUID | None] = []
        self._gateway_id_list: list[str] = []
        self._gateway_ids_of: Catalog | None = None
        self._lag_measured = -1e18
        self._inflight: _InFlight | None = None
        self._loop_thread = threading.current_thread()
        self._resume_at: dict[TopicPartition, int] = {}  # below this offset a partition is only warming up
        self._assigned: set[TopicPartition] = set()
        self._abandon = False
        self._stop = threading.Event()
        self._gateway_touched = np.zeros(0)  # by catalog gateway row: the last_seen written (epoch s)
        # The ids read, with codes (realtime.ids), and per code: a gateway's catalog row, a tag's state code
        # (-1: not in the catalog)
        self._ids = IdTables.create()
        self._gateway_row_of = PerCode(self._ids.gateways)
        self._state_of_tag = PerCode(self._ids.tags)
        self._started = False
        self.last_batch_at = time.monotonic()
        self.retrying_since: float | None = None
        self.totals = BatchReport()

    # --- lifecycle ----------------------------------------------------------------------------
    @property
    def consumer(self) -> StreamConsumer:
        if self._consumer is None:
            self._consumer = open_consumer(self.settings)
        return self._consumer

    @property
    def producer(self) -> StreamProducer:
        if self._producer is None:
            self._producer = open_producer(self.settings)
        return self._producer

    def start(self) -> None:
        if self._started:
            return
        ensure_topics(self.settings)
        self._refresh_catalog()
        self.consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        gc_tuning.acquire()
        self._started = True

    def run(self, stop: threading.Event | None = None) -> BatchReport:
        """Process until `stop` is set; the batch in progress is finished, written and committed first."""
        self._stop = stop or threading.Event()
        self.start()
        try:
            while not self._stop.is_set():
                self.run_once()
        finally:
            self.close()
        return self.totals

    def run_once(self) -> BatchReport:
        """Consume and process one batch; its writes and offset commit complete before the next batch's are
        started (in the background while that batch is decoded and located when `overlap_writes`), and before
        an empty poll returns. The report counts the batch handed to the writer (empty when nothing arrived)."""
        self._loop_thread = threading.current_thread()
        self.start()
        self._follow_catalog()
        messages = self.consumer.consume(self.options.max_batch, self.options.poll_timeout_s)
        self.last_batch_at = time.monotonic()
        if not messages:
            self.flush()
            return BatchReport()
        started = time.perf_counter()
        self._abandon = False
        try:
            flight = self._prepare(messages, started)  # empties `messages` once they are decoded
            self.flush()  # the previous batch: written and committed before this one may be
        except _Abandoned:
            log.warning("batch abandoned (partitions revoked or stopping); it will be replayed")
            return BatchReport()
        self._launch(flight)
        if not self.options.overlap_writes:
            self.flush()
        return flight.report

    def flush(self) -> None:
        """Wait for the batch being written, then commit its offsets (re-raises what the writer could not
        handle; an abandoned write is logged and left to the replay)."""
        flight = self._inflight
        if flight is None:
            return
        self._loop_thread = threading.current_thread()
        while flight.thread is not None and flight.thread.is_alive():
            flight.thread.join(0.5)
            if self._inflight is not flight:  # settled by a rebalance callback meanwhile
                return
            if self.retrying_since is not None and flight.thread.is_alive():
                self.consumer.keepalive()  # only this thread touches the consumer
                if self._inflight is not flight:
                    return
        self._settle(flight)

    def _settle(self, flight: _InFlight) -> None:
        self._inflight = None
        if flight.thread is not None:
            self.consumer.resume()  # undo a keepalive pause once the writer is through
        if isinstance(flight.error, _Abandoned):
            log.warning("batch abandoned while writing (partitions revoked or stopping); it will be replayed")
            self._gateway_touched[:] = -np.inf
            self.states.touched[:] = -np.inf
            return
        if flight.error is not None:
            raise flight.error
        self._commit(flight.offsets)
        report = flight.report
        report.history_rows = flight.history_rows
        report.seconds = time.perf_counter() - flight.started
        metrics.BATCH_SECONDS.observe(report.seconds)
        metrics.HISTORY_ROWS.inc(flight.history_rows)
        if flight.decoded.newest_produce_ms:
            metrics.END_TO_END_SECONDS.observe(
                max(self.clock() - flight.decoded.newest_produce_ms / 1000.0, 0.0)
            )
        for name in ("messages", "observations", "dlq", "unknown_tags", "fixes", "history_rows"):
            setattr(self.totals, name, getattr(self.totals, name) + getattr(report, name))
        if _malloc_trim is not None and report.messages >= TRIM_AFTER_MESSAGES:
            _malloc_trim(0)
        log.debug("batch %s", report)

    def _launch(self, flight: _InFlight) -> None:
        def write() -> None:
            try:
                flight.history_rows = self._retry(
                    "write",
                    lambda: self._write(
                        flight.decoded, flight.located, flight.gateway_rows, flight.asset_rows
                    ),
                    abandon=flight.abandon,
                )
            except BaseException as exc:  # noqa: BLE001 - handed to the loop's thread by flush()
                flight.error = exc

        self._inflight = flight
        if self.options.overlap_writes:
            flight.thread = threading.Thread(target=write, name="realtime-writer", daemon=True)
            flight.thread.start()
        else:
            write()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._close_clients()

    def _close_clients(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close()
            except Exception:  # noqa: BLE001 - closing is best effort at shutdown
                log.exception("closing the consumer failed")
            self._consumer = None
        if self._producer is not None:
            self._producer.close()
            self._producer = None
        if self._started:
            gc_tuning.release()
        self._started = False

    def health(self) -> dict[str, object]:
        stalled = self.retrying_since is not None and time.monotonic() - self.retrying_since > 60
        idle = time.monotonic() - self.last_batch_at
        return {
            "status": "degraded" if stalled or idle > 120 else "ok",
            "assigned_partitions": len(self._assigned),
            "retrying_for_s": None if self.retrying_since is None else time.monotonic() - self.retrying_since,
            "tags_tracked": len(self.states.tags),
            "processed_messages": self.totals.messages,
        }

    # --- rebalancing ----------------------------------------------------------------------------
    def _on_assign(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        committed = self.consumer.committed(partitions)
        start: dict[TopicPartition, int] = {}
        for tp in partitions:
            offset, meta = committed.get(tp, (-1, ""))
            self._assigned.add(tp)
            self._resume_at[tp] = max(offset, 0)
            replay_from = _replay_from(meta)
            if offset >= 0 and replay_from is not None and replay_from < offset:
                start[tp] = replay_from  # re-read the window's worth of observations before the commit
        log.info("assigned %s (warm-up from %s)", sorted(partitions), start)
        return start

    def _on_revoke(self, partitions: list[TopicPartition]) -> None:
        flight = self._inflight
        if (
            flight is not None
        ):  # finish the write in flight (or give it up if it is failing), commit if written
            flight.abandon.set()
            if flight.thread is not None:
                flight.thread.join()
            self._settle(flight)
        gone = {p for t, p in partitions if t == self.topic}
        self._assigned.difference_update(partitions)
        for tp in partitions:
            self._resume_at.pop(tp, None)
        self.carry.forget_partitions(sorted(gone))
        self.states.forget_partitions(gone)
        for stage in self.stages:
            stage.reset()
        self._abandon = True
        log.info("revoked %s", sorted(partitions))

    # --- one batch ------------------------------------------------------------------------------
    def _follow_catalog(self) -> None:
        """Pick up assets, tags, gateways and sites changed through the API: every `catalog_refresh_s` a check
        of the catalog's fingerprint and, if it changed, a reload in a background thread, swapped in between
        batches; at once after a write met a deletion."""
        if self._catalog_stale:
            self._catalog_stale = False
            self._refresh_catalog()
            return
        if self._catalog_fresh is not None:
            (read_at, fresh), self._catalog_fresh = self._catalog_fresh, None
            if read_at > self._catalog_read_at:  # not older than a reload done meanwhile (unknown gateway)
                self._use_catalog(fresh, read_at)
        loading = self._catalog_loading
        if (loading is None or not loading.is_alive()) and (
            time.monotonic() - self._catalog_loaded >= self.options.catalog_refresh_s
        ):
            self._catalog_loaded = time.monotonic()  # one reload per period, even if this one fails

            current = self.catalog.fingerprint

            def load() -> None:
                read_at = time.monotonic()
                try:
                    if current is not None:
                        with self.engine.connect() as conn:
                            if catalog_fingerprint(conn) == current:
                                return  # nothing the loop uses changed
                    self._catalog_fresh = (read_at, load_catalog(self.engine, self.settings))
                except Exception as exc:  # noqa: BLE001 - the current catalog stays; the next period retries
                    log.warning(
                        "catalog reload failed, keeping the current one: %s", str(exc).splitlines()[0]
                    )

            self._catalog_loading = threading.Thread(target=load, name="catalog-reload", daemon=True)
            self._catalog_loading.start()

    def _refresh_catalog(self, min_age_s: float = 0.0) -> bool:
        """Reload the catalog now, unless the one in use is younger than `min_age_s`."""
        if time.monotonic() - self._catalog_loaded < min_age_s:
            return False
        read_at = time.monotonic()
        self._use_catalog(self._retry("database", lambda: load_catalog(self.engine, self.settings)), read_at)
        return True

    def _use_catalog(self, catalog: Catalog, read_at: float) -> None:
        self.catalog = catalog
        self._catalog_read_at = read_at
        self._catalog_loaded = time.monotonic()
        self._gateway_touched = np.full(len(catalog.gateway_index), -np.inf)  # rows may be renumbered
        self._gateway_row_of.forget()  # ids are looked up again in this catalog as they come
        self._state_of_tag.forget()
        self._asset_of = [None] * len(self._asset_of)
        self.states.reserve(len(catalog.assets))
        for tag, code in self.states.codes.items():
            known = self.catalog.assets.get(tag)
            self._asset_of[code] = known[0] if known else None

    def _decode(self, messages: list) -> _Decoded:
        """Messages -> columns for `locate`, DLQ records, unknown-tag counts and last-seen times, column-wise:
        per message only the C accessors run in Python; everything after works on arrays or on unique values."""
        now = self.clock()
        out = _Decoded(Columns.empty())
        n = len(messages)
        kind = type(messages[0])  # one message class per backend: its accessors mapped at C speed
        partitions = np.fromiter(map(kind.partition, messages), np.int64, n)
        offsets = np.fromiter(map(kind.offset, messages), np.int64, n)
        assigned = [p for t, p in self._assigned if t == self.topic]
        if not np.isin(partitions, assigned).all():  # left over from a revoked partition: not ours any more
            mine = np.isin(partitions, assigned)
            messages = [m for m, keep in zip(messages, mine.tolist(), strict=True) if keep]
            partitions, offsets = partitions[mine], offsets[mine]
        if not messages:
            return out
        resume = np.zeros(len(messages), np.int64)
        for p in np.unique(partitions).tolist():
            here = partitions == p
            out.next_offsets[(self.topic, p)] = int(offsets[here].max()) + 1
            resume[here] = self._resume_at.get((self.topic, p), 0)
        warm = offsets < resume  # re-read only to refill windows: no DLQ, no counting
        # Produce time of each partition's last message (read in order: its newest), for the end-to-end metric.
        _, from_end = np.unique(partitions[::-1], return_index=True)
        out.newest_produce_ms = max(messages[len(messages) - 1 - i].timestamp()[1] for i in from_end.tolist())
        values = list(map(kind.value, messages))
        batch = decode_batch(
            values, now, self.settings.max_clock_skew_s, self.settings.max_observation_age_s, self._ids
        )
        for i, rejected in batch.rejected:
            if not warm[i]:
                out.dlq.append(
                    self._dead_letter(
                        rejected.reason,
                        rejected.raw,
                        self.topic,
                        int(partitions[i]),
                        int(offsets[i]),
                        rejected.index,
                    )
                )
        if not len(batch):
            return out
        gw = self._gateway_row_of.get(batch.gateway, self._catalog_rows)
        if (gw < 0).any() and self._refresh_catalog(min_age_s=self.options.catalog_retry_s):
            gw = self._gateway_row_of.get(batch.gateway, self._catalog_rows)
        row_warm = warm[batch.message]
        for r in np.flatnonzero((gw < 0) & ~row_warm).tolist():
            msg = int(batch.message[r])
            out.dlq.append(
                self._dead_letter(
                    f"gateway_id: unknown gateway {batch.gateways[batch.gateway[r]]!r}",
                    values[msg] or b"",
                    self.topic,
                    int(partitions[msg]),
                    int(offsets[msg]),
                    None,
                )
            )
        code = self._state_of_tag.get(batch.tag, self._state_codes)  # -1: no asset carries the tag
        unknown_rows = (gw >= 0) & (code < 0)
        if unknown_rows.any():
            tags, counts = np.unique(batch.tag[unknown_rows & ~row_warm], return_counts=True)
            out.unknown = {batch.tags[t]: n for t, n in zip(tags.tolist(), counts.tolist(), strict=True)}
        keep = np.flatnonzero((gw >= 0) & (code >= 0))
        if keep.size == 0:
            return out
        ts, gw, code = batch.ts_s[keep], gw[keep], code[keep]
        battery, msg_of = batch.battery[keep], batch.message[keep]
        out.gateway_row, out.gateway_ts = _newest(gw, ts)
        out.asset_code, out.asset_ts = _newest(code, ts)
        reported = np.isfinite(battery)
        battery_code, battery_value = _newest(code[reported], ts[reported], battery[reported])
        out.asset_battery = np.full(len(out.asset_code), np.nan)
        out.asset_battery[np.searchsorted(out.asset_code, battery_code)] = battery_value
        out.columns = Columns(ts, code, gw, batch.rssi[keep], partitions[msg_of], offsets[msg_of])
        return out

    def _catalog_rows(self, gateway_ids: list[str]) -> list[int]:
        """Catalog row of each gateway id (−1: unknown)."""
        index = self.catalog.gateway_index
        return [index.get(g, -1) for g in gateway_ids]

    def _state_codes(self, tags: list[str]) -> np.ndarray:
        """State code of each tag carried by an asset (−1: no asset carries it)."""
        assets = self.catalog.assets
        carried = np.fromiter(map(assets.__contains__, tags), bool, len(tags))
        codes = np.full(len(tags), -1, np.int64)
        codes[carried] = self.states.intern([t for t, c in zip(tags, carried.tolist(), strict=True) if c])
        return codes

    def _gateway_ids(self) -> list[str]:
        if self._gateway_ids_of is not self.catalog:
            ids = [""] * len(self.catalog.gateway_index)
            for gid, row in self.catalog.gateway_index.items():
                ids[row] = gid
            self._gateway_id_list, self._gateway_ids_of = ids, self.catalog
        return self._gateway_id_list

    def _dead_letter(
        self, reason: str, raw: bytes, topic: str, partition: int, offset: int, index: int | None
    ) -> bytes:
        metrics.DLQ.labels(reason=reason.split(":")[0].split("[")[0][:40]).inc()
        return _encode(
            DeadLetter(
                reason=reason,
                original=raw,
                source_topic=topic,
                source_partition=partition,
                source_offset=offset,
                index=index,
                rejected_at=rfc3339(self.clock()),
            )
        )

    def _load_states(self, decoded: _Decoded) -> None:
        codes = decoded.columns.code
        if codes.size == 0:
            return
        while len(self._asset_of) < len(self.states.tags):
            tag = self.states.tags[len(self._asset_of)]
            known = self.catalog.assets.get(tag)
            self._asset_of.append(known[0] if known else None)
        unique, first = np.unique(codes, return_index=True)
        missing = ~self.states.loaded[unique]
        if not missing.any():
            return
        need, rows = unique[missing], first[missing]
        keys = [self.keys.track_state(self.states.tags[c]) for c in need.tolist()]
        blobs = self._retry("redis", lambda: self.live.get_many(keys))
        self.states.load(need, blobs, decoded.columns.partition[rows])

    def _prepare(self, messages: list, started: float) -> _InFlight:
        """Decode and locate a batch and apply its pending per-tag state in memory (the next batch builds on
        it while this one is written; if the write is abandoned, the rebalance that caused it drops that state)."""
        consumed = len(messages)
        metrics.CONSUMED.inc(consumed)
        decoded = self._decode(messages)
        # Decoded into columns: release the raw messages (tens of MB at 50k) before locating, which rebuilds the
        # carried window, and before waiting on the previous batch's write (the caller's list is this one).
        messages.clear()
        self._load_states(decoded)
        located = locate(
            self.states,
            self.carry,
            decoded.columns,
            self.catalog,
            window_s=self.settings.window_s,
            fix_interval_s=self.settings.fix_interval_s,
            heartbeat_s=self.settings.history_heartbeat_s,
            current_write_s=self.options.current_write_s,
            asset_lookup=self._asset_of,
            model_for=self.models,
            lateness_s=self.settings.fix_lateness_s,
        )
        # The new carry replaces the old one right away, and the batch in flight does not hold it: otherwise the
        # previous carry (millions of rows at 100k tags) lives on until that batch is written.
        self.carry, located.carry = located.carry, Carry()
        gateway_rows, asset_rows, gateway_due, asset_due = self._touches(decoded)
        self.states.vec[located.state_codes] = located.state_vec
        self._gateway_touched[decoded.gateway_row[gateway_due]] = decoded.gateway_ts[gateway_due]
        self.states.touched[decoded.asset_code[asset_due]] = decoded.asset_ts[asset_due]
        n_obs = len(decoded.columns)
        unknown = sum(decoded.unknown.values())
        metrics.OBSERVATIONS.inc(n_obs)
        metrics.FIXES.inc(len(located.fixes))
        metrics.UNKNOWN_TAGS.inc(unknown)
        metrics.TAGS_TRACKED.set(len(self.states.tags))
        if time.monotonic() - self._lag_measured >= LAG_EVERY_S:
            self._lag_measured = time.monotonic()
            try:
                metrics.LAG.set(self.consumer.lag())
            except Exception:  # noqa: BLE001 - a metric must never stop the loop
                log.debug("consumer lag unavailable", exc_info=True)
        report = BatchReport(consumed, n_obs, len(decoded.dlq), unknown, len(located.fixes))
        # Where the stream may resume once this batch is written: from the carry as it is right after it.
        return _InFlight(report, decoded, located, gateway_rows, asset_rows, self._offsets(decoded), started)

    def _touches(self, decoded: _Decoded) -> tuple[list, list, np.ndarray, np.ndarray]:
        """Gateways' and assets' last_seen rows due for writing (at most every gateway/asset_touch_s of event
        time per gateway/asset), and which rows of `decoded.gateway_*` / `decoded.asset_*` they are."""
        opts = self.options
        rows = decoded.gateway_row
        gateway_due = np.flatnonzero(decoded.gateway_ts - self._gateway_touched[rows] >= opts.gateway_touch_s)
        ids = self._gateway_ids()
        gateways = [
            (ids[row], ts)
            for row, ts in zip(
                rows[gateway_due].tolist(), decoded.gateway_ts[gateway_due].tolist(), strict=True
            )
        ]
        codes = decoded.asset_code
        due = np.flatnonzero(decoded.asset_ts - self.states.touched[codes] >= opts.asset_touch_s)
        tags = self.states.tags
        assets = [
            (tags[code], ts, None if battery != battery else battery)  # NaN: no reading
            for code, ts, battery in zip(
                codes[due].tolist(),
                decoded.asset_ts[due].tolist(),
                decoded.asset_battery[due].tolist(),
                strict=True,
            )
        ]
        return gateways, assets, gateway_due, due

    def _write(self, decoded: _Decoded, located: Located, gateway_rows: list, asset_rows: list) -> int:
        fixes = located.fixes
        try:
            ctx, history = self._write_database(fixes, located, gateway_rows, asset_rows)
        except (IntegrityError, psycopg.errors.ForeignKeyViolation) as exc:
            if not _foreign_key_violation(exc):
                raise
            # An asset or site was deleted after this batch was located: its fixes keep their place but lose the
            # reference (as the rows already stored did, ON DELETE SET NULL), and the catalog is reloaded.
            self._catalog_stale = True
            self._forget_deleted(fixes)
            ctx, history = self._write_database(fixes, located, gateway_rows, asset_rows)
        for action in ctx._after_commit:
            action()
        payloads = _encode_each(fixes)  # after the stages: zone ids are part of every copy of the fix
        self._write_live(decoded, located, payloads)
        producer, locations_topic = self.producer, self.settings.topic(LOCATIONS)
        for tag, payload in zip(fixes.tag_id.tolist(), payloads, strict=True):
            producer.produce(locations_topic, payload, tag.encode())
        dlq_topic = self.settings.topic(OBSERVATIONS_DLQ)
        for record in decoded.dlq:
            producer.produce(dlq_topic, record, None)
        producer.flush(30.0)
        return history

    def _write_database(
        self, fixes: FixBatch, located: Located, gateway_rows: list, asset_rows: list
    ) -> tuple[StageContext, int]:
        for i in range(len(fixes)):
            fixes.zone_ids[i] = []  # a retried batch starts from what the stages compute this time
        with self.engine.begin() as conn:
            ctx = StageContext(self.settings, conn, self.live, self.keys, self.producer, self.clock())
            for stage in self.stages:
                stage.process(fixes, ctx)
            history = write_fixes(conn, fixes, located.history, located.current_db)
            touch_gateways(conn, gateway_rows)
            touch_assets(conn, asset_rows)
        return ctx, history

    def _forget_deleted(self, fixes: FixBatch) -> None:
        """Set the batch's references to assets and sites that no longer exist to None."""
        with self.engine.connect() as conn:
            for column, model in ((fixes.asset_id, Asset), (fixes.site_id, Site)):
                wanted = set(column.tolist()) - {None}
                existing = (
                    set(conn.scalars(select(model.id).where(model.id.in_(wanted)))) if wanted else set()
                )
                column[[value not in existing for value in column.tolist()]] = None

    def _write_live(self, decoded: _Decoded, located: Located, payloads: list[bytes]) -> None:
        fixes = located.fixes
        items: list[tuple[str, bytes]] = []
        publish: dict[object, list[bytes]] = defaultdict(list)
        if len(located.latest):
            latest = located.latest.tolist()
            for tag, site, i in zip(
                fixes.tag_id[latest].tolist(), fixes.site_id[latest].tolist(), latest, strict=True
            ):
                items.append((self.keys.current_location(tag), payloads[i]))
                publish[site].append(payloads[i])
        codes = located.state_codes
        if codes.size:
            blobs = self.states.pack(located.state_vec)
            items.extend(
                (self.keys.track_state(self.states.tags[c]), blob)
                for c, blob in zip(codes.tolist(), blobs, strict=True)
            )
        self.live.set_many(items)
        if decoded.unknown:
            self.live.incr_fields(unknown_tags_key(self.keys), decoded.unknown)
        # The channel message is the JSON list of the site's fixes: the payloads joined, not re-encoded.
        self.live.publish_many(
            (self.keys.locations_channel(site), b"[" + b",".join(records) + b"]")
            for site, records in publish.items()
        )

    def _offsets(self, decoded: _Decoded) -> dict[TopicPartition, tuple[int, str]]:
        offsets: dict[TopicPartition, tuple[int, str]] = {}
        lowest = self.carry.oldest_offsets()
        for tp, next_offset in decoded.next_offsets.items():
            held = int(lowest[tp[1]]) if tp[1] < len(lowest) else next_offset
            offsets[tp] = (next_offset, f"replay_from={min(held, next_offset)}")
        return offsets

    def _commit(self, offsets: dict[TopicPartition, tuple[int, str]]) -> None:
        mine = {tp: value for tp, value in offsets.items() if tp in self._assigned}
        for tp, (next_offset, _) in mine.items():
            self._resume_at[tp] = max(self._resume_at.get(tp, 0), next_offset)
        try:
            self._retry("commit", lambda: self.consumer.commit(mine))
        except _Abandoned:
            log.warning("offsets not committed (partitions revoked); the batch will be replayed idempotently")

    # --- retries --------------------------------------------------------------------------------
    def _retry(
        self,
        backend: str,
        action: Callable[[], object],  # type: ignore[no-untyped-def]
        abandon: threading.Event | None = None,
    ):
        """Run `action` until it succeeds, backing off on transient failures. On the loop's thread the consumer
        is kept in the group meanwhile; the writer thread leaves that to `flush()` and gives up when `abandon`
        is set (partitions revoked)."""
        on_loop = threading.current_thread() is self._loop_thread
        delay = 0.1
        while True:
            try:
                result = action()
            except TRANSIENT as exc:
                if isinstance(exc, StreamError) and exc.fatal:
                    raise
                metrics.RETRIES.labels(backend=backend).inc()
                if self.retrying_since is None:
                    self.retrying_since = time.monotonic()
                log.warning("%s failed, retrying in %.1f s: %s", backend, delay, str(exc).splitlines()[0])
                if self._started and on_loop:
                    self.consumer.keepalive()
                gone = abandon.is_set() if abandon is not None else self._abandon
                if gone or self._stop.wait(delay) or (abandon is not None and abandon.is_set()):
                    raise _Abandoned() from exc
                delay = min(delay * 2, self.options.max_backoff_s)
                continue
            if self.retrying_since is not None:
                self.retrying_since = None
                if self._started and on_loop:
                    self.consumer.resume()
            return result


def _foreign_key_violation(exc: BaseException) -> bool:
    """PostgreSQL's foreign-key error (raw from COPY or wrapped by SQLAlchemy), or SQLite's."""
    cause = getattr(exc, "orig", exc)
    return isinstance(cause, psycopg.errors.ForeignKeyViolation) or "FOREIGN KEY constraint" in str(cause)


def _newest(
    group: np.ndarray, ts: np.ndarray, value: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per group: (groups, newest ts) — or, with `value`, the value of each group's newest row."""
    if group.size == 0:
        return group[:0].astype(np.int64), ts[:0].astype(float)
    order = np.lexsort((ts, group))
    last = order[np.r_[group[order][1:] != group[order][:-1], True]]
    return group[last], (ts if value is None else value)[last]


def _encode_each(fixes: FixBatch) -> list[bytes]:
    return [_encode(record) for record in fixes.rows()]


def _replay_from(metadata: str) -> int | None:
    for part in metadata.split(";"):
        key, _, value = part.partition("=")
        if key.strip() == "replay_from" and value.strip().lstrip("-").isdigit():
            return int(value)
    return None
