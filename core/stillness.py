"""Stillness in signal space: has a parked tag's radio picture changed since it was parked?

Why: under static, spatially correlated shadowing (real buildings) the position solve of a parked tag can have
two minima metres apart, and its fixes hop between them in runs of seconds. In position space that looks like
motion: the tracker releases the tag and the zone engine sees it leave and re-enter a room. In signal space
nothing moved: every gateway hears the tag at the same mean RSSI as before, only the fast fading differs.

So each parked tag keeps a reference — its mean RSSI per gateway over the windows since it was parked — and
scores every window against it: the mean χ² per gateway heard by both, with the fading learnt from the windows'
own RSSI spread. A running mean of that score (a single window misses by chance ~1 time in 5) below `hold_chi2`
holds the tag parked whatever its fix says. A tag that really walks off changes the RSSI of the gateways near
it by several dB within a few metres; its score climbs past the threshold and the position tests release it
as before.

On bench/zones.py's floor a signal test with a 10 s reference calls 99.7 % of a truly parked tag's fixes still
under the correlated radio, where the tracker's position tests pin 93 %.

Arrays only, N tags × R reference slots (a slot per gateway, by a key the caller chooses: a row index in one
offline batch, a hash of the gateway id in the realtime loop, whose catalog rows move when gateways are added),
so the realtime loop keeps the reference with its track state and the offline tracker with its batch.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

EMPTY = -1  # a free reference slot's gateway key


def gateway_keys(gateway_ids: Iterable[str]) -> np.ndarray:
    """A stable integer key per gateway id (CRC-32: exact in the float64 state the realtime loop stores; two of
    the 16 gateways of one window sharing a key is a one-in-thirty-million chance)."""
    return np.array([zlib.crc32(str(g).encode()) for g in gateway_ids], dtype=np.int64)


@dataclass(frozen=True, slots=True)
class StillnessConfig:
    hold_chi2: float = 1.5  # running mean of the mean χ² per gateway below which a parked tag is held
    smoothing: float = 0.5  # per window: the running mean's weight for the newest score
    min_gateways: int = 3  # a window matching fewer of the reference's gateways says too little to hold a tag
    slots: int = 8  # gateways remembered per tag: the strongest of its windows' (which keep up to 16)
    # Overlapping windows repeat samples: a summary's samples count this much less in the reference (a 3 s window
    # every 0.5 s holds each sample 6 times).
    overlap: float = 6.0
    # The fading estimate pools the windows' within-window variance over up to this many degrees of freedom,
    # then forgets the oldest (a running mean over ~50 windows of 6 gateways × 3 samples).
    fading_memory_dof: float = 600.0
    default_fading_db: float = 4.0  # until a tag's windows have shown their own


@dataclass(frozen=True, slots=True, eq=False)
class SignalReference:
    """N tags' references. Rows of a tag that is not parked are empty (its fading estimate is kept)."""

    gateway: np.ndarray  # (N, R) int gateway key, EMPTY = free slot
    total: np.ndarray  # (N, R) Σ weight·RSSI
    weight: np.ndarray  # (N, R) Σ weight (effective samples)
    fading_var: np.ndarray  # (N,) dB², running mean of the windows' RSSI variance; NaN = not seen yet
    fading_dof: np.ndarray  # (N,) degrees of freedom behind it (capped at StillnessConfig.fading_memory_dof)
    score: np.ndarray  # (N,) running mean of the windows' mean χ² against the reference; NaN = none yet

    @classmethod
    def empty(cls, n: int, slots: int) -> SignalReference:
        return cls(
            np.full((n, slots), EMPTY, np.int64),
            np.zeros((n, slots)),
            np.zeros((n, slots)),
            np.full(n, np.nan),
            np.zeros(n),
            np.full(n, np.nan),
        )

    def take(self, rows: np.ndarray) -> SignalReference:
        return SignalReference(*(getattr(self, name)[rows] for name in self.__slots__))  # type: ignore[attr-defined]

    def put(self, rows: np.ndarray, part: SignalReference) -> None:
        for name in self.__slots__:  # type: ignore[attr-defined]
            getattr(self, name)[rows] = getattr(part, name)


@dataclass(frozen=True, slots=True, eq=False)
class SignalWindows:
    """N windows as the tracker gets them: (N, K) gateway keys (EMPTY = none), summary RSSI, samples behind
    each summary, and their RSSI variance (NaN: fewer than 2 samples)."""

    gateway: np.ndarray
    rssi: np.ndarray
    count: np.ndarray
    rssi_var: np.ndarray

    def take(self, rows: np.ndarray) -> SignalWindows:
        return SignalWindows(self.gateway[rows], self.rssi[rows], self.count[rows], self.rssi_var[rows])


