"""`memory://` stream: partitioned in-process topics with offsets, consumer groups and committed offsets.

A real (single-process) implementation of what the realtime loop needs from Kafka, so `assettag demo` and the
unit tests run the same loop: messages are keyed into partitions, a group's members share partitions
round-robin (a member joining or leaving triggers revoke/assign callbacks at its next `consume`), and
consumers resume from the group's committed offsets.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from realtime.stream import AssignCallback, RevokeCallback, StreamError, StreamMessage, TopicPartition


class MemoryMessage:
    """Same accessors as confluent_kafka.Message."""

    __slots__ = ("_key", "_offset", "_partition", "_timestamp_ms", "_topic", "_value")

    def __init__(self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes, ts_ms: int):
        self._topic, self._partition, self._offset = topic, partition, offset
        self._key, self._value, self._timestamp_ms = key, value, ts_ms

    def value(self) -> bytes | None:
        return self._value

    def key(self) -> bytes | None:
        return self._key

    def topic(self) -> str | None:
        return self._topic

    def partition(self) -> int | None:
        return self._partition

    def offset(self) -> int | None:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return (1, self._timestamp_ms)  # 1 = TIMESTAMP_CREATE_TIME

    def error(self) -> object | None:
        return None


@dataclass
class _Group:
    committed: dict[TopicPartition, tuple[int, str]] = field(default_factory=dict)
    members: list[MemoryConsumer] = field(default_factory=list)
    generation: int = 0


class MemoryBroker:
    """The process-wide in-memory broker."""

    _shared: MemoryBroker | None = None
    _shared_lock = threading.Lock()

    def __init__(self, default_partitions: int = 4) -> None:
        self.default_partitions = default_partitions
        self._lock = threading.Condition()
        self._topics: dict[str, list[list[MemoryMessage]]] = {}
        self._groups: dict[str, _Group] = {}

    @classmethod
    def shared(cls) -> MemoryBroker:
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def create_topics(self, names: Sequence[str], *, partitions: int | None = None) -> list[str]:
        created = []
        with self._lock:
            for name in names:
                if name not in self._topics:
                    self._topics[name] = [[] for _ in range(partitions or self.default_partitions)]
                    created.append(name)
        return created

    def _partitions(self, topic: str) -> list[list[MemoryMessage]]:
        if topic not in self._topics:
            self._topics[topic] = [[] for _ in range(self.default_partitions)]
        return self._topics[topic]

    def append(self, topic: str, value: bytes, key: bytes | None) -> None:
        with self._lock:
            partitions = self._partitions(topic)
            index = zlib.crc32(key) % len(partitions) if key is not None else 0
            log = partitions[index]
            log.append(MemoryMessage(topic, index, len(log), key, value, int(time.time() * 1000)))
            self._lock.notify_all()

    def messages(self, topic: str) -> list[MemoryMessage]:
        """Everything on a topic, partition by partition (tests and the demo's readers)."""
        with self._lock:
            return [m for log in self._partitions(topic) for m in log]

    def end_offsets(self, topic: str) -> dict[int, int]:
        with self._lock:
            return {p: len(log) for p, log in enumerate(self._partitions(topic))}

    def producer(self) -> MemoryProducer:
        return MemoryProducer(self)

    def consumer(self, group: str) -> MemoryConsumer:
        return MemoryConsumer(self, group)

    # group membership -------------------------------------------------------------------
    def _group(self, name: str) -> _Group:
        return self._groups.setdefault(name, _Group())

    def join(self, consumer: MemoryConsumer) -> None:
        with self._lock:
            group = self._group(consumer.group)
            group.members.append(consumer)
            group.generation += 1

    def leave(self, consumer: MemoryConsumer) -> None:
        with self._lock:
            group = self._group(consumer.group)
            if consumer in group.members:
                group.members.remove(consumer)
                group.generation += 1

    def assignment_for(self, consumer: MemoryConsumer) -> tuple[int, list[TopicPartition]]:
        with self._lock:
            group = self._group(consumer.group)
            topics = sorted({t for m in group.members for t in m.topics})
            everything = [(t, p) for t in topics for p in range(len(self._partitions(t)))]
            mine = [
                tp
                for i, tp in enumerate(everything)
                if group.members
                and group.members[i % len(group.members)] is consumer
                and tp[0] in consumer.topics
            ]
            return group.generation, mine


class MemoryProducer:
    def __init__(self, broker: MemoryBroker) -> None:
        self._broker = broker

    def produce(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        self._broker.append(topic, value, key)

    def flush(self, timeout_s: float = 30.0) -> None:
        return None

    def close(self) -> None:
        return None


class MemoryConsumer:
    def __init__(self, broker: MemoryBroker, group: str) -> None:
        self._broker = broker
        self.group = group
        self.topics: list[str] = []
        self._on_assign: AssignCallback | None = None
        self._on_revoke: RevokeCallback | None = None
        self._generation = -1
        self._positions: dict[TopicPartition, int] = {}
        self._paused = False
        self._closed = False

    def subscribe(self, topics: Sequence[str], on_assign: AssignCallback, on_revoke: RevokeCallback) -> None:
        self.topics = list(topics)
        self._on_assign, self._on_revoke = on_assign, on_revoke
        self._broker.join(self)

    def _rebalance(self) -> None:
        generation, mine = self._broker.assignment_for(self)
        if generation == self._generation:
            return
        self._generation = generation
        if self._positions and self._on_revoke is not None:
            self._on_revoke(sorted(self._positions))
        self._positions = {}
        if not mine:
            return
        start = self._on_assign(list(mine)) if self._on_assign is not None else {}
        committed = self.committed(mine)
        for tp in mine:
            explicit = start.get(tp)
            self._positions[tp] = explicit if explicit is not None else max(committed[tp][0], 0)

    def consume(self, num_messages: int, timeout_s: float) -> list[StreamMessage]:
        if self._closed:
            raise StreamError("consumer is closed", fatal=True)
        deadline = time.monotonic() + timeout_s
        while True:
            self._rebalance()
            out: list[StreamMessage] = []
            if not self._paused:
                with self._broker._lock:
                    for tp in list(self._positions):
                        log = self._broker._partitions(tp[0])[tp[1]]
                        position = self._positions[tp]
                        take = log[position : position + (num_messages - len(out))]
                        out.extend(take)
                        self._positions[tp] = position + len(take)
                        if len(out) >= num_messages:
                            break
                    if not out:
                        remaining = deadline - time.monotonic()
                        if remaining > 0:
                            self._broker._lock.wait(min(remaining, 0.05))
            if out or time.monotonic() >= deadline:
                return out

    def committed(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, tuple[int, str]]:
        with self._broker._lock:
            group = self._broker._group(self.group)
            return {tp: group.committed.get(tp, (-1, "")) for tp in partitions}

    def commit(self, offsets: dict[TopicPartition, tuple[int, str]]) -> None:
        with self._broker._lock:
            group = self._broker._group(self.group)
            for tp, value in offsets.items():
                if tp in self._positions:  # a revoked partition's commit is refused, as Kafka does
                    group.committed[tp] = value

    def assignment(self) -> list[TopicPartition]:
        return sorted(self._positions)

    def lag(self) -> int:
        with self._broker._lock:
            return sum(
                max(len(self._broker._partitions(t)[p]) - position, 0)
                for (t, p), position in self._positions.items()
            )

    def keepalive(self) -> None:
        self._paused = True
        self._rebalance()

    def resume(self) -> None:
        self._paused = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._broker.leave(self)
