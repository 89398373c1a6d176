"""Per-tag tracking: a constant-velocity Kalman filter, batched over many tags, with jump rejection and
stationary stickiness.

Why each piece exists:
- *Constant velocity* with white-noise acceleration: assets are pushed, carried or driven; between fixes the
  best guess is "keeps going", and the filter's process noise says how much that guess degrades per second.
- *Uncertainty grows while a tag is not heard*: prediction over the gap inflates the covariance, so a stale
  position reports a larger `accuracy_m` instead of false confidence (`track_predict`).
- *Jump rejection*: a fix whose innovation is implausible under the predicted covariance (Mahalanobis gate) is
  ignored — a multipath burst must not teleport an asset. Several rejected fixes in a row mean the tag really
  moved (or was carried off), so the track re-starts at the new fixes.
- *Two hypotheses, parked and walking*: a tag is either parked (its true position fixed) or walking (constant
  velocity). The walking hypothesis is the Kalman filter above, always updated and never pinned. The parked
  hypothesis is an *anchor*: the running mean of the fixes since the tag looked still (slow, consistent
  fixes for `still_after_s`), forgetting beyond `anchor_memory_s` so a creeping tag is still followed. A parked
  tag is reported at its anchor, so fix noise — correlated over seconds under real shadowing, where a free
  filter wanders metres at walking speed — averages out instead of making the dot wander across zone borders.
  It is released (the walking filter reported again) when the filter is `release_sigma` fix σ away from the
  anchor *and* heading away at walking pace: a walk does both, noise that wanders out and back rarely does.
  Before the release the dot leans toward the filter (from half that distance on), so a walker's dot sets off
  without a jump — a jump would read as a burst of speed to the speed-aware zone membership.

State is small and serialisable (no fields beyond the ones the realtime loop stores): `still_s` is how long the
tag has looked still (parked at `still_after_s`), and the `drift` slot holds the anchor, as an offset from the
filter's position (states written before the anchor existed hold a small innovation mean there: their anchor
starts next to the filter). `TrackState` (msgspec, array-like) per tag for Redis, and `TrackBatch`
(numpy columns) for updating thousands of tags per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
import numpy as np

# 68 % radius of a 2-D Gaussian per sqrt(trace of its position covariance) (circular approximation).
R68_PER_SQRT_TRACE = float(np.sqrt(-np.log(0.32)))
# Upper-triangle indices of the 4×4 covariance: the serialised form keeps 10 numbers, not 16.
_TRIU = np.triu_indices(4)


class TrackState(msgspec.Struct, frozen=True, array_like=True):
    """One tag's filter state: position (m), velocity (m/s), covariance (upper triangle of 4×4), bookkeeping."""

    ts: float
    x: float
    y: float
    vx: float
    vy: float
    cov: tuple[float, ...]  # 10 values, row-major upper triangle of the (x, y, vx, vy) covariance
    floor: int = 0
    still_s: float = 0.0  # how long the tag has looked stationary
    rejected: int = 0  # consecutive fixes rejected as jumps
    bias_m: float = (
        0.0  # error that averaging cannot remove (a parked tag's multipath bias), from recent fixes
    )
    # the anchor (the parked hypothesis: mean of the fixes since the tag looked still) minus (x, y), in m; the
    # slot once held a running mean of innovations, so older states decode to an anchor next to the filter
    drift_x: float = 0.0
    drift_y: float = 0.0


@dataclass(frozen=True, slots=True)
class TrackingConfig:
    accel_sigma_mps2: float = 0.5  # white-noise acceleration: walking pace changes of ~0.5 m/s per second
    initial_speed_sigma_mps: float = 1.0
    gate_chi2: float = 13.8  # 99.9 % for 2 degrees of freedom
    max_speed_mps: float = 15.0  # faster than a forklift: physically implausible indoors
    reacquire_after: int = 3  # this many rejected fixes in a row restart the track
    still_speed_mps: float = 0.15
    max_still_speed_mps: float = 0.5  # an insignificant velocity above this still counts as motion
    still_after_s: float = 4.0
    # Fixes from overlapping windows and slowly varying shadowing are not independent: a fix carries about
    # dt / fix_correlation_s of a fresh fix's information.
    fix_correlation_s: float = 2.0
    # Share of a fix's accuracy that is systematic (location-dependent multipath) and never averages out.
    systematic_share: float = 0.6
    # A parked tag is reported at its anchor, the mean of its fixes since it looked still, over at most this long
    # (so a slowly creeping tag is still followed).
    anchor_memory_s: float = 30.0
    release_chi2: float = 13.8  # 99.9 %: a fix this far from the track breaks a still streak
    release_sigma: float = 3.0  # a parked tag is released when the walking filter is this many fix σ away...
    release_speed_mps: float = 0.5  # ...heading away from the anchor at least this fast
    still_velocity_chi2: float = 6.0  # 95 %: a velocity the filter cannot tell from zero


