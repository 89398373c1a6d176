"""Each tag's transmit offset is learnt from its own fixes and narrows the prior of its next ones."""

from __future__ import annotations

import numpy as np
import pytest

from core.positioning import GatewayTable, aggregate_windows, estimate_windows, expected_rssi
from core.positioning.tx_offset import (
    LearntOffsets,
    TxOffsetConfig,
    estimate_windows_learning,
    learn_offsets,
    offset_prior,
)

pytestmark = pytest.mark.unit


def _hot_tags(seed: int = 2, hot_db: float = 12.0, seconds: int = 300):
    """Two parked tags on a 40 x 24 m floor, one transmitting `hot_db` louder than the defaults assume."""
    rng = np.random.default_rng(seed)
    gx, gy = (v.ravel() for v in np.meshgrid(np.arange(4.0, 40.0, 8.0), np.arange(4.0, 24.0, 8.0)))
    gateways = GatewayTable.from_rows(
        [{"gateway_id": f"G{i}", "x": x, "y": y} for i, (x, y) in enumerate(zip(gx, gy, strict=True))],
        default_ref_rssi_1m_dbm=-59.0,
        default_path_loss_exponent=2.0,
    )
    spots, offsets = np.array([[13.0, 9.0], [27.0, 15.0]]), np.array([hot_db, 0.0])
    t = np.repeat(np.arange(seconds, dtype=float), 2) + rng.uniform(0, 1, 2 * seconds)
    tag = np.tile([0, 1], seconds)
    d = np.hypot(spots[tag, 0:1] - gx, spots[tag, 1:2] - gy)
    rssi = expected_rssi(np.maximum(d, 0.5), -59.0, 2.0, offsets[tag][:, None]) + rng.normal(0, 4.0, d.shape)
    heard = rssi > -95.0
    row, gw = np.nonzero(heard)
    windows = aggregate_windows(t[row], tag[row], gw, rssi[row, gw], window_s=3.0, fix_interval_s=0.5)
    return gateways, windows, spots, offsets


def test_a_hot_tag_is_learnt_and_its_fixes_stop_re_estimating_it_from_scratch():
    gateways, windows, spots, offsets = _hot_tags()
    learnt = estimate_windows_learning(gateways, windows)
    alone = estimate_windows(gateways, windows)
    late = windows.fix_ts > windows.fix_ts.min() + 60.0
    for k in (0, 1):
        mine = late & (windows.fix_tag == k)
        assert np.median(learnt.tx_offset_db[mine]) == pytest.approx(offsets[k], abs=1.5)
        # each fix's offset, pulled towards what the tag's earlier fixes said (0.53 against 0.64 dB)
        assert np.std(learnt.tx_offset_db[mine]) < 0.9 * np.std(alone.tx_offset_db[mine])
        # and no worse a position (the bench figures are in the module docstring)
        error = [
            np.median(np.hypot(f.x[mine] - spots[k, 0], f.y[mine] - spots[k, 1])) for f in (learnt, alone)
        ]
        assert error[0] < error[1] + 0.05


def test_the_prior_narrows_to_its_floor_and_learns_only_from_earlier_steps():
    config = TxOffsetConfig(floor_sigma_db=3.0, step_s=5.0)
    learnt = LearntOffsets.empty(1)
    tag = np.array([0])
    prior, sigma = offset_prior(learnt, tag, 0.0, 10.0, config)
    assert prior[0] == 0.0 and sigma[0] == pytest.approx(np.hypot(3.0, 10.0))
    learn_offsets(learnt, np.zeros(20, np.int64), 0.0, np.full(20, 8.0))
    assert offset_prior(learnt, tag, 0.0, 10.0, config)[0][0] == 0.0  # its own step: not yet
    prior, sigma = offset_prior(learnt, tag, 1.0, 10.0, config)
    assert prior[0] == pytest.approx(8.0) and sigma[0] == pytest.approx(np.sqrt(3.0**2 + 10.0**2 / 21))
