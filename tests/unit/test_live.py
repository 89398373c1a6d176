"""The in-process live-state hub behaves like the Redis subset the platform uses."""

from __future__ import annotations

import pytest

from core.live import LiveKeys, MemoryHub

pytestmark = pytest.mark.unit


def test_keys_and_channels_carry_the_prefix() -> None:
    keys = LiveKeys("run1:")
    assert keys.current_location("AB12") == "run1:loc:AB12"
    assert keys.locations_channel(7) == "run1:locations.7"
    assert keys.alerts_channel(7).startswith("run1:alerts.")


def test_set_get_and_glob_keys() -> None:
    hub = MemoryHub()
    hub.set_many([("loc:A", b"1"), ("loc:B", b"2"), ("track:A", b"t")])
    assert hub.get_many(["loc:A", "loc:C"]) == [b"1", None]
    assert sorted(hub.keys("loc:*")) == ["loc:A", "loc:B"]
    hub.delete("loc:A")
    assert hub.get("loc:A") is None


def test_pattern_subscription_receives_matching_channels_only() -> None:
    hub = MemoryHub()
    got: list[tuple[str, bytes]] = []
    unsubscribe = hub.subscribe("alerts.*", lambda channel, data: got.append((channel, data)))
    assert hub.publish("alerts.1", b"a") == 1
    assert hub.publish("locations.1", b"l") == 0
    unsubscribe()
    assert hub.publish("alerts.2", b"b") == 0
    assert got == [("alerts.1", b"a")]


def test_shared_hub_is_one_per_process() -> None:
    assert MemoryHub.shared() is MemoryHub.shared()