@dataclass(frozen=True, slots=True, eq=False)
class TrackBatch:
    """Columns of N track states. `active` False = no state yet (the next fix starts the track)."""

    active: np.ndarray  # (N,) bool
    ts: np.ndarray
    state: np.ndarray  # (N, 4) x, y, vx, vy
    cov: np.ndarray  # (N, 4, 4)
    floor: np.ndarray  # (N,) int
    still_s: np.ndarray
    rejected: np.ndarray  # (N,) int
    bias_m: np.ndarray  # (N,)
    drift: np.ndarray  # (N, 2) anchor minus state[:, :2] (see the module docstring)

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def empty(cls, n: int) -> TrackBatch:
        return cls(
            np.zeros(n, bool),
            np.zeros(n),
            np.zeros((n, 4)),
            np.tile(np.eye(4), (n, 1, 1)),
            np.zeros(n, np.int64),
            np.zeros(n),
            np.zeros(n, np.int64),
            np.zeros(n),
            np.zeros((n, 2)),
        )

    @classmethod
    def from_states(cls, states: Sequence[TrackState | None]) -> TrackBatch:
        batch = cls.empty(len(states))
        for i, s in enumerate(states):
            if s is None:
                continue
            batch.active[i] = True
            batch.ts[i], batch.state[i] = s.ts, (s.x, s.y, s.vx, s.vy)
            upper = np.zeros((4, 4))
            upper[_TRIU] = s.cov
            batch.cov[i] = upper + np.triu(upper, 1).T
            batch.floor[i], batch.still_s[i], batch.rejected[i] = s.floor, s.still_s, s.rejected
            batch.bias_m[i] = s.bias_m
            batch.drift[i] = (s.drift_x, s.drift_y)
        return batch

    def to_states(self) -> list[TrackState | None]:
        upper = self.cov[:, _TRIU[0], _TRIU[1]]
        return [
            TrackState(
                float(self.ts[i]),
                float(self.state[i, 0]),
                float(self.state[i, 1]),
                float(self.state[i, 2]),
                float(self.state[i, 3]),
                tuple(map(float, upper[i])),
                int(self.floor[i]),
                float(self.still_s[i]),
                int(self.rejected[i]),
                float(self.bias_m[i]),
                float(self.drift[i, 0]),
                float(self.drift[i, 1]),
            )
            if self.active[i]
            else None
            for i in range(len(self))
        ]

    @property
    def accuracy_m(self) -> np.ndarray:
        """68 % radius: the filter's own uncertainty plus the systematic part no amount of averaging removes."""
        return np.hypot(R68_PER_SQRT_TRACE * np.sqrt(self.cov[:, 0, 0] + self.cov[:, 1, 1]), self.bias_m)


@dataclass(frozen=True, slots=True, eq=False)
class TrackOutput:
    x: np.ndarray
    y: np.ndarray
    accuracy_m: np.ndarray
    accepted: np.ndarray  # the fix was used (False = rejected as a jump)
    stationary: np.ndarray


def _process_noise(dt: np.ndarray, accel_sigma: np.ndarray) -> np.ndarray:
    q = accel_sigma**2
    q11, q12, q22 = q * dt**3 / 3.0, q * dt**2 / 2.0, q * dt
    out = np.zeros((len(dt), 4, 4))
    out[:, 0, 0] = out[:, 1, 1] = q11
    out[:, 0, 2] = out[:, 2, 0] = out[:, 1, 3] = out[:, 3, 1] = q12
    out[:, 2, 2] = out[:, 3, 3] = q22
    return out


def track_predict(
    batch: TrackBatch, ts: np.ndarray | float, config: TrackingConfig | None = None
) -> TrackBatch:
    """Move every track to time `ts` without a fix: position follows velocity, covariance grows."""
    config = config or TrackingConfig()
    ts = np.broadcast_to(np.asarray(ts, dtype=float), batch.ts.shape)
    dt = np.where(batch.active, np.maximum(ts - batch.ts, 0.0), 0.0)
    transition = np.tile(np.eye(4), (len(dt), 1, 1))
    transition[:, 0, 2] = transition[:, 1, 3] = dt
    state = np.einsum("nij,nj->ni", transition, batch.state)
    cov = transition @ batch.cov @ transition.transpose(0, 2, 1) + _process_noise(
        dt, np.full(len(dt), config.accel_sigma_mps2)
    )
    return TrackBatch(
        batch.active,
        np.where(batch.active, ts, batch.ts),
        state,
        cov,
        batch.floor,
        batch.still_s,
        batch.rejected,
        batch.bias_m,
        batch.drift - (state[:, :2] - batch.state[:, :2]),  # the anchor stays where it is
    )


