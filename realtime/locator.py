"""From observations to fixes, for a whole batch at once: event-time windows, estimation, tracking, significance.

Per tag the loop keeps (in memory, mirrored to the live store so another process can take the tag over):
the time of its last fix, its Kalman track, the last position written to the history table and when the
current-location row was last written. Raw observations from the last `window_s` are carried between batches
(`Carry`), so a fix's window sees every observation of its time span whatever the batch boundaries were.

A fix is made at every `fix_interval_s` grid time t that the tag's observations have reached (t ≤ its newest ts)
and that has at least one observation in (t − window_s, t] — but only once its partition has moved past t:
some observation in the partition is newer than t + `lateness_s`. A partition is read in order, so by then
every observation of t's window is in hand (all gateways' reports of the tag's beacon at t, not the first
one), and a fix is the same whatever the batch boundaries were: a replay computes exactly the fixes, zone
events and alerts it computed the first time. Nothing here touches a database: `locate()` returns the fixes
plus the *pending* state, which the pipeline applies only after the batch is written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat
from typing import TYPE_CHECKING

import numpy as np

from core.positioning.estimator import METHOD_NAMES, Fixes
from core.positioning.tx_offset import LearntOffsets, estimate_learning
from core.positioning.windows import aggregate_windows
from core.stillness import EMPTY, SignalReference, SignalWindows, StillnessConfig, judge, update
from core.tracking import TrackBatch, track_update
from realtime.catalog import Catalog, to_lat_lon
from realtime.fixes import FixBatch

if TYPE_CHECKING:
    from core.ml.location_model import LocationModel
    from realtime.carry import Carry

# site id → the site's served model (None = the path-loss chain); `ModelRegistryWatcher.current` is one.
ModelLookup = Callable[[object], "LocationModel | None"]

log = logging.getLogger(__name__)
_TRIU = np.triu_indices(4)
_STILLNESS = StillnessConfig()
_SLOTS = _STILLNESS.slots  # gateways in a parked tag's signal reference (core/stillness.py)
_SIGNAL = 33  # where the signal reference starts in a state row (see TagStates.pack)
_SIGNAL_TAIL = _SIGNAL + 3 * _SLOTS  # the reference's fading variance, its degrees of freedom, its score
# where the learnt transmit offset starts (core/positioning/tx_offset.py: LearntOffsets, five columns)
_TX_OFFSET = _SIGNAL_TAIL + 3
_PIN_HELD = _TX_OFFSET + 5  # the pin's variance and since when it was held (core/tracking.py: TrackBatch)
STATE_WIDTH = _PIN_HELD + 2  # floats per serialised tag state
STATE_MAGIC = b"RT9"
# Older layouts are a prefix of this one: read them, newer fields start at their "none" value (`_FRESH`).
_LEGACY = {b"RT2": 25, b"RT3": 27, b"RT4": 30, b"RT5": 32, b"RT6": 33, b"RT7": _TX_OFFSET, b"RT8": _PIN_HELD}
# A tag never seen, and the fields an older layout lacks: zero except "no fix yet" (-inf) and "never pinned".
_FRESH = np.zeros(STATE_WIDTH)
_FRESH[0] = -np.inf  # last_fix_ts
_FRESH[27:29] = np.nan  # pin x y
_FRESH[29] = -np.inf  # pin_ts
_FRESH[30:32] = np.nan  # still mean x y
_FRESH[32] = 1.0  # fix noise ratio: fixes as claimed
_FRESH[_SIGNAL : _SIGNAL + _SLOTS] = EMPTY  # no signal reference
_FRESH[_SIGNAL_TAIL] = np.nan  # fading variance: not learnt yet
_FRESH[_SIGNAL_TAIL + 2] = np.nan  # signal score: none
_FRESH[_TX_OFFSET + 4] = -np.inf  # transmit offset: no step pending
_FRESH[_PIN_HELD : _PIN_HELD + 2] = np.nan  # the pin's variance and held-since: not known
# How far behind its partition's newest event time an observation is still carried for a tag that has not been
# heard since: it only matters if the tag's next observations arrive this late. The carry (memory, and the
# per-batch work over it) grows with observation rate × this, so it is seconds, not a minute.
LATE_SLACK_S = 10.0
_PER_OBS_CANDIDATES_OVER = 64  # a tag needing more grid points than this gets them from its observations


@dataclass(slots=True)
class Columns:
    """Observations as columns; `code` is the interned tag, `gw` the catalog's gateway row.

    The carry between batches holds every observation of the last few seconds (millions of rows at 100k tags),
    so it is kept `narrow()`: 32-bit codes, gateway rows and partitions, and RSSI in float32 whenever that is
    exact. `wide()` restores 64-bit columns (the same values) for the estimator."""

    ts: np.ndarray
    code: np.ndarray
    gw: np.ndarray
    rssi: np.ndarray
    partition: np.ndarray
    offset: np.ndarray

    @classmethod
    def empty(cls) -> Columns:
        f, i = np.array([], float), np.array([], np.int64)
        return cls(f, i, i, f, i, i)

    def __len__(self) -> int:
        return len(self.ts)

    def take(self, rows: np.ndarray) -> Columns:
        return Columns(
            self.ts[rows],
            self.code[rows],
            self.gw[rows],
            self.rssi[rows],
            self.partition[rows],
            self.offset[rows],
        )

    def narrow(self) -> Columns:
        rssi = self.rssi
        if rssi.dtype != np.float32:
            as32 = rssi.astype(np.float32)
            if np.array_equal(as32, rssi, equal_nan=True):  # integer dBm, as gateways report it
                rssi = as32
        return Columns(
            self.ts.astype(np.float64, copy=False),
            self.code.astype(np.int32, copy=False),
            self.gw.astype(np.int32, copy=False),
            rssi,
            self.partition.astype(np.int32, copy=False),
            self.offset.astype(np.int64, copy=False),
        )

    @staticmethod
    def concat_wide(a: Columns | Carry, rows_a: np.ndarray, b: Columns) -> Columns:
        """`a.take(rows_a)` (indices) followed by `b`, in 64-bit columns: what the estimator and the grid work on.
        Written column by column into the result: no narrow copy of the selected carry alongside the wide one."""
        wide = (np.float64, np.int64, np.int64, np.float64, np.int64, np.int64)
        ka = len(rows_a)
        out = []
        for f, dtype in zip(("ts", "code", "gw", "rssi", "partition", "offset"), wide, strict=True):
            col_a, col_b = getattr(a, f), getattr(b, f)
            col = np.empty(ka + len(col_b), dtype)
            col[:ka] = col_a[rows_a]
            col[ka:] = col_b
            out.append(col)
        return Columns(*out)


class TagStates:
    """Per-tag state as columns indexed by an interned tag code."""

    def __init__(self, capacity: int = 1024) -> None:
        self.codes: dict[str, int] = {}
        self.tags: list[str] = []
        self._alloc(capacity)

    def _alloc(self, n: int) -> None:
        self.vec = np.tile(_FRESH, (n, 1))  # see pack() for the layout
        self.loaded = np.zeros(n, bool)
        self.partition = np.full(n, -1, np.int64)
        # the asset's last_seen this process last wrote (epoch s; -inf: none): not stored, only rate-limits writes
        self.touched = np.full(n, -np.inf)

    def reserve(self, tags: int) -> None:
        """Room for `tags` states in one allocation (the catalog's tag count): growing by doubling to 100,000 tags
        ends at 131,072 rows and holds the old table and the new at once (~100 MB at 65 floats a row)."""
        self._grow(tags, exact=True)

    def _grow(self, needed: int, exact: bool = False) -> None:
        n = len(self.loaded)
        if needed <= n:
            return
        size = needed if exact else max(needed, 2 * n)
        vec, loaded, partition, touched = self.vec, self.loaded, self.partition, self.touched
        self._alloc(size)
        self.vec[:n], self.loaded[:n], self.partition[:n], self.touched[:n] = vec, loaded, partition, touched

    def intern(self, tag_ids: list[str]) -> np.ndarray:
        codes = self.codes
        out = np.fromiter(map(codes.get, tag_ids, repeat(-1)), np.int64, len(tag_ids))  # at C speed
        for i in np.flatnonzero(out < 0).tolist():  # tags never seen before
            tag = tag_ids[i]
            code = codes.get(tag)
            if code is None:
                code = codes[tag] = len(self.tags)
                self.tags.append(tag)
            out[i] = code
        self._grow(len(self.tags))
        return out

    # layout: 0 last_fix_ts, 1 active, 2 track_ts, 3-6 x y vx vy, 7-16 cov (upper triangle), 17 floor,
    # 18 still_s, 19 rejected, 20 hist_ts, 21 hist_x, 22 hist_y, 23 db_ts (last current_locations write),
    # 24 bias_m (the tracker's range-bias estimate), 25-26 drift x y (running mean of a parked track's innovations),
    # 27-28 pin x y (where the track was last held parked; NaN: never), 29 pin_ts (when; -inf: never),
    # 30-31 still mean x y (mean of the fixes since the track began to look still; NaN: none),
    # 32 noise ratio (the tag's learnt fix noise per claimed variance; 1: as claimed),
    # 33.. the signal reference (core/stillness.py): _SLOTS gateway keys (EMPTY: free), _SLOTS RSSI totals,
    # _SLOTS weights, then fading variance (NaN: not learnt), its degrees of freedom, score (NaN: none);
    # _TX_OFFSET.. the learnt transmit offset (dB), the fixes behind it (0: none yet), and the current step's
    # offsets not yet folded in: their sum, count and step (-inf: none);
    # _PIN_HELD.. the pin's per-axis variance while held there, and when it was first held there (NaN: not known)
    def pack(self, vec: np.ndarray) -> list[bytes]:
        blob = np.ascontiguousarray(vec, dtype="<f8").tobytes()
        width = STATE_WIDTH * 8
        return [STATE_MAGIC + blob[i * width : (i + 1) * width] for i in range(len(vec))]

    def load(self, codes: np.ndarray, blobs: list[bytes | None], partitions: np.ndarray) -> None:
        """Install states read from the live store (None = a tag never seen: fresh state)."""
        # in place: the first batches after a start load ~100,000 states, 52 MB as a copy
        self.vec[codes] = _FRESH
        width = STATE_WIDTH * 8 + len(STATE_MAGIC)
        for code, blob in zip(codes.tolist(), blobs, strict=True):
            if blob is None:
                continue
            if len(blob) == width and blob.startswith(STATE_MAGIC):
                self.vec[code] = np.frombuffer(blob, dtype="<f8", offset=len(STATE_MAGIC))
            elif (legacy := _LEGACY.get(blob[:3])) and len(blob) == legacy * 8 + 3:
                self.vec[code, :legacy] = np.frombuffer(blob, dtype="<f8", offset=3)
        self.loaded[codes] = True
        self.partition[codes] = partitions

    def forget_partitions(self, partitions: set[int]) -> None:
        drop = np.isin(self.partition, list(partitions))
        self.loaded[drop] = False
        self.partition[drop] = -1


@dataclass(slots=True)
class Located:
    """The outcome of one batch: fixes and what to write, plus the pending state to apply once written."""

    fixes: FixBatch
    history: np.ndarray  # bool per fix: store in location_history
    latest: np.ndarray  # indices of the newest fix per tag (Redis current location)
    current_db: np.ndarray  # indices of fixes to upsert into current_locations
    state_codes: np.ndarray  # tags whose state changed (those with a fix in the batch)
    state_vec: np.ndarray  # their new state rows
    carry: Carry


def _grid_candidates(
    ts: np.ndarray,
    code: np.ndarray,
    last_fix: dict[int, float] | np.ndarray,
    interval: float,
    window: float,
    passed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Grid times per tag in (last fix, newest ts] that may have observations in their window; with `passed`
    (per observation: how far its partition has moved on), only grid times strictly before that."""
    order = np.lexsort((ts, code))
    ts_s, code_s = ts[order], code[order]
    starts = np.flatnonzero(np.r_[True, code_s[1:] != code_s[:-1]])
    tags = code_s[starts]
    tmin = ts_s[starts]
    tmax = np.maximum.reduceat(ts_s, starts)
    lf = np.asarray(last_fix)
    k_first = np.maximum(np.floor(lf / interval + 1e-9) + 1, np.ceil(tmin / interval - 1e-9))
    k_last = np.floor(tmax / interval + 1e-9)
    if passed is not None:
        limit = np.maximum.reduceat(passed[order], starts)
        k_last = np.minimum(k_last, np.ceil(limit / interval - 1e-9) - 1)
    count = np.maximum(k_last - k_first + 1, 0).astype(np.int64)
    dense = count <= _PER_OBS_CANDIDATES_OVER
    d_tags, d_first, d_count = tags[dense], k_first[dense], count[dense]
    eval_tag = np.repeat(d_tags, d_count)
    offsets = np.arange(d_count.sum()) - np.repeat(np.cumsum(d_count) - d_count, d_count)
    eval_k = np.repeat(d_first, d_count) + offsets
    if (~dense).any():  # long gaps: only grid points within window_s after some observation
        sparse = np.isin(code_s, tags[~dense])
        steps = int(np.ceil(window / interval))
        obs_k = np.ceil(ts_s[sparse] / interval - 1e-9)
        cand_k = (obs_k[:, None] + np.arange(steps)).ravel()
        cand_tag = np.repeat(code_s[sparse], steps)
        lo = dict(zip(tags.tolist(), k_first.tolist(), strict=True))
        hi = dict(zip(tags.tolist(), k_last.tolist(), strict=True))
        lo_a = np.array([lo[t] for t in cand_tag.tolist()])
        hi_a = np.array([hi[t] for t in cand_tag.tolist()])
        ok = (cand_k >= lo_a) & (cand_k <= hi_a)
        pairs = np.unique(np.stack([cand_tag[ok], cand_k[ok].astype(np.int64)], axis=1), axis=0)
        eval_tag = np.concatenate([eval_tag, pairs[:, 0]])
        eval_k = np.concatenate([eval_k, pairs[:, 1].astype(float)])
    return eval_tag, np.round(eval_k * interval, 6)


def locate(
    states: TagStates,
    carry: Carry,
    new: Columns,
    catalog: Catalog,
    *,
    window_s: float,
    fix_interval_s: float,
    heartbeat_s: float,
    current_write_s: float,
    asset_lookup: list,
    model_for: ModelLookup | None = None,
    lateness_s: float = 0.0,
) -> Located:
    """Fixes for every tag in `new` (state for those tags must be loaded). `asset_lookup[code]` gives
    (asset_id, site_id) for the tag of each code. A site for which `model_for(site_id)` returns a model is
    estimated with it (its version recorded on the fixes); every other site with `estimate_batch`.
    A grid time t is fixed once the tag's partition holds an observation newer than t + `lateness_s`.
    `carry` is rebuilt in place into the returned `Located.carry` (the caller's old carry is that object)."""
    interval, window = fix_interval_s, window_s
    touched = np.unique(new.code)
    empty = Located(
        FixBatch.empty(),
        np.array([], bool),
        np.array([], np.int64),
        np.array([], np.int64),
        np.array([], np.int64),
        np.zeros((0, STATE_WIDTH)),
        carry,
    )
    if touched.size == 0:
        return empty
    newest = carry.newest_with(new)  # per partition: the newest event time read, this batch included
    in_carry = carry.rows_of(touched)
    if catalog.gateways is None:
        empty.carry = carry.advance(np.zeros(0, np.int64), new, np.ones(len(new), bool))
        return empty
    # The batch's tags with their carried observations (carry first: the rows in arrival order), 64-bit.
    obs = Columns.concat_wide(carry, in_carry, new)
    vec = states.vec[touched].copy()  # pending state: applied by the pipeline after the writes
    passed = newest[obs.partition] - lateness_s
    eval_tag, eval_ts = _grid_candidates(obs.ts, obs.code, vec[:, 0], interval, window, passed)
    del passed
    fixes_out = empty.fixes
    if eval_tag.size:
        near = _near_candidates(obs, touched, eval_tag, eval_ts, window)
        ts, code, gw, rssi = obs.ts[near], obs.code[near], obs.gw[near], obs.rssi[near]
        del obs, near  # the widest arrays of the batch: gone before the aggregation's own
        win = aggregate_windows(ts, code, gw, rssi, window_s=window, eval_ts=eval_ts, eval_tag=eval_tag)
        del ts, code, gw, rssi
        n = len(win)
    else:
        del obs
        n = 0
    if n == 0:
        return Located(
            empty.fixes,
            empty.history,
            empty.latest,
            empty.current_db,
            empty.state_codes,
            empty.state_vec,
            _next_carry(carry, in_carry, new, states, touched, vec, newest, interval, window),
        )
    fix_code = win.tag_ids[win.fix_tag]
    gw, rssi = win.gateway.copy(), win.rssi_dbm.copy()
    site = catalog.gateway_site[np.maximum(gw[:, 0], 0)]
    other_site = (gw >= 0) & (catalog.gateway_site[np.maximum(gw, 0)] != site[:, None])
    gw[other_site], rssi[other_site] = -1, np.nan

    x, y, acc, conf = (np.full(n, np.nan) for _ in range(4))
    floor, method, count = np.zeros(n, np.int64), np.zeros(n, np.int8), np.zeros(n, np.int64)
    model_version = np.full(n, None, dtype=object)

    def keep(rows: np.ndarray, est: Fixes) -> None:
        x[rows], y[rows], acc[rows], conf[rows] = est.x, est.y, est.accuracy_m, est.confidence
        floor[rows], method[rows], count[rows] = est.floor, est.method, est.gateway_count

    # each fix's tag's row in `vec`; the transmit offsets it learnt (views into `vec`: updated in place)
    tag_row = np.searchsorted(touched, fix_code)
    learnt = LearntOffsets(*(vec[:, _TX_OFFSET + i] for i in range(5)))
    for s in np.unique(site).tolist():
        on_site = np.flatnonzero(site == s)
        info = catalog.sites[s]
        model = model_for(info.id) if model_for is not None else None
        if model is not None:
            try:
                keep(
                    on_site,
                    model.estimate(
                        catalog.gateways,
                        gw[on_site],
                        rssi[on_site],
                        sample_count=win.sample_count[on_site],
                        bounds=info.bounds,
                    ),
                )
                model_version[on_site] = model.version
                continue  # a served model has its own offset prior: its fixes teach nothing
            except Exception:  # noqa: BLE001 - a broken model must not stop the site's fixes
                log.exception("model %s failed on site %s; using the path-loss chain", model.version, info.id)
        keep(
            on_site,
            estimate_learning(
                catalog.gateways,
                gw[on_site],
                rssi[on_site],
                win.sample_count[on_site],
                win.fix_ts[on_site],
                tag_row[on_site],
                learnt,
                bounds=info.bounds,
            ),
        )
    ok = np.isfinite(x)

    order = np.lexsort((win.fix_ts, fix_code))
    order = order[ok[order]]
    fix_code, fix_ts, site = fix_code[order], win.fix_ts[order], site[order]
    x, y, acc, conf, floor, method, count, model_version = (
        a[order] for a in (x, y, acc, conf, floor, method, count, model_version)
    )
    n = len(order)
    pos = tag_row[order]
    first = np.r_[True, fix_code[1:] != fix_code[:-1]] if n else np.array([], bool)
    group_start = np.maximum.accumulate(np.where(first, np.arange(n), 0)) if n else np.array([], np.int64)
    rank = np.arange(n) - group_start
    history = np.zeros(n, bool)
    db_due = np.zeros(n, bool)
    sx, sy, sacc = x.copy(), y.copy(), acc.copy()
    still = np.zeros(n, bool)
    noise = np.ones(n)
    # the windows as the tracker's signal test reads them (core/stillness.py), in the fixes' order
    signal_all = SignalWindows(
        np.where(gw[order] >= 0, catalog.gateway_key[np.maximum(gw[order], 0)], EMPTY),
        rssi[order],
        win.sample_count[order],
        win.rssi_var[order],
    )
    for r in range(int(rank.max()) + 1 if n else 0):
        rows = np.flatnonzero(rank == r)
        p = pos[rows]
        batch = _track_batch(vec[p])
        reference = _signal_reference(vec[p])
        signal = signal_all.take(rows)
        hold, score = judge(reference, signal, _STILLNESS)
        batch, out = track_update(
            batch, x[rows], y[rows], acc[rows], fix_ts[rows], fix_floor=floor[rows], hold=hold
        )
        _store_signal(vec, p, update(reference, out.stationary, signal, score, _STILLNESS))
        sx[rows], sy[rows], sacc[rows] = out.x, out.y, out.accuracy_m
        still[rows] = out.stationary
        if out.noise_ratio is not None:
            noise[rows] = out.noise_ratio
        _store_track(vec, p, batch)
        vec[p, 0] = fix_ts[rows]
        moved = np.hypot(out.x - vec[p, 21], out.y - vec[p, 22]) > np.maximum(out.accuracy_m, 0.5)
        beat = fix_ts[rows] - vec[p, 20] >= heartbeat_s - 1e-6
        significant = moved | beat | ~np.isfinite(vec[p, 20]) | (vec[p, 20] == 0)
        history[rows] = significant
        vec[p[significant], 20] = fix_ts[rows][significant]
        vec[p[significant], 21] = out.x[significant]
        vec[p[significant], 22] = out.y[significant]
        due = significant | (fix_ts[rows] - vec[p, 23] >= current_write_s - 1e-6)
        db_due[rows] = due
        vec[p[due], 23] = fix_ts[rows][due]

    # Only tags that got a fix have a new state: the others' stored state is still right (a tag never fixed has
    # none stored, which reads back as the fresh state it still has), so they are not rewritten.
    changed = np.unique(pos)
    # The next carry is the batch's largest allocation: build it once the windows are no longer held.
    del win, gw, rssi
    next_carry = _next_carry(carry, in_carry, new, states, touched, vec, newest, interval, window)

    last = np.r_[fix_code[1:] != fix_code[:-1], True] if n else np.array([], bool)
    latest = np.flatnonzero(last)
    # A tag's current_locations row is rewritten with its newest fix whenever any of its fixes is due.
    due_tags = np.unique(fix_code[db_due])
    current_db = latest[np.isin(fix_code[latest], due_tags)]

    origin_lat = np.array([s.origin_lat for s in catalog.sites])[site]
    origin_lon = np.array([s.origin_lon for s in catalog.sites])[site]
    lat, lon = to_lat_lon(sx, sy, origin_lat, origin_lon)
    site_ids = np.array([s.id for s in catalog.sites] + [None], dtype=object)[site]
    asset_ids = np.empty(n, dtype=object)
    for i, c in enumerate(fix_code.tolist()):
        asset_ids[i] = asset_lookup[c]
    fixes_out = FixBatch(
        tag_id=np.array(states.tags, dtype=object)[fix_code] if n else np.array([], dtype=object),
        asset_id=asset_ids,
        site_id=site_ids,
        ts=fix_ts,
        x=sx,
        y=sy,
        lat=lat,
        lon=lon,
        floor=floor,
        accuracy_m=sacc,
        confidence=conf,
        method=np.asarray(METHOD_NAMES, dtype=object)[method],
        gateway_count=count,
        model_version=model_version,
        stationary=still,
        noise_ratio=noise,
    )
    return Located(
        fixes_out,
        history,
        latest,
        current_db,
        touched[changed],
        vec[changed],
        next_carry,
    )


def _near_candidates(
    obs: Columns, touched: np.ndarray, eval_tag: np.ndarray, eval_ts: np.ndarray, window: float
) -> np.ndarray:
    """Rows that some candidate fix's window may hold: of a tag with candidates, within a second of their
    windows. In a backlog most of the carry belongs to tags whose next grid time is not due yet; the aggregation
    (several sorted copies of its input) skips them. A fix's summary depends only on its window's rows, so the
    margin just keeps the window edges the aggregation's own business."""
    pos = np.searchsorted(touched, eval_tag)
    lo = np.full(len(touched), np.inf)
    hi = np.full(len(touched), -np.inf)
    np.minimum.at(lo, pos, eval_ts)
    np.maximum.at(hi, pos, eval_ts)
    row = np.searchsorted(touched, obs.code)
    return (obs.ts > lo[row] - window - 1.0) & (obs.ts <= hi[row] + 1.0)


def _next_carry(
    carry: Carry,
    in_carry: np.ndarray,  # indices of the live carried rows of the batch's tags
    new: Columns,
    states: TagStates,
    touched: np.ndarray,
    vec: np.ndarray,
    newest: np.ndarray,
    interval: float,
    window: float,
) -> Carry:
    """Observations (carried, then the batch's) that can still fall into a future fix's window (and not absurdly
    old ones). `newest`: newest event time per partition, not of the whole stream: catching up on a backlog, one
    partition can be read far ahead of another, and the lagging one's tags still need their windows."""
    # Per tag (contiguous, with the batch's pending last fixes): rows at or before this time are in no future
    # window. Per partition: rows at or before this are too old to wait for.
    horizon = states.vec[:, 0] + (interval - window)
    horizon[touched] = vec[:, 0] + (interval - window)
    oldest = newest - window - LATE_SLACK_S

    # Carried rows: too old (only the blocks that can hold one are read), and the batch's tags' rows behind their
    # new horizon (no other tag's horizon moved: every other row passed the same test when it was kept before).
    ts = carry.ts[in_carry]
    behind = in_carry[(ts <= horizon[carry.code[in_carry]]) & (ts > oldest[carry.partition[in_carry]])]
    drop = np.concatenate([carry.aged(oldest), behind])  # distinct: `behind` leaves out the aged rows
    keep_new = (new.ts > horizon[new.code]) & (new.ts > oldest[new.partition])
    return carry.advance(drop, new, keep_new)


def _track_batch(vec: np.ndarray) -> TrackBatch:
    n = len(vec)
    cov = np.zeros((n, 4, 4))
    cov[:, _TRIU[0], _TRIU[1]] = vec[:, 7:17]
    cov = cov + np.triu(cov, 1).transpose(0, 2, 1)
    active = vec[:, 1] > 0
    cov[~active] = np.eye(4)
    return TrackBatch(
        active=active,
        ts=vec[:, 2].copy(),
        state=vec[:, 3:7].copy(),
        cov=cov,
        floor=vec[:, 17].astype(np.int64),
        still_s=vec[:, 18].copy(),
        rejected=vec[:, 19].astype(np.int64),
        bias_m=vec[:, 24].copy(),
        drift=vec[:, 25:27].copy(),
        pin=vec[:, 27:29].copy(),
        pin_ts=vec[:, 29].copy(),
        still_mean=vec[:, 30:32].copy(),
        noise_ratio=vec[:, 32].copy(),
        pin_var=vec[:, _PIN_HELD].copy(),
        pin_since=vec[:, _PIN_HELD + 1].copy(),
    )


def _signal_reference(vec: np.ndarray) -> SignalReference:
    at = _SIGNAL
    return SignalReference(
        vec[:, at : at + _SLOTS].astype(np.int64),
        vec[:, at + _SLOTS : at + 2 * _SLOTS].copy(),
        vec[:, at + 2 * _SLOTS : at + 3 * _SLOTS].copy(),
        vec[:, _SIGNAL_TAIL].copy(),
        vec[:, _SIGNAL_TAIL + 1].copy(),
        vec[:, _SIGNAL_TAIL + 2].copy(),
    )


def _store_signal(vec: np.ndarray, rows: np.ndarray, reference: SignalReference) -> None:
    at = _SIGNAL
    vec[rows, at : at + _SLOTS] = reference.gateway
    vec[rows, at + _SLOTS : at + 2 * _SLOTS] = reference.total
    vec[rows, at + 2 * _SLOTS : at + 3 * _SLOTS] = reference.weight
    vec[rows, _SIGNAL_TAIL] = reference.fading_var
    vec[rows, _SIGNAL_TAIL + 1] = reference.fading_dof
    vec[rows, _SIGNAL_TAIL + 2] = reference.score


def _store_track(vec: np.ndarray, rows: np.ndarray, batch: TrackBatch) -> None:
    vec[rows, 1] = batch.active.astype(float)
    vec[rows, 2] = batch.ts
    vec[rows, 3:7] = batch.state
    vec[rows, 7:17] = batch.cov[:, _TRIU[0], _TRIU[1]]
    vec[rows, 17] = batch.floor
    vec[rows, 18] = batch.still_s
    vec[rows, 19] = batch.rejected
    vec[rows, 24] = batch.bias_m
    vec[rows, 25:27] = batch.drift
    vec[rows, 27:29] = batch.pin
    vec[rows, 29] = batch.pin_ts
    vec[rows, 30:32] = batch.still_mean
    if batch.noise_ratio is not None:
        vec[rows, 32] = batch.noise_ratio
    vec[rows, _PIN_HELD] = batch.pin_var
    vec[rows, _PIN_HELD + 1] = batch.pin_since
