"""The consumer's garbage-collection tuning lasts exactly as long as some consumer in the process runs."""

import gc

import pytest

from realtime import gc_tuning

pytestmark = pytest.mark.unit


def test_collection_is_tuned_while_a_consumer_runs_and_restored_after_the_last_stops(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # As in a fresh process: no consumer runs (a test before this one may have left one started).
    gc.unfreeze()
    monkeypatch.setattr(gc_tuning, "_users", 0)
    monkeypatch.setattr(gc_tuning, "_saved", None)
    monkeypatch.setattr(gc_tuning, "YOUNG_GENERATION", gc.get_threshold()[0] + 12345)
    before = gc.get_threshold()
    gc_tuning.acquire()
    gc_tuning.acquire()  # a second consumer in the same process (tests, the demo)
    try:
        assert gc.get_threshold()[0] == gc_tuning.YOUNG_GENERATION
        assert gc.get_freeze_count() > 0
        gc_tuning.release()
        assert gc.get_threshold()[0] == gc_tuning.YOUNG_GENERATION  # one still runs
    finally:
        gc_tuning.release()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
