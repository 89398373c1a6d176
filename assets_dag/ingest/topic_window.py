"""Read exactly the records of one time window from a Kafka topic, using offsets for timestamps.

Record timestamps within a partition are only roughly ordered (producers set CreateTime), so the window is
widened by `slack_s` on both sides to find offsets, and records are then kept by their own timestamp. The
result depends only on what the topic holds, not on when it is read — which is what makes re-landing an hour
give the same file once the hour (plus slack) is over. Kafka keeps 7 days, so any missed hour can be re-read.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

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
    partitions: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    timestamps_ms: list[int] = field(default_factory=list)
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
    consumer.assign([TopicPartition(topic, p, first) for p, (first, _) in ranges.items()])
    pending = {p: stop for p, (_, stop) in ranges.items()}
    values, partitions, offsets, stamps = (
        window.values,
        window.partitions,
        window.offsets,
        window.timestamps_ms,
    )
    outside = 0
    idle_since: float | None = None
    for messages in _batches(consumer, batch_size):
        if not messages:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > timeout_s:
                raise TopicError(f"topic {topic}: no records for {timeout_s:.0f} s while reading {pending}")
            continue
        idle_since = None
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    pending.pop(message.partition(), None)  # nothing more to read there
                    continue
                raise TopicError(f"topic {topic}: {error.str()}")
            partition, offset = message.partition(), message.offset()
            stop = pending.get(partition)
            if stop is None:
                continue
            if offset >= stop:  # offsets can have gaps (transaction markers, compaction)
                del pending[partition]
                continue
            stamp = message.timestamp()[1]
            if start_ms <= stamp < end_ms:
                values.append(message.value())
                partitions.append(partition)
                offsets.append(offset)
                stamps.append(stamp)
            else:
                outside += 1
            if offset >= stop - 1:
                del pending[partition]
        if not pending:
            break
    window.outside_window = outside


def _batches(consumer: Consumer, batch_size: int) -> Iterator[list]:
    while True:
        yield consumer.consume(num_messages=batch_size, timeout=1.0)
