"""Per-tag tracking: a constant-velocity Kalman filter, batched over many tags, with jump rejection and
stationary stickiness.

Why each piece exists:
- *Constant velocity* with white-noise acceleration: assets are pushed, carried or driven; between fixes the
  best guess is "keeps going", and the filter's process noise says how much that guess degrades per second.
- *Uncertainty grows while a tag is not heard*: prediction over the gap inflates the covariance, so a stale
  position reports a larger `accuracy_m` instead of false confidence (`track_predict`).
- *Jump rejection*: a fix whose innovation is implausible under the predicted covariance (Mahalanobis gate) is
  ignored — a multipath burst must not teleport an asset. Several rejected fixes in a row mean the tag really
  moved (or was carried off), so the track re-starts at the new fixes; a parked tag's, once they have lasted as
  long as walking there would take (*Hops* below).
- *Stationary stickiness*: after a tag has looked still for `still_after_s`, its velocity is pinned to zero and
  process noise nearly off, so the noise of successive fixes averages out instead of making the dot wander
  (and flap across zone borders). One clearly-outside fix releases it.
- *Pin memory*: most releases of a parked tag are false (a multipath burst, a drift of the noise), and a
  released tag wanders before it is pinned again, often on the wrong side of a wall. So the tracker remembers
  where it held the tag (`pin`, `pin_ts`) for `pin_memory_s` after a release, with the mean of the fixes since:
  when that mean is back near the pin and the tag looks still for `pin_return_after_s`, it goes back to its
  old pin (averaged over many fixes) at once. That makes a false release cheap, so a release can start the
  tag moving at (part of) the speed its drift shows (`release_speed_s`) instead of from rest: a tag that
  really walks off is followed sooner. A tag returned to a pin it had held for a minute or more
  (`pin_return_held_s`) gets that pin's variance back too: its track had followed the burst and its covariance
  grew as a moving tag's, so the returned pin was otherwise pulled metres by the burst's next fixes (bench/zones.py
  seed 1: a tag parked 0.4 m from a wall slid 2 m into the next room within 2 s of its return and was shown
  there for six minutes). After shorter holds it cost walkers (the zones bench's walkers pause 20-60 s; see the
  config): a pin taken just after a walk is probably still settling, and its release then a correction, not a
  burst, which the pin's variance would hold back.
- *Learnt fix noise*: under static, spatially correlated shadowing the position solve of a tag can have two
  minima metres apart and its fixes hop between them in runs of a few seconds while claiming their usual
  accuracy; a filter that trusts that accuracy releases the parked tag on each hop and walks it back and forth
  (bench/zones.py correlated radio: a tag 0.8 m from a wall pinned 5 % of the time, 375 zone events in 30 min).
  So each tag keeps a slow running mean of its squared innovations per claimed fix variance and counts its
  fixes that much noisier (`noise_adapt_s`); calibrated fixes keep a ratio near 1. Such a tag's hops come in
  runs, so the running mean of its innovations (the drift that releases a parked tag) wanders farther than the
  ratio alone allows: its release threshold grows with the ratio too (`drift_noise_power`).
- *Hops are not moves*: a tag at rest cannot be farther from its pin than it could have walked since the tracker
  last held it there. A parked tag's fix beyond that reach (`hop_speed_mps` times the time since then), plus
  the fix's noise (`hop_sigma`) and room for a drift already under way (`hop_drift_share`), is a hop of the
  solve, as a rejected jump is: it neither moves the pin nor adds to the drift that releases it. A run of such
  fixes that lasts as long as walking there would take is accepted, and a tag that really walks off drifts
  first, which widens its reach. bench/zones.py, correlated radio, parked spurious per tag-hour summed over
  seeds 1-6: 36.6 -> 24.9 (the burst's track had crossed a wall for a few seconds, mostly 3-12 m from the truth).
- *Held by its radio picture*: given the windows behind the fixes (`hold` in `track_update`, `windows` in
  `track_series`), a parked tag whose signal strengths still match those since it stopped is not released by
  its fixes' offset or drift (core/stillness.py): under correlated shadowing its fixes hop, its RSSI does not.
  bench/zones.py, correlated radio, parked spurious per tag-hour summed over seeds 1-6: 111.6 -> 47.4; walking
  wrong share summed 111.1 -> 112.1 points, simulator radio 34.41 -> 34.75.
- *Park at the still mean*: when a tag becomes parked, its position is set to the mean of the fixes since it
  began to look still (`still_after_s` of them), with that mean's variance, not to the filter's position then,
  which is a short exponential average that still carries the walk in (lag, overshoot). After that the parked
  filter is a running mean. The error of a parked tag's position is mostly this settling and plain averaging
  noise, not a bias of the fixes: on bench/zones.py's simulator the fixes of a tag parked for 25 min are
  biased by ~0.17 m rms across the nearest wall (0.3 m median in all directions; the bias grows as the noise
  squared — the solve's curvature — and removing it with 12-30 s windows left a walking tag's parked error
  unchanged), while 10-20 s after a stop the tracked error across the wall was 0.53 m rms against 0.38 m for
  the plain mean of the fixes since the stop.

State is small and serialisable: `TrackState` (msgspec, array-like) per tag for Redis, and `TrackBatch`
(numpy columns) for updating thousands of tags per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec
import numpy as np

from core.stillness import SignalReference, SignalWindows, StillnessConfig, judge, update

if TYPE_CHECKING:
    from core.positioning.windows import Windows

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
    drift_x: float = (
        0.0  # running mean of the innovations (m): a parked tag that is really creeping shows drift
    )
    drift_y: float = 0.0
    # where the track was last held parked, and when (NaN / -inf: never); fields appended, so states stored
    # before they existed decode as "never pinned"
    pin_x: float = float("nan")
    pin_y: float = float("nan")
    pin_ts: float = float("-inf")
    still_mean_x: float = float("nan")  # mean of the fixes since the tag began to look still (NaN: none)
    still_mean_y: float = float("nan")
    noise_ratio: float = 1.0  # see TrackBatch.noise_ratio (appended: older states decode as "as claimed")
    pin_var: float = float("nan")  # see TrackBatch.pin_var (appended: older states decode as "not known")
    pin_since: float = float("nan")


@dataclass(frozen=True, slots=True)
class TrackingConfig:
    accel_sigma_mps2: float = 0.5  # white-noise acceleration: walking pace changes of ~0.5 m/s per second
    still_accel_sigma_mps2: float = 0.02  # once parked, nearly no process noise
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
    # A parked track is released when the running mean of its innovations exceeds this many fix σ: a slow,
    # steady move (a creeping robot, a pallet being nudged) never produces one outlying fix, but it drifts.
    drift_release_sigma: float = 1.5
    drift_smoothing: float = 0.2
    release_chi2: float = 13.8  # 99.9 %: a parked tag leaves stickiness only on a clearly different fix
    still_velocity_chi2: float = 6.0  # 95 %: a velocity the filter cannot tell from zero
    # Pin memory (see the module docstring): how long after a release the old pin is remembered; how long a
    # released tag must look still, with the mean of its fixes since the release within `pin_return_sigma`
    # fix σ of the old pin, to go back to it. Zones figures (bench/zones.py): 10 s / 1.5 s / 1.5 σ.
    pin_memory_s: float = 10.0
    pin_return_after_s: float = 1.5
    pin_return_sigma: float = 1.5
    # On release the velocity starts at the drift seen while parked over this time (0: from rest). The drift
    # is a running mean of innovations with a time constant of ~2.5 s at 2 fixes/s; 3 s follows walks sooner
    # but costs positioning accuracy (bench/accuracy.py sim median +5 %), 6 s keeps it within 1 %.
    release_speed_s: float = 6.0
    # A tag that pin memory returns to a pin it had held at least this long gets the pin's variance back (see the
    # module docstring; inf: off). Zones (bench/zones.py, simulator radio, seeds 1-6): parked spurious per tag-hour
    # 1.9 -> 1.1 summed, parked tags' wrong time 13.49 -> 10.70 points summed (a naive inside test on the tracked
    # positions: 47.8 -> 23.8 events per tag-hour on seed 1, 44.0 -> 17.0 on seed 2), walking wrong share unchanged
    # (28.75 points summed; with walkers pausing 60-180 s, 22.40 -> 22.15). Harsh (correlated) radio: parked
    # spurious 42.7 -> 43.5 summed, walking +0.7 points with the long pauses. At 30 s walking +0.33 points summed
    # (pauses 20-60 s), at 0 +0.68. Returning every tag with a fresh park's variance instead (any held time):
    # the same spurious figure but walking +0.25 points, and at twice that variance the slide came back.
    pin_return_held_s: float = 60.0
    # Park at the mean of the fixes since the tag began to look still (see the module docstring), not at the
    # filter's position then. Zones (bench/zones.py, simulator radio): walking wrong share 6.55/6.66 ->
    # 6.36/6.29 % (seeds 1/2), parked spurious 0.4 -> 0.2 per tag-hour.
    park_at_still_mean: bool = True
    # Learnt fix noise (see the module docstring): the running mean, over this time constant, of a fix's squared
    # innovation per its claimed variance; fixes count that many times noisier (up to max_noise_scale in σ;
    # one fix counts at most max_noise_ratio_per_fix, a real move's restart must not stick). 0: fixes as
    # claimed. Zones (bench/zones.py), correlated radio parked spurious per tag-hour, seeds 1-6, 485.9 -> 195.0
    # (seed 1's worst tag: pinned 5 % -> 62 % of the time); simulator walking wrong sum 34.38 -> 34.42 %,
    # parked spurious and events per change unchanged. 30 s: 168.2 but walking wrong +0.19; 90 s: 186.2, +0.07.
    noise_adapt_s: float = 120.0
    max_noise_scale: float = 3.0
    max_noise_ratio_per_fix: float = 25.0
    # A tag whose fixes are noisier than claimed (learnt ratio > 1) gets them in runs (a hop to the solve's other
    # minimum lasts seconds), so over the drift's ~2.5 s the fixes are not independent and its drift wanders
    # farther than the ratio alone allows: the drift release threshold grows by ratio ** this (0: off).
    # Calibrated tags (ratio <= 1: every tag of the simulator radio) are unaffected. Zones (bench/zones.py),
    # correlated radio, parked spurious per tag-hour, seeds 1-6: 195.0 -> 147.8 (-24 %), walking wrong share
    # unchanged (summed -0.04 points); 0.35: 132.8 but walking +0.7 points summed; 0.5: 109.4 but +2.2 (a tag
    # that walks off while pinned learns a high ratio from its own walk, and is released ever later); 1: walking
    # tags were not released at all (wrong share 17-20 -> 30-34 %).
    drift_noise_power: float = 0.25
    # Hops (see the module docstring; hop_speed_mps 0: off): a parked tag's fix farther from its pin than
    # hop_speed_mps x the time since it was last held there + hop_sigma fix σ (inflated by the learnt noise) +
    # hop_drift_share x its drift is set aside as a rejected jump. Zones (bench/zones.py), seeds 1-6 summed:
    # correlated radio parked spurious per tag-hour 36.6 -> 24.9, walking wrong share 91.57 -> 91.63 points;
    # simulator radio walking 28.74 -> 28.69, parked spurious 1.1 unchanged. Accuracy (bench/accuracy.py):
    # tracked robot unchanged (median 1.43 m), simulator 3.08 / 7.55 -> 3.02 / 7.40 m (median / p90).
    # 1.5 m/s: 21.9, but the robot's tracked median 1.53 m; 2.5 m/s: 31.5; 3 σ: 27.3. No drift share (1.5 m/s,
    # 3 σ): 21.5 but simulator walking +2.05 points (a walker's fixes left the reach before its drift released it).
    hop_speed_mps: float = 2.0
    hop_sigma: float = 2.5
    hop_drift_share: float = 4.0


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
    drift: np.ndarray  # (N, 2) parked: running mean of innovations; released: mean offset of fixes from `pin`
    pin: np.ndarray  # (N, 2) where the track was last held parked (NaN: never)
    pin_ts: np.ndarray  # (N,) when it was last held there (-inf: never)
    # (N, 2) mean of the fixes since the tag began to look still (NaN: none, or its start was not seen, e.g. a
    # state stored before it was kept: the tag then parks at the filter's position)
    still_mean: np.ndarray
    # (N,) per-axis variance of the pin while the tag was held there, and (N,) when it was first held there (NaN:
    # not known: a tag returned to its pin keeps its moving covariance, see TrackingConfig.pin_return_held_s)
    pin_var: np.ndarray
    pin_since: np.ndarray
    # (N,) running mean of the squared innovation per claimed fix variance (see TrackingConfig.noise_adapt_s);
    # None: not kept, fixes are taken as claimed
    noise_ratio: np.ndarray | None = None

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
            np.full((n, 2), np.nan),
            np.full(n, -np.inf),
            np.full((n, 2), np.nan),
            np.full(n, np.nan),
            np.full(n, np.nan),
            np.ones(n),
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
            batch.pin[i], batch.pin_ts[i] = (s.pin_x, s.pin_y), s.pin_ts
            batch.still_mean[i] = (s.still_mean_x, s.still_mean_y)
            if batch.noise_ratio is not None:
                batch.noise_ratio[i] = s.noise_ratio
            batch.pin_var[i], batch.pin_since[i] = s.pin_var, s.pin_since
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
                float(self.pin[i, 0]),
                float(self.pin[i, 1]),
                float(self.pin_ts[i]),
                float(self.still_mean[i, 0]),
                float(self.still_mean[i, 1]),
                1.0 if self.noise_ratio is None else float(self.noise_ratio[i]),
                float(self.pin_var[i]),
                float(self.pin_since[i]),
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
    vx: np.ndarray  # the filter's velocity after the fix (m/s; zero once pinned as stationary)
    vy: np.ndarray
    # the learnt fix noise after the fix (TrackBatch.noise_ratio; None: the batch does not keep it)
    noise_ratio: np.ndarray | None = None


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
    still = batch.still_s >= config.still_after_s
    transition = np.tile(np.eye(4), (len(dt), 1, 1))
    transition[:, 0, 2] = transition[:, 1, 3] = dt
    state = np.einsum("nij,nj->ni", transition, batch.state)
    accel = np.where(still, config.still_accel_sigma_mps2, config.accel_sigma_mps2)
    cov = transition @ batch.cov @ transition.transpose(0, 2, 1) + _process_noise(dt, accel)
    return TrackBatch(
        batch.active,
        np.where(batch.active, ts, batch.ts),
        state,
        cov,
        batch.floor,
        batch.still_s,
        batch.rejected,
        batch.bias_m,
        batch.drift,
        batch.pin,
        batch.pin_ts,
        batch.still_mean,
        batch.pin_var,
        batch.pin_since,
        batch.noise_ratio,
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
    hold: np.ndarray | None = None,
) -> tuple[TrackBatch, TrackOutput]:
    """Fold one fix per track (row i of the fixes belongs to track i) into the batch at time `ts`.

    A NaN fix means "not heard": the track is only predicted. `hold` (N,) True: the tag's radio picture has not
    changed since it was parked (core/stillness.py), so a parked track is not released by this fix's offset or by its
    drift (a run of fixes far enough off to restart the track still does). Returns the new batch and the output.
    """
    config = config or TrackingConfig()
    n = len(batch)
    fix_x, fix_y = np.asarray(fix_x, float), np.asarray(fix_y, float)
    r_sigma = np.asarray(fix_accuracy_m, float) / R68_PER_SQRT_TRACE / np.sqrt(2.0)  # per-axis σ of the fix
    ts_arr = np.broadcast_to(np.asarray(ts, dtype=float), (n,))
    floor = batch.floor if fix_floor is None else np.asarray(fix_floor, np.int64)
    has_fix = np.isfinite(fix_x) & np.isfinite(fix_y) & np.isfinite(r_sigma)
    dt = np.maximum(ts_arr - batch.ts, 0.0)

    pred = track_predict(batch, ts_arr, config)
    state, cov = pred.state.copy(), pred.cov.copy()
    # the fix's offset from the prediction, 0 for rows without a fix
    innovation0 = np.nan_to_num(np.stack([fix_x - state[:, 0], fix_y - state[:, 1]], axis=1))
    # Learnt fix noise: innovations against the predicted position (its own spread is left out on purpose: a
    # filter that follows hopping fixes explains them by motion, its covariance grows and they look consistent).
    # A batch that does not keep the ratio (None) takes its fixes as claimed; realtime/locator.py stores it
    # (layout RT6).
    ratio = batch.noise_ratio
    noisier = None  # the ratio where it exceeds 1, up to max_noise_scale in σ (None: fixes as claimed)
    if config.noise_adapt_s > 0 and ratio is not None:
        claimed = 2 * np.nan_to_num(r_sigma) ** 2
        q = np.minimum(
            (innovation0**2).sum(axis=1) / np.maximum(claimed, 1e-6), config.max_noise_ratio_per_fix
        )
        w = np.clip(dt / config.noise_adapt_s, 0.0, 1.0)
        ratio = np.where(has_fix & batch.active, ratio + w * (q - ratio), ratio)
        noisier = np.clip(ratio, 1.0, config.max_noise_scale**2)
        r_sigma = r_sigma * np.sqrt(noisier)
    s = cov[:, :2, :2] + (r_sigma**2)[:, None, None] * np.eye(2)
    s = np.where(has_fix[:, None, None], s, np.eye(2))
    s_inv = np.linalg.inv(s)
    d2 = np.einsum("ni,nij,nj->n", innovation0, s_inv, innovation0)
    jump_m = np.hypot(innovation0[:, 0], innovation0[:, 1])  # how far the fix is from the prediction
    jump_speed = jump_m / np.maximum(dt, 1e-3)
    implausible = (d2 > config.gate_chi2) & (jump_speed > config.max_speed_mps)
    implausible |= d2 > config.gate_chi2 * 4  # far outside any plausible motion, whatever the time gap
    was_parked = batch.still_s >= config.still_after_s
    held = np.zeros(n, bool) if hold is None else hold & batch.active & was_parked
    rejected_now = batch.active & has_fix & implausible & (batch.rejected + 1 < config.reacquire_after)
    if config.hop_speed_mps > 0:  # a parked tag's hop is set aside as a rejected jump (module docstring)
        reach = (
            config.hop_speed_mps * np.maximum(ts_arr - batch.pin_ts, 0.0)
            + config.hop_sigma * np.nan_to_num(r_sigma)
            + config.hop_drift_share * np.hypot(batch.drift[:, 0], batch.drift[:, 1])
        )
        rejected_now |= has_fix & was_parked & (jump_m > reach)
    restart = has_fix & (~batch.active | (floor != batch.floor) | (implausible & ~rejected_now))
    update = has_fix & ~rejected_now & ~restart

    # Kalman update for the rows that take their fix, with the fix's noise inflated for its correlation with
    # the previous fixes (the gate above uses the fix's own noise).
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
    state = np.where(restart[:, None], np.stack([fix_x, fix_y, np.zeros(n), np.zeros(n)], axis=1), state)
    cov = np.where(restart[:, None, None], init_cov, cov)

    # Stationary stickiness: accumulate still time while slow and consistent; pin velocity once parked.
    # "Still" = slow, or a velocity the filter cannot tell from zero (noisy fixes of a parked tag), and the fix
    # agrees with the track.
    speed = np.hypot(state[:, 2], state[:, 3])
    v_cov = cov[:, 2:, 2:] + 1e-9 * np.eye(2)
    v_d2 = np.einsum("ni,nij,nj->n", state[:, 2:], np.linalg.inv(v_cov), state[:, 2:])
    slow = (speed < config.still_speed_mps) | (
        (v_d2 < config.still_velocity_chi2) & (speed < config.max_still_speed_mps)
    )
    a = config.drift_smoothing
    drift = np.where((update & was_parked)[:, None], (1 - a) * batch.drift + a * innovation0, 0.0)
    drift_sigma = r_sigma  # (inflated by the learnt fix noise above)
    if noisier is not None and config.drift_noise_power > 0:
        # a noisier-than-claimed tag's fixes hop in runs: correlated over the drift's time constant (see config)
        drift_sigma = r_sigma * noisier**config.drift_noise_power
    drifting = np.hypot(drift[:, 0], drift[:, 1]) > config.drift_release_sigma * drift_sigma
    consistent = ((d2 <= config.release_chi2) & ~drifting) | held
    still_s = np.where(update & consistent & slow, batch.still_s + dt, 0.0)
    # No fix, or one rejected as a jump: neither evidence of motion nor of rest (a multipath burst that the gate
    # caught must not also unpin a parked tag and let its dot wander).
    still_s = np.where(has_fix & ~rejected_now, still_s, batch.still_s)

    # Pin memory: from the release on, the (time-weighted) mean offset of the fixes from the old pin; a released
    # tag whose fixes are back around its pin and that looks still goes back to the pin, parked.
    pin_ts = np.where(restart, -np.inf, batch.pin_ts)
    since_pin = ts_arr - pin_ts
    alive = (since_pin <= config.pin_memory_s) & ~restart & np.isfinite(batch.pin).all(axis=1)
    remembers = alive & has_fix & ~rejected_now
    offset = np.nan_to_num(np.stack([fix_x - batch.pin[:, 0], fix_y - batch.pin[:, 1]], axis=1))
    mean_before = np.where(was_parked[:, None], 0.0, batch.drift)
    # (at the release dt == since_pin: the mean starts there)
    pin_offset = np.where(
        remembers[:, None],
        _time_mean(mean_before, offset, dt, since_pin),
        np.where(alive[:, None], mean_before, 0.0),
    )
    back = remembers & ~was_parked & (still_s >= config.pin_return_after_s)
    back &= np.hypot(pin_offset[:, 0], pin_offset[:, 1]) <= config.pin_return_sigma * np.nan_to_num(r_sigma)
    still_s = np.where(back, np.maximum(still_s, config.still_after_s), still_s)
    state[back, :2] = batch.pin[back]
    # ... with the pin's own variance if it had held the tag long (see the module docstring)
    restore = back & (batch.pin_ts - batch.pin_since >= config.pin_return_held_s) & np.isfinite(batch.pin_var)
    cov[restore, :2, :] = 0.0
    cov[restore, :, :2] = 0.0
    cov[restore, 0, 0] = cov[restore, 1, 1] = batch.pin_var[restore]

    parked = still_s >= config.still_after_s
    still_mean = batch.still_mean
    if config.park_at_still_mean:
        # Time-weighted mean of the fixes while the still time accumulates; it starts with the first still
        # fix (still_s == dt), and a mean whose start was not seen (state restored without it) stays unknown.
        fix = np.stack([fix_x, fix_y], axis=1)
        settling = update & ~was_parked & (still_s > 0)
        first = settling & (still_s <= dt + 1e-9)
        previous = np.where(first[:, None], fix, batch.still_mean)
        # no usable fix (not heard, or rejected as a jump): neither still nor moving, the mean waits
        waiting = ~(has_fix & ~rejected_now) & (still_s > 0) & ~parked
        still_mean = np.where(
            settling[:, None],
            _time_mean(previous, fix, dt, still_s),
            np.where(waiting[:, None], batch.still_mean, np.nan),
        )
        settle = parked & ~was_parked & ~back & update & np.isfinite(still_mean).all(axis=1)
        state[settle, :2] = still_mean[settle]
        # Its variance: the fixes averaged over still_s, each inflated for correlation as in the update above.
        var = (r_sigma**2 * inflation * dt / np.maximum(still_s, 1e-3))[settle]
        cov[settle, 0, 0] = cov[settle, 1, 1] = var
        cov[settle, 0, 1] = cov[settle, 1, 0] = 0.0
    released = was_parked & has_fix & ~parked & ~restart
    # On release, let the filter move again: open up velocity and add the drift seen so far to the position.
    cov[released, 2, 2] = cov[released, 3, 3] = config.initial_speed_sigma_mps**2
    cov[released, 0, 0] += drift[released, 0] ** 2
    cov[released, 1, 1] += drift[released, 1] ** 2
    if config.release_speed_s > 0:  # a real move shows as drift first: start at its pace, not from rest
        state[released, 2:] = drift[released] / config.release_speed_s
    drift[~parked] = pin_offset[~parked]  # zero once the memory has lapsed
    state[parked, 2:] = 0.0
    cov[parked, 2:, :] = 0.0
    cov[parked, :, 2:] = 0.0
    cov[parked, 2, 2] = cov[parked, 3, 3] = 1e-4

    rejected = np.where(rejected_now, batch.rejected + 1, np.where(has_fix, 0, batch.rejected))
    systematic = config.systematic_share * np.nan_to_num(np.asarray(fix_accuracy_m, float))
    bias = np.where(
        restart, systematic, np.where(update, 0.9 * batch.bias_m + 0.1 * systematic, batch.bias_m)
    )
    pinned_now = parked & has_fix & ~rejected_now  # held at its pin by this fix (a rejected one: no evidence)
    pin_var = np.where(
        pinned_now, 0.5 * (cov[:, 0, 0] + cov[:, 1, 1]), np.where(restart, np.nan, batch.pin_var)
    )
    # (a tag returned to its pin was held there since it first was)
    new_pin = pinned_now & ~was_parked & ~back
    pin_since = np.where(new_pin, ts_arr, np.where(restart, np.nan, batch.pin_since))
    new_batch = TrackBatch(
        batch.active | has_fix,
        np.where(batch.active | has_fix, ts_arr, batch.ts),
        state,
        cov,
        np.where(restart, floor, batch.floor),
        still_s,
        rejected,
        bias,
        drift,
        np.where(pinned_now[:, None], state[:, :2], np.where(restart[:, None], np.nan, batch.pin)),
        np.where(pinned_now, ts_arr, pin_ts),
        still_mean,
        pin_var,
        pin_since,
        ratio,
    )
    return new_batch, TrackOutput(
        state[:, 0].copy(),
        state[:, 1].copy(),
        new_batch.accuracy_m,
        update | restart,
        parked,
        state[:, 2].copy(),
        state[:, 3].copy(),
        None if ratio is None else np.asarray(ratio, float).copy(),
    )


def _time_mean(mean: np.ndarray, value: np.ndarray, dt: np.ndarray, elapsed: np.ndarray) -> np.ndarray:
    """(N, 2) running means over `elapsed` seconds brought up to date with `value`, which held for the last `dt`."""
    weight = np.clip(dt / np.maximum(elapsed, 1e-3), 0.0, 1.0)[:, None]
    return mean + weight * (value - mean)


def track_series(
    tag: np.ndarray,
    ts: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    accuracy_m: np.ndarray,
    config: TrackingConfig | None = None,
    windows: Windows | None = None,
    stillness: StillnessConfig | None = None,
) -> TrackOutput:
    """Smooth time-ordered fixes of many tags offline (the CLI and benchmarks): one batched update per time step.

    `windows`: the windows the fixes came from (row i of both is the same fix); parked tags then keep a signal
    reference and are held parked while their windows match it (core/stillness.py)."""
    tag = np.asarray(tag)
    ts = np.asarray(ts, dtype=float)
    tags, code = np.unique(tag, return_inverse=True)
    batch = TrackBatch.empty(len(tags))
    out_x, out_y, out_acc = np.full(len(ts), np.nan), np.full(len(ts), np.nan), np.full(len(ts), np.nan)
    accepted, stationary = np.zeros(len(ts), bool), np.zeros(len(ts), bool)
    out_vx, out_vy, out_ratio = np.zeros(len(ts)), np.zeros(len(ts)), np.ones(len(ts))
    times, step = np.unique(ts, return_inverse=True)
    order = np.argsort(step, kind="stable")
    bounds = np.searchsorted(step[order], np.arange(len(times) + 1))
    stillness = stillness or StillnessConfig()
    reference = SignalReference.empty(len(tags), stillness.slots)
    signals = (
        None
        if windows is None
        else SignalWindows(windows.gateway, windows.rssi_dbm, windows.sample_count, windows.rssi_var)
    )
    for k, t in enumerate(times):  # one vectorised update per distinct time, over all tags heard then
        rows = order[bounds[k] : bounds[k + 1]]
        fx, fy, fa = (np.full(len(tags), np.nan) for _ in range(3))
        fx[code[rows]], fy[code[rows]], fa[code[rows]] = x[rows], y[rows], accuracy_m[rows]
        heard = np.isfinite(fx)
        if signals is None:
            batch, out = track_update(batch, fx, fy, fa, np.where(heard, t, batch.ts), config=config)
        else:
            mine, signal = reference.take(code[rows]), signals.take(rows)
            hold = np.zeros(len(tags), bool)
            hold[code[rows]], score = judge(mine, signal, stillness)
            batch, out = track_update(
                batch, fx, fy, fa, np.where(heard, t, batch.ts), config=config, hold=hold
            )
            reference.put(code[rows], update(mine, out.stationary[code[rows]], signal, score, stillness))
        out_x[rows], out_y[rows], out_acc[rows] = (
            out.x[code[rows]],
            out.y[code[rows]],
            out.accuracy_m[code[rows]],
        )
        accepted[rows], stationary[rows] = out.accepted[code[rows]], out.stationary[code[rows]]
        out_vx[rows], out_vy[rows] = out.vx[code[rows]], out.vy[code[rows]]
        if out.noise_ratio is not None:
            out_ratio[rows] = out.noise_ratio[code[rows]]
    return TrackOutput(out_x, out_y, out_acc, accepted, stationary, out_vx, out_vy, out_ratio)
