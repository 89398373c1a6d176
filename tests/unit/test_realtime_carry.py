"""The carried observation window between batches: rebuilt in place, and nothing in it changes on the way."""

from __future__ import annotations

import numpy as np
import pytest

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


def test_rebuild_keeps_the_selected_rows_then_the_new_ones_with_exact_values() -> None:
    carry = _columns(1000, 1).narrow()
    new = _columns(300, 2)
    keep, keep_new = np.random.default_rng(3).random(1000) < 0.6, np.random.default_rng(4).random(300) < 0.7
    expected = [r for r, k in zip(_rows(carry), keep, strict=True) if k]
    expected += [r for r, k in zip(_rows(new), keep_new, strict=True) if k]

    rebuilt = carry.rebuild(keep, new, keep_new)

    assert rebuilt is carry  # in place: the old columns are gone, not kept beside the new ones
    assert _rows(rebuilt) == expected
    assert rebuilt.code.dtype == np.int32 and rebuilt.rssi.dtype == np.float32  # still narrow
    assert rebuilt.offset.dtype == np.int64  # offsets past 2**31 survive


def test_rebuild_widens_rssi_when_a_new_value_is_not_exact_in_float32() -> None:
    carry = _columns(100, 5).narrow()
    new = _columns(10, 6, rssi=np.full(10, -61.3))
    rebuilt = carry.rebuild(np.ones(100, bool), new, np.ones(10, bool))
    assert rebuilt.rssi.dtype == np.float64
    assert rebuilt.rssi[-10:].tolist() == [-61.3] * 10  # not rounded through float32
    assert rebuilt.rssi[:100].tolist() == _columns(100, 5).rssi.tolist()
