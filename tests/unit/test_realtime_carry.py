"""The carried observation window between batches: its live rows are exactly the kept rows then the new ones, in
order, with their values unchanged, however the carry was appended to and compacted on the way."""

from __future__ import annotations

import numpy as np
import pytest

from realtime import carry as carry_module
from realtime.carry import COMPACT_AT_DEAD_SHARE, Carry
from realtime.locator import Columns

pytestmark = pytest.mark.unit


def _columns(n: int, seed: int, rssi: np.ndarray | None = None) -> Columns:
    rng = np.random.default_rng(seed)
    return Columns(
        ts=1.7e9 + np.sort(rng.uniform(0, 10, n)),
        code=rng.integers(0, 1000, n),
        gw=rng.integers(0, 50, n),
        rssi=rng.integers(-100, -40, n).astype(float) if rssi is None else rssi,
        partition=rng.integers(0, 6, n),
        offset=np.arange(n, dtype=np.int64) + 10**12,
    )


def _rows(c: Columns) -> list[tuple]:
    return list(zip(c.ts.tolist(), c.code.tolist(), c.gw.tolist(), c.rssi.tolist(), c.partition.tolist(),
                    c.offset.tolist(), strict=True))  # fmt: skip


def test_many_batches_keep_exactly_the_selected_rows_in_order() -> None:
    """Against a plain list model of the carry, over batches that retire few rows (appends into spare room),
    many (compaction) and none."""
    rng = np.random.default_rng(3)
    carry, model = Carry(), []
    for batch, retire_share in enumerate([0.0, 0.05, 0.6, 0.0, 0.1, 0.9, 0.02, 0.3] * 3):
        new = _columns(int(rng.integers(200, 3000)), seed=batch)
        alive = carry.ts != -np.inf
        keep = alive & (rng.random(len(carry)) >= retire_share)
        keep_new = rng.random(len(new)) < 0.8
        model = [r for r, k in zip(model, keep[alive].tolist(), strict=True) if k]
        model += [r for r, k in zip(_rows(new), keep_new.tolist(), strict=True) if k]

        assert carry.advance(np.flatnonzero(alive & ~keep), new, keep_new) is carry

        assert _rows(carry.live()) == model
        assert carry.dead <= COMPACT_AT_DEAD_SHARE * len(carry)
        assert carry.code.dtype == np.int32 and carry.rssi.dtype == np.float32  # still narrow
        assert carry.offset.dtype == np.int64  # offsets past 2**31 survive


def test_retired_rows_are_invisible_to_windows_and_resume_offsets() -> None:
    carry = Carry().advance(np.zeros(0, np.int64), _columns(100, 1), np.ones(100, bool))
    carry.retire(carry.partition == 2)
    gone = carry.ts == -np.inf
    assert gone.any() and not (carry.ts[~gone] == -np.inf).any()
    assert (carry.offset[gone] == np.iinfo(np.int64).max).all()  # never the minimum offset to resume from
    assert 2 not in carry.live().partition.tolist()


def test_rssi_widens_when_a_new_value_is_not_exact_in_float32() -> None:
    carry = Carry().advance(np.zeros(0, np.int64), _columns(100, 5), np.ones(100, bool))
    carry.advance(np.zeros(0, np.int64), _columns(10, 6, rssi=np.full(10, -61.3)), np.ones(10, bool))
    assert carry.rssi.dtype == np.float64
    assert carry.rssi[-10:].tolist() == [-61.3] * 10  # not rounded through float32
    assert carry.rssi[:100].tolist() == _columns(100, 5).rssi.tolist()


def test_newest_and_oldest_offsets_per_partition_follow_the_rows_read() -> None:
    carry = Carry()
    first, second = _columns(500, 7), _columns(300, 8)
    newest = carry.newest_with(first)
    carry.advance(np.zeros(0, np.int64), first, np.ones(500, bool))
    for p in range(6):
        assert newest[p] == first.ts[first.partition == p].max()
    newest = carry.newest_with(second)
    keep = np.random.default_rng(9).random(500) < 0.5
    carry.advance(np.flatnonzero(~keep), second, np.ones(300, bool))
    both = np.concatenate([first.ts, second.ts]), np.concatenate([first.partition, second.partition])
    for p in range(6):
        assert newest[p] == both[0][both[1] == p].max()
        live = carry.live()
        assert carry.oldest_offsets()[p] == live.offset[live.partition == p].min()

    carry.forget_partitions([2])  # revoked: its rows and its newest time go
    assert carry.newest_with(Columns.empty())[2] == -np.inf
    assert carry.oldest_offsets()[2] == np.iinfo(np.int64).max
    assert 2 not in carry.live().partition.tolist()


def test_rows_of_and_aged_find_exactly_the_live_rows_a_full_scan_finds(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Over batches that retire rows, append and compact, with blocks small enough that there are many: the tag
    lookup and the block-bounded age test agree with a scan of every live row."""
    monkeypatch.setattr(carry_module, "BLOCK", 64)
    rng = np.random.default_rng(11)
    carry = Carry()
    for batch in range(30):
        new = _columns(int(rng.integers(50, 400)), seed=100 + batch)
        new.ts[:] = 1.7e9 + batch + np.sort(rng.uniform(0, 3, len(new)))
        carry.newest_with(new)
        alive = np.flatnonzero(carry.ts != -np.inf)
        behind = alive[rng.random(len(alive)) < 0.15]  # as a tag's horizon retires its rows
        oldest = np.full(6, 1.7e9 + batch - 4.0) + rng.uniform(-1, 1, 6)
        aged = carry.aged(oldest)
        scan = alive[carry.ts[alive] <= oldest[carry.partition[alive]]]
        assert aged.tolist() == scan.tolist()
        codes = np.unique(rng.integers(0, 1000, 40))
        assert carry.rows_of(codes).tolist() == alive[np.isin(carry.code[alive], codes)].tolist()
        carry.advance(np.union1d(aged, behind), new, rng.random(len(new)) < 0.9)
    assert len(carry.live()) > 64 * 4  # the test saw many blocks
