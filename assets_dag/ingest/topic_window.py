"""Read exactly the records of one time window from a Kafka topic, using offsets for timestamps.

Record timestamps within a partition are only roughly ordered (producers set CreateTime), so the window is
widened by `slack_s` on both sides to find offsets, and records are then kept by their own timestamp. The
result depends only on what the topic holds, not on when it is read — which is what makes re-landing an hour
give the same file once the hour (plus slack) is over. Kafka keeps 7 days, so any missed hour can be re-read.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from itertools import compress

import numpy as np
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

OFFSET_END = -1  # offsets_for_times answers -1 when no record is at or after the time


class TopicError(RuntimeError):
    """The topic cannot be read (missing, broker unreachable); the message says which and why."""


@dataclass
class TopicWindow:
    """Records of `topic` with timestamps in [start, end): values and where each came from."""

    topic: str
    start: dt.datetime
    end: dt.datetime
    values: list[bytes] = field(default_factory=list)
    # Lists when built by hand (tests), numpy arrays when read from Kafka: both convert to Arrow without a loop.
    partitions: list[int] | np.ndarray = field(default_factory=list)
    offsets: list[int] | np.ndarray = field(default_factory=list)
    timestamps_ms: list[int] | np.ndarray = field(default_factory=list)
    # Records read in the widened range but outside the window (they belong to the neighbouring hours).
    outside_window: int = 0

    def __len__(self) -> int:
        return len(self.values)


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def read_window(
    config: dict[str, str],
    topic: str,
    start: dt.datetime,
    end: dt.datetime,
    *,
    slack_s: float = 300.0,
    batch_size: int = 100_000,
    timeout_s: float = 30.0,
) -> TopicWindow:
    """All records of `topic` whose timestamp is in [start, end)."""
    consumer = Consumer(
        {
            **config,
            # Offsets are assigned explicitly and never committed: the group only names the client.
            "group.id": "asset-tag-landing",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "fetch.max.bytes": 64 * 1024 * 1024,
            "max.partition.fetch.bytes": 16 * 1024 * 1024,
            "queued.max.messages.kbytes": 512 * 1024,
        }
    )
    try:
        ranges = _offset_ranges(consumer, topic, start, end, slack_s, timeout_s)
        window = TopicWindow(topic, start, end)
        if ranges:
            _read_ranges(consumer, topic, ranges, _ms(start), _ms(end), window, batch_size, timeout_s)
        return window
    finally:
        consumer.close()


def _offset_ranges(
    consumer: Consumer, topic: str, start: dt.datetime, end: dt.datetime, slack_s: float, timeout_s: float
) -> dict[int, tuple[int, int]]:
    """Per partition: [first offset, end offset) that can hold records of the widened window."""
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s)
    except KafkaException as exc:
        raise TopicError(f"topic {topic}: cannot reach the brokers ({exc})") from None
    described = metadata.topics.get(topic)
    if described is None or described.error is not None or not described.partitions:
        raise TopicError(f"topic {topic}: does not exist ({described.error if described else 'not listed'})")
    slack = dt.timedelta(seconds=slack_s)
    numbers = sorted(described.partitions)
    lows = consumer.offsets_for_times(
        [TopicPartition(topic, p, _ms(start - slack)) for p in numbers], timeout=timeout_s
    )
    highs = consumer.offsets_for_times(
        [TopicPartition(topic, p, _ms(end + slack)) for p in numbers], timeout=timeout_s
    )
    ranges = {}
    for low, high in zip(lows, highs, strict=True):
        _, watermark = consumer.get_watermark_offsets(TopicPartition(topic, low.partition), timeout=timeout_s)
        first = watermark if low.offset == OFFSET_END else low.offset
        stop = watermark if high.offset == OFFSET_END else high.offset
        if stop > first:
            ranges[low.partition] = (first, stop)
    return ranges


def _read_ranges(
    consumer: Consumer,
    topic: str,
    ranges: dict[int, tuple[int, int]],
    start_ms: int,
    end_ms: int,
    window: TopicWindow,
    batch_size: int,
    timeout_s: float,
) -> None:
    """Consume every assigned partition up to its end offset, then keep the records inside the window.

    The per-message work is a handful of list comprehensions (C loops over the batch) rather than one Python
    loop with branches: at a million records an hour this loop is what limits the landing rate."""
    consumer.assign([TopicPartition(topic, p, first) for p, (first, _) in ranges.items()])
    stops = {p: stop for p, (_, stop) in ranges.items()}
    pending = set(stops)
    values: list[bytes] = []
    partitions: list[int] = []
    offsets: list[int] = []
    stamps: list[int] = []
    idle_since: float | None = None
    while pending:
        messages = consumer.consume(num_messages=batch_size, timeout=1.0)
        if not messages:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > timeout_s:
                raise TopicError(
                    f"topic {topic}: no records for {timeout_s:.0f} s while reading partitions {pending}"
                )
            continue
        idle_since = None
        errors = [m for m in messages if m.error() is not None]
        if errors:
            for message in errors:
                if message.error().code() != KafkaError._PARTITION_EOF:
                    raise TopicError(f"topic {topic}: {message.error().str()}")
                pending.discard(message.partition())  # nothing more to read there
            messages = [m for m in messages if m.error() is None]
        batch_partitions = [m.partition() for m in messages]
        batch_offsets = [m.offset() for m in messages]
        values += [m.value() for m in messages]
        stamps += [m.timestamp()[1] for m in messages]
        partitions += batch_partitions
        offsets += batch_offsets
        # Offsets grow within a partition, so the dict keeps each partition's last offset of the batch.
        for partition, last in dict(zip(batch_partitions, batch_offsets, strict=True)).items():
            # Offsets can have gaps (transaction markers, compaction): reaching or passing stop - 1 is done.
            if last >= stops[partition] - 1:
                pending.discard(partition)
    _keep_window(window, values, partitions, offsets, stamps, stops, start_ms, end_ms)


def _keep_window(
    window: TopicWindow,
    values: list[bytes],
    partitions: list[int],
    offsets: list[int],
    stamps: list[int],
    stops: dict[int, int],
    start_ms: int,
    end_ms: int,
) -> None:
    part = np.asarray(partitions, dtype=np.int64)
    offset = np.asarray(offsets, dtype=np.int64)
    stamp = np.asarray(stamps, dtype=np.int64)
    stop = np.zeros(part.size, dtype=np.int64)
    for partition, end_offset in stops.items():
        stop[part == partition] = end_offset
    in_range = offset < stop  # records read past the end offset belong to later windows
    keep = in_range & (stamp >= start_ms) & (stamp < end_ms)
    window.outside_window = int(np.count_nonzero(in_range & ~keep))
    window.values = list(compress(values, keep.tolist()))
    window.partitions = part[keep]
    window.offsets = offset[keep]
    window.timestamps_ms = stamp[keep]