def judge(
    reference: SignalReference, windows: SignalWindows, config: StillnessConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(hold, score): the running mean of the windows' scores against the references, this window included,
    and whether it holds the tag (the window itself matched at least `min_gateways` of the reference)."""
    same = _match(reference, windows.gateway)
    weight = (same * reference.weight[:, None, :]).sum(axis=2)
    ref_mean = (same * reference.total[:, None, :]).sum(axis=2) / np.maximum(weight, 1e-9)
    fading = np.where(np.isfinite(reference.fading_var), reference.fading_var, config.default_fading_db**2)
    matched = (weight > 0) & np.isfinite(windows.rssi)
    var = fading[:, None] * (1.0 / np.maximum(windows.count, 1) + 1.0 / np.maximum(weight, 1e-9))
    chi2 = np.where(matched, (np.nan_to_num(windows.rssi) - ref_mean) ** 2 / var, 0.0).sum(axis=1)
    n = matched.sum(axis=1)
    scored = n >= config.min_gateways
    now = chi2 / np.maximum(n, 1)
    before = reference.score
    score = np.where(
        scored,
        np.where(np.isfinite(before), before + config.smoothing * (now - before), now),
        before,
    )
    return scored & (score < config.hold_chi2), score


def update(
    reference: SignalReference,
    parked: np.ndarray,
    windows: SignalWindows,
    score: np.ndarray,
    config: StillnessConfig,
) -> SignalReference:
    """Fold the windows of parked tags (and their new `score` from `judge`) into their references; a tag that is
    not parked forgets its reference. The fading estimate is kept either way (it is the radio's, not the
    position's), but learnt only from parked tags: a moving tag's window also holds the change of position."""
    gateway, rssi, count = windows.gateway, windows.rssi, windows.count
    fading, fading_dof = reference.fading_var, reference.fading_dof
    pooled, dof = _pooled_variance(windows.rssi_var, count)
    seen = np.isfinite(pooled) & parked
    total_dof = np.minimum(fading_dof + dof, config.fading_memory_dof)
    share = np.where(seen, dof / np.maximum(total_dof, 1.0), 0.0)
    fading = np.where(seen & ~np.isfinite(fading), pooled, fading)
    fading = np.where(seen, fading + share * (np.nan_to_num(pooled) - fading), fading)
    fading_dof = np.where(seen, total_dof, fading_dof)
    real = (gateway != EMPTY) & np.isfinite(rssi)
    w = np.where(real, np.maximum(count, 1) / config.overlap, 0.0)
    wr = w * np.nan_to_num(rssi)
    same = _match(reference, gateway) & real[:, :, None]
    # New gateways take the free slots in order: the i-th unmatched column goes to the i-th free slot.
    new = real & ~same.any(axis=2)
    free = reference.gateway == EMPTY
    new_rank = np.where(new, np.cumsum(new, axis=1) - 1, -1)
    free_rank = np.where(free, np.cumsum(free, axis=1) - 1, -2)
    put = (new_rank[:, :, None] >= 0) & (new_rank[:, :, None] == free_rank[:, None, :])  # (N, K, R)
    into = same | put
    slots = np.where(put.any(axis=1), (put * gateway[:, :, None]).sum(axis=1), reference.gateway)
    total = reference.total + (into * wr[:, :, None]).sum(axis=1)
    weight = reference.weight + (into * w[:, :, None]).sum(axis=1)
    keep = parked[:, None]
    return SignalReference(
        np.where(keep, slots, EMPTY),
        np.where(keep, total, 0.0),
        np.where(keep, weight, 0.0),
        fading,
        fading_dof,
        np.where(parked, score, np.nan),
    )


def _match(reference: SignalReference, gateway: np.ndarray) -> np.ndarray:
    """(N, K, R) True where window column k and reference slot r are the same gateway."""
    return (gateway[:, :, None] != EMPTY) & (gateway[:, :, None] == reference.gateway[:, None, :])


def _pooled_variance(rssi_var: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,) the windows' RSSI variance pooled over their gateways (degrees of freedom as weights), and the
    degrees of freedom."""
    dof = np.where(np.isfinite(rssi_var), np.maximum(count - 1, 0), 0)
    total = np.where(dof > 0, np.nan_to_num(rssi_var) * dof, 0.0).sum(axis=1)
    n = dof.sum(axis=1)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan), n
