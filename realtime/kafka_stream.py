"""`kafka://` stream on confluent-kafka, configured the way getsentry/arroyo does it.

Consumer: auto-commit and auto offset store off (offsets are committed explicitly after the batch's writes),
batch `consume(num_messages, timeout)`, rebalance callbacks that let the pipeline choose start offsets and drop
the staged work of revoked partitions. Producer: idempotent, acks=all, delivery reports checked on `flush()`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaError, KafkaException, Message, Producer
from confluent_kafka import TopicPartition as KafkaTopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from core.settings import Settings
from realtime.stream import AssignCallback, RevokeCallback, StreamError, StreamMessage, TopicPartition

log = logging.getLogger(__name__)


def create_topics(
    settings: Settings, names: Sequence[str], *, partitions: int, retention_ms: int
) -> list[str]:
    admin = AdminClient(settings.kafka_config())
    try:
        existing = set(admin.list_topics(timeout=15).topics)
    except KafkaException as exc:
        raise StreamError(f"Kafka at {settings.kafka_bootstrap_servers} is unreachable: {exc}") from None
    missing = [name for name in names if name not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [
            NewTopic(
                name,
                num_partitions=partitions,
                replication_factor=-1,
                config={"retention.ms": str(retention_ms)},
            )
            for name in missing
        ],
        operation_timeout=15,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:  # another process won the race
                raise StreamError(f"cannot create topic {name}: {exc}") from None
    return created


class KafkaStreamConsumer:
    def __init__(self, settings: Settings, *, group: str, **options: object) -> None:
        config: dict[str, object] = {
            **settings.kafka_config(),
            "group.id": group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,  # the broker minimum: a crashed member is replaced quickly
            "heartbeat.interval.ms": 1000,
            "max.poll.interval.ms": 300000,
            # Prefetch a few MB, not the topic: librdkafka's memory per queued message is several times its
            # payload (4 MB of ~100-byte observations cost ~60 MB of RSS, 16 MB ~200 MB), and it counts against
            # the process's budget. A small queue only keeps the loop fed if the fetcher refills it as soon as
            # it drains: `fetch.queue.backoff.ms` (default 1000) is how long it waits after finding the queue
            # full. Measured consume + decode on a 2.2M-message backlog: 16 MB/1000 ms 132k/s, 4 MB/1000 ms
            # 116k/s (the loop starved 6 s of 11), 4 MB/10 ms 130-150k/s.
            "fetch.max.bytes": 4 * 1024 * 1024,
            "queued.max.messages.kbytes": 4 * 1024,
            "fetch.queue.backoff.ms": 10,
        }
        config.update(options)
        self._consumer = Consumer(config)
        self._paused = False
        self._lock = threading.Lock()

    def subscribe(self, topics: Sequence[str], on_assign: AssignCallback, on_revoke: RevokeCallback) -> None:
        def assigned(consumer: Consumer, partitions: list[KafkaTopicPartition]) -> None:
            keys = [(tp.topic, tp.partition) for tp in partitions]
            start = on_assign(keys)
            for tp, key in zip(partitions, keys, strict=True):
                if start.get(key) is not None:
                    tp.offset = start[key]
            consumer.assign(partitions)
            self._paused = False

        def revoked(consumer: Consumer, partitions: list[KafkaTopicPartition]) -> None:
            on_revoke([(tp.topic, tp.partition) for tp in partitions])
            consumer.unassign()

        self._consumer.subscribe(list(topics), on_assign=assigned, on_revoke=revoked, on_lost=revoked)

    def consume(self, num_messages: int, timeout_s: float) -> list[StreamMessage]:
        messages = self._consumer.consume(num_messages=num_messages, timeout=timeout_s)
        if not any(map(Message.error, messages)):  # the usual case, checked at C speed
            return messages  # type: ignore[return-value]
        good: list[StreamMessage] = []
        for message in messages:
            error = message.error()
            if error is None:
                good.append(message)
            elif error.code() == KafkaError._PARTITION_EOF:
                continue
            elif error.fatal():
                raise StreamError(f"Kafka consumer failed: {error}", fatal=True)
            else:  # transient broker/network trouble: librdkafka retries on its own
                log.warning("kafka consumer error: %s", error)
        return good

    def committed(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, tuple[int, str]]:
        try:
            result = self._consumer.committed([KafkaTopicPartition(t, p) for t, p in partitions], timeout=15)
        except KafkaException as exc:
            raise StreamError(f"cannot read committed offsets: {exc}") from None
        out: dict[TopicPartition, tuple[int, str]] = {}
        for tp in result:
            offset = tp.offset if tp.offset != OFFSET_INVALID and tp.offset >= 0 else -1
            out[(tp.topic, tp.partition)] = (offset, tp.metadata or "")
        return out

    def commit(self, offsets: dict[TopicPartition, tuple[int, str]]) -> None:
        if not offsets:
            return
        tps = [KafkaTopicPartition(t, p, offset, metadata=meta) for (t, p), (offset, meta) in offsets.items()]
        try:
            result = self._consumer.commit(offsets=tps, asynchronous=False)
        except KafkaException as exc:
            raise StreamError(f"offset commit failed: {exc}") from None
        for tp in result or []:
            if tp.error is not None:
                raise StreamError(f"offset commit failed for {tp.topic}[{tp.partition}]: {tp.error}")

    def assignment(self) -> list[TopicPartition]:
        return [(tp.topic, tp.partition) for tp in self._consumer.assignment()]

    def lag(self) -> int:
        """Messages between our fetch position and the end of each assigned partition, from the high watermarks
        librdkafka cached with its last fetch (no broker round trip)."""
        total = 0
        for tp in self._consumer.position(self._consumer.assignment()):
            _low, high = self._consumer.get_watermark_offsets(tp, cached=True)
            if high >= 0 and tp.offset >= 0:
                total += max(high - tp.offset, 0)
        return total

    def keepalive(self) -> None:
        """Pause every assigned partition and poll, so the group does not evict us while a batch is retried."""
        if not self._paused:
            self._consumer.pause(self._consumer.assignment())
            self._paused = True
        for message in self._consumer.consume(num_messages=1, timeout=0):
            if message.error() is None:  # fetched before the pause took effect: seek back so it is read again
                topic, partition, offset = message.topic(), message.partition(), message.offset()
                if topic is not None and partition is not None and offset is not None:
                    self._consumer.seek(KafkaTopicPartition(topic, partition, offset))

    def resume(self) -> None:
        if self._paused:
            self._consumer.resume(self._consumer.assignment())
            self._paused = False

    def close(self) -> None:
        self._consumer.close()


class KafkaStreamProducer:
    def __init__(self, settings: Settings, **options: object) -> None:
        config: dict[str, object] = {
            **settings.kafka_config(),
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "batch.num.messages": 10000,
            "queue.buffering.max.messages": 1_000_000,
            "compression.type": "lz4",
            # Only failures come back as delivery reports: no Python callback per fix on the hot path.
            "delivery.report.only.error": True,
            "on_delivery": self._delivered,
        }
        config.update(options)
        self._failures: list[str] = []
        self._producer = Producer(config)

    def _delivered(self, error: KafkaError | None, _message: object) -> None:
        if error is not None:
            self._failures.append(str(error))

    def produce(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        while True:
            try:
                self._producer.produce(topic, value, key)
                return
            except BufferError:  # local queue full: let librdkafka send, then try again
                self._producer.poll(0.05)

    def poll(self, timeout_s: float = 0.0) -> None:
        self._producer.poll(timeout_s)

    def flush(self, timeout_s: float = 30.0) -> None:
        remaining = self._producer.flush(timeout_s)
        failures, self._failures = self._failures, []
        if remaining:
            raise StreamError(f"{remaining} message(s) not acknowledged by Kafka within {timeout_s:.0f} s")
        if failures:
            raise StreamError(f"Kafka rejected {len(failures)} message(s): {failures[0]}")

    def close(self) -> None:
        self._producer.flush(10)
