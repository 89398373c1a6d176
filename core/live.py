"""Names and an in-process hub for the platform's live state (Redis in production, memory in embedded mode).

The realtime consumer writes current locations and publishes fixes, zone events and alerts; the API reads the same
keys and relays the same channels to WebSocket clients. Both sides take their names from here so they cannot drift.

In embedded mode (`ASSET_TAG_REDIS_URL=memory://`) the consumer and the API run in one process and share
`MemoryHub.shared()`, a real (if single-process) key-value store with publish/subscribe.
"""

from __future__ import annotations

import fnmatch
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable

Subscriber = Callable[[str, bytes], None]


class LiveKeys:
    """Redis key and channel names under a deployment prefix (`ASSET_TAG_REDIS_PREFIX`)."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix

    def current_location(self, tag_id: str) -> str:
        """JSON of the tag's latest fix (the `ble.locations` contract)."""
        return f"{self.prefix}loc:{tag_id}"

    def track_state(self, tag_id: str) -> str:
        """Serialised tracking (Kalman) state of a tag."""
        return f"{self.prefix}track:{tag_id}"

    def zone_state(self, tag_id: str) -> str:
        """Serialised geofence membership/hysteresis state of a tag."""
        return f"{self.prefix}zones:{tag_id}"

    def locations_channel(self, site_id: object) -> str:
        return f"{self.prefix}locations.{site_id}"

    def alerts_channel(self, site_id: object) -> str:
        return f"{self.prefix}alerts.{site_id}"

    def all_alerts_pattern(self) -> str:
        return f"{self.prefix}alerts.*"


class MemoryHub:
    """Thread-safe in-process key-value store with pub/sub: the `memory://` backend of live state."""

    _shared: MemoryHub | None = None
    _shared_lock = threading.Lock()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, bytes] = {}
        self._subscribers: dict[str, list[Subscriber]] = defaultdict(list)

    @classmethod
    def shared(cls) -> MemoryHub:
        """The process-wide hub, so the consumer and the API of one `assettag demo` see the same state."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    # key-value
    def set_many(self, items: Iterable[tuple[str, bytes]]) -> None:
        with self._lock:
            self._values.update(items)

    def get_many(self, keys: Iterable[str]) -> list[bytes | None]:
        with self._lock:
            return [self._values.get(key) for key in keys]

    def get(self, key: str) -> bytes | None:
        with self._lock:
            return self._values.get(key)

    def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._values.pop(key, None)

    def keys(self, pattern: str = "*") -> list[str]:
        with self._lock:
            return [key for key in self._values if fnmatch.fnmatchcase(key, pattern)]

    # pub/sub; a pattern subscription uses glob syntax like Redis PSUBSCRIBE
    def subscribe(self, pattern: str, callback: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers[pattern].append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers.get(pattern, []):
                    self._subscribers[pattern].remove(callback)

        return unsubscribe

    def publish(self, channel: str, data: bytes) -> int:
        with self._lock:
            targets = [
                cb
                for pattern, cbs in self._subscribers.items()
                if fnmatch.fnmatchcase(channel, pattern)
                for cb in cbs
            ]
        for callback in targets:
            callback(channel, data)
        return len(targets)
