"""Live state behind one small interface: Redis (`redis://`) or the in-process `MemoryHub` (`memory://`).

The realtime loop only needs bulk get/set, publish and counters; keeping the interface this small is what makes
the embedded backend a real implementation rather than a mock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Protocol

import msgspec

from core.live import LiveKeys, MemoryHub
from core.settings import Settings

_CHUNK = 5000


class LiveStoreError(RuntimeError):
    """Redis is unreachable or refused a command (transient: the batch is retried)."""


class LiveStore(Protocol):
    def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...
    def set_many(self, items: Iterable[tuple[str, bytes]]) -> None: ...
    def publish_many(self, messages: Iterable[tuple[str, bytes]]) -> None: ...
    def incr_fields(self, key: str, counts: dict[str, int]) -> None: ...
    def read_fields(self, key: str) -> dict[str, int]: ...
    def close(self) -> None: ...


def unknown_tags_key(keys: LiveKeys) -> str:
    """Hash of tag id -> observations seen from tags that are not registered as assets."""
    return f"{keys.prefix}unknown_tags"


class MemoryLiveStore:
    def __init__(self, hub: MemoryHub | None = None) -> None:
        self.hub = hub or MemoryHub.shared()
        self._counter_lock = threading.Lock()

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return self.hub.get_many(keys)

    def set_many(self, items: Iterable[tuple[str, bytes]]) -> None:
        self.hub.set_many(items)

    def publish_many(self, messages: Iterable[tuple[str, bytes]]) -> None:
        for channel, data in messages:
            self.hub.publish(channel, data)

    def incr_fields(self, key: str, counts: dict[str, int]) -> None:
        with self._counter_lock:
            current = self.read_fields(key)
            for name, count in counts.items():
                current[name] = current.get(name, 0) + count
            self.hub.set_many([(key, msgspec.json.encode(current))])

    def read_fields(self, key: str) -> dict[str, int]:
        raw = self.hub.get(key)
        return {} if raw is None else msgspec.json.decode(raw, type=dict[str, int])

    def close(self) -> None:
        return None


class RedisLiveStore:
    def __init__(self, url: str) -> None:
        import redis

        self._redis_errors = (redis.RedisError, OSError)
        self.client = redis.Redis.from_url(
            url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30
        )

    def _run(self, action):  # type: ignore[no-untyped-def]
        try:
            return action()
        except self._redis_errors as exc:
            raise LiveStoreError(f"Redis: {exc}") from exc

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        out: list[bytes | None] = []
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            out.extend(self._run(lambda chunk=chunk: self.client.mget(chunk)))
        return out

    def set_many(self, items: Iterable[tuple[str, bytes]]) -> None:
        pairs = list(items)

        def write() -> None:
            pipe = self.client.pipeline(transaction=False)
            for start in range(0, len(pairs), _CHUNK):
                pipe.mset(dict(pairs[start : start + _CHUNK]))
            pipe.execute()

        if pairs:
            self._run(write)

    def publish_many(self, messages: Iterable[tuple[str, bytes]]) -> None:
        batch = list(messages)

        def send() -> None:
            pipe = self.client.pipeline(transaction=False)
            for channel, data in batch:
                pipe.publish(channel, data)
            pipe.execute()

        if batch:
            self._run(send)

    def incr_fields(self, key: str, counts: dict[str, int]) -> None:
        def send() -> None:
            pipe = self.client.pipeline(transaction=False)
            for name, count in counts.items():
                pipe.hincrby(key, name, count)
            pipe.execute()

        if counts:
            self._run(send)

    def read_fields(self, key: str) -> dict[str, int]:
        raw = self._run(lambda: self.client.hgetall(key))
        return {k.decode(): int(v) for k, v in raw.items()}

    def close(self) -> None:
        self.client.close()


def open_live_store(settings: Settings) -> LiveStore:
    if settings.redis_url.lower().startswith("memory:"):
        return MemoryLiveStore()
    return RedisLiveStore(settings.redis_url)


def read_unknown_tags(settings: Settings) -> dict[str, int]:
    """Observation counts of unregistered tags, for the API and operators."""
    store = open_live_store(settings)
    try:
        return store.read_fields(unknown_tags_key(LiveKeys(settings.redis_prefix)))
    finally:
        store.close()