def track_update(
    batch: TrackBatch,
    fix_x: np.ndarray,
    fix_y: np.ndarray,
    fix_accuracy_m: np.ndarray,
    ts: np.ndarray | float,
    *,
    fix_floor: np.ndarray | None = None,
    config: TrackingConfig | None = None,
) -> tuple[TrackBatch, TrackOutput]:
    """Fold one fix per track (row i of the fixes belongs to track i) into the batch at time `ts`.

    A NaN fix means "not heard": the track is only predicted. Returns the new batch and the smoothed output.
    """
    config = config or TrackingConfig()
    n = len(batch)
    fix_x, fix_y = np.asarray(fix_x, float), np.asarray(fix_y, float)
    r_sigma = np.asarray(fix_accuracy_m, float) / R68_PER_SQRT_TRACE / np.sqrt(2.0)  # per-axis σ of the fix
    ts_arr = np.broadcast_to(np.asarray(ts, dtype=float), (n,))
    floor = batch.floor if fix_floor is None else np.asarray(fix_floor, np.int64)
    has_fix = np.isfinite(fix_x) & np.isfinite(fix_y) & np.isfinite(r_sigma)
    dt = np.maximum(ts_arr - batch.ts, 0.0)
    was_parked = batch.still_s >= config.still_after_s

    pred = track_predict(batch, ts_arr, config)
    state, cov = pred.state.copy(), pred.cov.copy()
    anchor = state[:, :2] + pred.drift  # absolute anchor position (see `TrackBatch`)
    innovation = np.stack([fix_x - state[:, 0], fix_y - state[:, 1]], axis=1)
    s = cov[:, :2, :2] + (r_sigma**2)[:, None, None] * np.eye(2)
    s = np.where(has_fix[:, None, None], s, np.eye(2))
    innovation0 = np.nan_to_num(innovation)
    d2 = np.einsum("ni,nij,nj->n", innovation0, np.linalg.inv(s), innovation0)
    jump_speed = np.hypot(*innovation0.T) / np.maximum(dt, 1e-3)
    implausible = (d2 > config.gate_chi2) & (jump_speed > config.max_speed_mps)
    implausible |= d2 > config.gate_chi2 * 4  # far outside any plausible motion, whatever the time gap
    rejected_now = batch.active & has_fix & implausible & (batch.rejected + 1 < config.reacquire_after)
    restart = has_fix & (~batch.active | (floor != batch.floor) | (implausible & ~rejected_now))
    update = has_fix & ~rejected_now & ~restart

    # The walking hypothesis: a constant-velocity Kalman update, the fix's noise inflated for its correlation
    # with the previous fixes (the gate above uses the fix's own noise).
    inflation = np.maximum(1.0, config.fix_correlation_s / np.maximum(dt, 1e-3))
    s_update = cov[:, :2, :2] + (r_sigma**2 * inflation)[:, None, None] * np.eye(2)
    s_update = np.where(has_fix[:, None, None], s_update, np.eye(2))
    gain = cov[:, :, :2] @ np.linalg.inv(s_update)  # (N, 4, 2)
    new_state = state + np.einsum("nij,nj->ni", gain, innovation0)
    new_cov = cov - gain @ cov[:, :2, :]
    state = np.where(update[:, None], new_state, state)
    cov = np.where(update[:, None, None], new_cov, cov)

    # (Re)start tracks at their fix.
    init_cov = np.zeros((n, 4, 4))
    init_cov[:, 0, 0] = init_cov[:, 1, 1] = r_sigma**2
    init_cov[:, 2, 2] = init_cov[:, 3, 3] = config.initial_speed_sigma_mps**2
    fix = np.stack([fix_x, fix_y], axis=1)
    state = np.where(restart[:, None], np.concatenate([fix, np.zeros((n, 2))], axis=1), state)
    cov = np.where(restart[:, None, None], init_cov, cov)

    # The parked hypothesis: a fixed anchor, the mean of the fixes since the tag looked still (a running mean,
    # forgetting beyond `anchor_memory_s` so a slowly creeping tag is followed).
    still_before = np.where(restart, 0.0, batch.still_s)
    weight = np.maximum(dt / np.maximum(still_before + dt, 1e-9), dt / config.anchor_memory_s)
    weight = np.where(still_before > 0, np.minimum(weight, 1.0), 1.0)
    anchor = np.where(update[:, None], anchor + weight[:, None] * (np.nan_to_num(fix) - anchor), anchor)
    anchor = np.where(restart[:, None], fix, anchor)

    # Still (accumulate still time) = a velocity that is slow or that the filter cannot tell from zero, and a
    # fix that agrees with the track.
    speed = np.hypot(state[:, 2], state[:, 3])
    v_cov = cov[:, 2:, 2:] + 1e-9 * np.eye(2)
    v_d2 = np.einsum("ni,nij,nj->n", state[:, 2:], np.linalg.inv(v_cov), state[:, 2:])
    slow = (speed < config.still_speed_mps) | (
        (v_d2 < config.still_velocity_chi2) & (speed < config.max_still_speed_mps)
    )
    # Release of a parked tag: the walking filter has moved away from the anchor by more than its wander under
    # fix noise allows (`release_sigma` fix σ), heading away at walking pace — noise that wanders out and comes
    # back rarely does both.
    away = state[:, :2] - anchor
    away_m = np.hypot(away[:, 0], away[:, 1])
    outward = np.einsum("ni,ni->n", state[:, 2:], away) / np.maximum(away_m, 1e-9)
    far = away_m > config.release_sigma * r_sigma
    moved = far & (outward > config.release_speed_mps)
    # While still time accumulates (not parked yet) the walking filter must also stay near the fixes' mean: a
    # walker whose filter velocity dips for a moment is not parked.
    gathering = ~far
    still_now = np.where(was_parked, ~moved, slow & (d2 <= config.release_chi2) & gathering)
    # No fix, or one rejected as a jump: neither evidence of motion nor of rest.
    still_s = np.where(update, np.where(still_now, still_before + dt, 0.0), still_before)
    parked = still_s >= config.still_after_s
    # When a parked tag is released the walking filter takes over: its velocity variance opened so it catches up.
    released = was_parked & has_fix & ~parked & ~restart
    cov[released, 2, 2] = np.maximum(cov[released, 2, 2], config.initial_speed_sigma_mps**2 / 4)
    cov[released, 3, 3] = np.maximum(cov[released, 3, 3], config.initial_speed_sigma_mps**2 / 4)
    anchor = np.where(still_s[:, None] > 0, anchor, state[:, :2])

    rejected = np.where(rejected_now, batch.rejected + 1, np.where(has_fix, 0, batch.rejected))
    systematic = config.systematic_share * np.nan_to_num(np.asarray(fix_accuracy_m, float))
    bias = np.where(
        restart, systematic, np.where(update, 0.9 * batch.bias_m + 0.1 * systematic, batch.bias_m)
    )
    new_batch = TrackBatch(
        batch.active | has_fix,
        np.where(batch.active | has_fix, ts_arr, batch.ts),
        state,
        cov,
        np.where(restart, floor, batch.floor),
        still_s,
        rejected,
        bias,
        anchor - state[:, :2],
    )
    # A parked tag's dot leans toward the walking filter as that moves away (from half the release distance on),
    # so a release is no jump: a walker's dot sets off smoothly, noise that wanders out and back barely shows.
    lean = np.clip((away_m / np.maximum(r_sigma, 1e-9)) / config.release_sigma * 2 - 1, 0.0, 1.0)
    lean = np.where(has_fix, lean, 0.0)
    out_xy = np.where(parked[:, None], anchor + (lean**2)[:, None] * (state[:, :2] - anchor), state[:, :2])
    return new_batch, TrackOutput(
        out_xy[:, 0].copy(), out_xy[:, 1].copy(), new_batch.accuracy_m, update | restart, parked
    )


