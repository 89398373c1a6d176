"""The stream the realtime path reads and writes: Kafka in production, an in-process queue in embedded mode.

Both backends hand out message objects with confluent-kafka's accessor methods (`value()`, `key()`, `topic()`,
`partition()`, `offset()`, `timestamp()`), so the hot loop never wraps a message. Offsets are committed
explicitly with a small metadata string (the pipeline stores where its event-time windows must be re-read from).

`open_consumer(settings)` / `open_producer(settings)` pick the backend from `ASSET_TAG_STREAM_URL`;
`ensure_topics(settings)` creates the platform's topics under the configured prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from core.settings import Settings

OBSERVATIONS = "ble.observations"
OBSERVATIONS_DLQ = "ble.observations.dlq"
LOCATIONS = "ble.locations"
ALERTS = "ble.alerts"
ZONE_EVENTS = "ble.zone_events"
PLATFORM_TOPICS = (OBSERVATIONS, OBSERVATIONS_DLQ, LOCATIONS, ALERTS, ZONE_EVENTS)
DEFAULT_PARTITIONS = 6
RETENTION_MS = 7 * 24 * 3600 * 1000

TopicPartition = tuple[str, int]
# on_assign returns, per partition, the offset to start reading from (None = the committed offset).
AssignCallback = Callable[[list[TopicPartition]], dict[TopicPartition, int]]
RevokeCallback = Callable[[list[TopicPartition]], None]


class StreamError(RuntimeError):
    """The broker did not accept or deliver something; transient unless `fatal`."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


class StreamMessage(Protocol):
    def value(self) -> bytes | None: ...
    def key(self) -> bytes | None: ...
    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def timestamp(self) -> tuple[int, int]: ...
    def error(self) -> object | None: ...


class StreamConsumer(Protocol):
    def subscribe(
        self, topics: Sequence[str], on_assign: AssignCallback, on_revoke: RevokeCallback
    ) -> None: ...

    def consume(self, num_messages: int, timeout_s: float) -> list[StreamMessage]: ...

    def committed(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, tuple[int, str]]:
        """(next offset to read, metadata) per partition; offset −1 when nothing was committed."""
        ...

    def commit(self, offsets: dict[TopicPartition, tuple[int, str]]) -> None:
        """Synchronously commit (next offset, metadata) per partition; raises StreamError on failure."""
        ...

    def assignment(self) -> list[TopicPartition]: ...

    def lag(self) -> int:
        """Messages not yet fetched from the assigned partitions (the consumer-lag metric)."""
        ...

    def keepalive(self) -> None:
        """Stay in the group while a batch is retried (pauses fetching; `resume()` undoes it)."""
        ...

    def resume(self) -> None: ...

    def close(self) -> None: ...


class StreamProducer(Protocol):
    def produce(self, topic: str, value: bytes, key: bytes | None = None) -> None: ...

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until everything produced so far is acknowledged; raises StreamError when something was not."""
        ...

    def close(self) -> None: ...


def is_kafka(settings: Settings) -> bool:
    return settings.stream_url.lower().startswith("kafka:")


def open_consumer(settings: Settings, *, group: str | None = None, **options: object) -> StreamConsumer:
    if is_kafka(settings):
        from realtime.kafka_stream import KafkaStreamConsumer

        return KafkaStreamConsumer(settings, group=group or settings.consumer_group, **options)
    from realtime.memory_stream import MemoryBroker

    return MemoryBroker.shared().consumer(group or settings.consumer_group)


def open_producer(settings: Settings, **options: object) -> StreamProducer:
    if is_kafka(settings):
        from realtime.kafka_stream import KafkaStreamProducer

        return KafkaStreamProducer(settings, **options)
    from realtime.memory_stream import MemoryBroker

    return MemoryBroker.shared().producer()


def ensure_topics(settings: Settings, *, partitions: int = DEFAULT_PARTITIONS) -> list[str]:
    """Create the platform topics under `settings.topic_prefix` if missing; returns the names created."""
    names = [settings.topic(name) for name in PLATFORM_TOPICS]
    if is_kafka(settings):
        from realtime.kafka_stream import create_topics

        return create_topics(settings, names, partitions=partitions, retention_ms=RETENTION_MS)
    from realtime.memory_stream import MemoryBroker

    return MemoryBroker.shared().create_topics(names, partitions=partitions)
