"""Each tag's transmit offset, learnt from its own fixes and fed back as the prior of its next ones.

Tags rarely transmit at the power the path-loss defaults assume (the Kolakowski robot's tag is ~12 dB hotter), so
every zero-config solve estimates the offset `b` with its position, under a wide prior (10 dB). But a tag's offset
is the tag's: its radio, battery and antenna, and the asset it is fixed to. It barely changes from one window to
the next, so re-estimating it from scratch in every window spends information the position needs. Here each
tag keeps the running mean of its fixes' offsets (an exponential mean once past `memory_fixes`, so a tag moved
to another asset is relearnt within minutes), and its next fixes get a prior around that mean whose spread
narrows from the wide one to `floor_sigma_db` as fixes accumulate — never tighter: orientation and the body or
pallet next to a tag move its offset by a few dB.

`bench/zones.py`, simulator radio, seeds 1–6: walking tags' wrong-zone share summed 31.51 -> 30.42 points, parked
spurious events 25 -> 21 (the harsher radio: walking 93.9 -> 92.4 points, parked spurious 366 -> 417 events).
`bench/accuracy.py`, real robot: with the tracker 1.54 / 3.52 m -> 1.43 / 3.06 m (median / p90); its fixes alone
1.65 / 3.49 m -> 1.75 / 3.12 m.

Each fix learns only from the tag's fixes of earlier `step_s` steps of fix time, so the fixes do not depend on
how a stream was cut into batches. The realtime locator keeps the learnt offset in each tag's state
(`LearntOffsets`); both it and the offline `estimate_windows_learning` run `estimate_learning`, so they give the
same fixes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from core.positioning.estimator import EstimatorConfig, Fixes, estimate_batch

if TYPE_CHECKING:
    from core.positioning.gateways import GatewayTable
    from core.positioning.windows import Windows


@dataclass(frozen=True, slots=True)
class TxOffsetConfig:
    floor_sigma_db: float = 3.0  # the learnt prior's spread never falls below this
    # a running mean over this many fixes, then an exponential one (~5 min at 2 fixes/s)
    memory_fixes: float = 600.0
    # Fixes learn from the tag's fixes of earlier steps of fix time, never of their own step: how a stream is cut
    # into batches then changes no fix (a replay reproduces history), and the offline path gives the same fixes.
    step_s: float = 5.0


@dataclass(frozen=True, slots=True)
class LearntOffsets:
    """Per-tag columns (views into the caller's state are fine: updated in place): the learnt mean offset (dB) and
    the fixes behind it, and the current step's fixes not yet folded in (their sum, count and step)."""

    mean: np.ndarray
    count: np.ndarray
    pending_sum: np.ndarray
    pending_count: np.ndarray
    pending_step: np.ndarray

    @classmethod
    def empty(cls, n: int) -> LearntOffsets:
        return cls(np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), np.full(n, -np.inf))


def offset_prior(
    learnt: LearntOffsets, tag: np.ndarray, step: float, unknown_sigma_db: float, config: TxOffsetConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(prior offset, its spread) for fixes of `tag` (row indices) in `step`: the mean learnt from earlier steps,
    with a spread that narrows from `unknown_sigma_db` (no fix yet) towards `floor_sigma_db`."""
    tags = np.unique(tag)
    due = tags[(learnt.pending_count[tags] > 0) & (learnt.pending_step[tags] < step)]
    if due.size:  # the tags' earlier steps are complete: fold them in
        k = learnt.pending_count[due]
        total = learnt.count[due] + k
        weight = np.minimum(k / np.minimum(total, config.memory_fixes), 1.0)
        learnt.mean[due] += weight * (learnt.pending_sum[due] / k - learnt.mean[due])
        learnt.count[due] = total
        learnt.pending_sum[due] = 0.0
        learnt.pending_count[due] = 0.0
    sigma = np.sqrt(config.floor_sigma_db**2 + unknown_sigma_db**2 / (1.0 + learnt.count[tag]))
    return learnt.mean[tag].copy(), sigma


def learn_offsets(learnt: LearntOffsets, tag: np.ndarray, step: float, offset_db: np.ndarray) -> None:
    """Keep the estimated offsets of fixes of `tag` in `step` (NaN: none) until that step is complete."""
    ok = np.isfinite(offset_db)
    np.add.at(learnt.pending_sum, tag[ok], offset_db[ok])
    np.add.at(learnt.pending_count, tag[ok], 1.0)
    learnt.pending_step[tag] = np.maximum(learnt.pending_step[tag], step)


def fix_steps(fix_ts: np.ndarray, config: TxOffsetConfig) -> list[tuple[float, np.ndarray]]:
    """The fixes (row indices) of each step of fix time, in time order."""
    step = np.floor(np.asarray(fix_ts, dtype=float) / config.step_s)
    order = np.argsort(step, kind="stable")
    cuts = np.flatnonzero(np.diff(step[order])) + 1
    return [(float(step[rows[0]]), rows) for rows in np.split(order, cuts) if rows.size]


def estimate_learning(
    gateways: GatewayTable,
    gateway_index: np.ndarray,
    rssi_dbm: np.ndarray,
    sample_count: np.ndarray,
    fix_ts: np.ndarray,
    tag: np.ndarray,
    learnt: LearntOffsets,
    *,
    learning: TxOffsetConfig | None = None,
    config: EstimatorConfig | None = None,
    **kwargs: Any,
) -> Fixes:
    """`estimate_batch` on F fixes, step by step of fix time: each fix's offset prior is what its tag (`tag`, rows
    of `learnt`) learnt from earlier steps, and its estimate is learnt in turn. The realtime locator and
    `estimate_windows_learning` both run this, so they give the same fixes."""
    learning = learning or TxOffsetConfig()
    config = config or EstimatorConfig()
    parts: dict[str, np.ndarray] = {}
    for current, rows in fix_steps(fix_ts, learning):
        prior, sigma = offset_prior(learnt, tag[rows], current, config.tx_offset_sigma_db, learning)
        fixes = estimate_batch(
            gateways,
            gateway_index[rows],
            rssi_dbm[rows],
            sample_count=sample_count[rows],
            tx_offset_db=prior,
            tx_offset_sigma_db=sigma,
            config=config,
            **kwargs,
        )
        learn_offsets(learnt, tag[rows], current, fixes.tx_offset_db)
        for name in Fixes.__slots__:  # type: ignore[attr-defined]
            column = getattr(fixes, name)
            if name not in parts:
                parts[name] = np.zeros(len(fix_ts), dtype=column.dtype)
            parts[name][rows] = column
    if not parts:
        return estimate_batch(gateways, gateway_index, rssi_dbm, config=config, **kwargs)
    return Fixes(**parts)


def estimate_windows_learning(
    gateways: GatewayTable,
    windows: Windows,
    *,
    learning: TxOffsetConfig | None = None,
    config: EstimatorConfig | None = None,
    **kwargs: Any,
) -> Fixes:
    """`estimate_windows` with each tag's offset learnt from its earlier fixes, as the realtime loop does."""
    return estimate_learning(
        gateways,
        windows.gateway,
        windows.rssi_dbm,
        windows.sample_count,
        windows.fix_ts,
        windows.fix_tag,
        LearntOffsets.empty(len(windows.tag_ids)),
        learning=learning,
        config=config,
        **kwargs,
    )