def track_series(
    tag: np.ndarray,
    ts: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    accuracy_m: np.ndarray,
    config: TrackingConfig | None = None,
) -> TrackOutput:
    """Smooth time-ordered fixes of many tags offline (the CLI and benchmarks): one batched update per time step."""
    tag = np.asarray(tag)
    ts = np.asarray(ts, dtype=float)
    tags, code = np.unique(tag, return_inverse=True)
    batch = TrackBatch.empty(len(tags))
    out_x, out_y, out_acc = np.full(len(ts), np.nan), np.full(len(ts), np.nan), np.full(len(ts), np.nan)
    accepted, stationary = np.zeros(len(ts), bool), np.zeros(len(ts), bool)
    times, step = np.unique(ts, return_inverse=True)
    order = np.argsort(step, kind="stable")
    bounds = np.searchsorted(step[order], np.arange(len(times) + 1))
    for k, t in enumerate(times):  # one vectorised update per distinct time, over all tags heard then
        rows = order[bounds[k] : bounds[k + 1]]
        fx, fy, fa = (np.full(len(tags), np.nan) for _ in range(3))
        fx[code[rows]], fy[code[rows]], fa[code[rows]] = x[rows], y[rows], accuracy_m[rows]
        heard = np.isfinite(fx)
        batch, out = track_update(batch, fx, fy, fa, np.where(heard, t, batch.ts), config=config)
        out_x[rows], out_y[rows], out_acc[rows] = (
            out.x[code[rows]],
            out.y[code[rows]],
            out.accuracy_m[code[rows]],
        )
        accepted[rows], stationary[rows] = out.accepted[code[rows]], out.stationary[code[rows]]
    return TrackOutput(out_x, out_y, out_acc, accepted, stationary)
