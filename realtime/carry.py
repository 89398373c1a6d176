"""The observations carried between batches: every row a future fix's window may still need.

At 100k tags the carry holds millions of rows, and a batch adds tens of thousands and retires some. Copying
the whole carry every batch (keep the live rows, append the new) made the loop quadratic in the carry: with a
backlog whose rows mostly wait for their windows, the copy was the loop's largest cost after consuming. Here a
batch costs what it adds: new rows go into spare capacity, and retired rows are only marked dead (ts -inf,
which no window and no keep test accepts; offset int64-max, which no resume offset takes). The columns are
compacted when dead rows are a quarter of them or the capacity runs out. Spare capacity costs no memory until
it is written: large arrays are their own mappings (see realtime.pipeline._map_large_arrays) and untouched pages
are never resident.

The live rows are always exactly what rebuilding would give, in the same order, so fixes do not depend on when
compaction happened (a replay computes the same fixes).

Nor does a batch pass over the whole carry where it can help it. Retired rows also get code -1, so a per-tag
mask with a False last element picks a tag's live rows in one gather (`rows_of`). Rows too old to wait for
(`aged`) are found block by block: per block of `BLOCK` rows and per partition a lower bound of the live rows'
event times says which blocks can hold one, and only those are read. In a backlog of millions of rows a batch
reads the few oldest blocks, not all of them.
"""

from __future__ import annotations

import numpy as np

from realtime.locator import Columns

DEAD_TS = -np.inf
DEAD_OFFSET = np.iinfo(np.int64).max
DEAD_CODE = -1
BLOCK = 1 << 16  # rows per block of the age bounds
FIELDS = ("ts", "code", "gw", "rssi", "partition", "offset")
COMPACT_AT_DEAD_SHARE = 0.25
GROWTH = 1.5
MIN_CAPACITY = 4096


def _dtypes(rssi: type) -> tuple[type, ...]:
    return (np.float64, np.int32, np.int32, rssi, np.int32, np.int64)


class Carry:
    """Narrow columns (as `Columns.narrow()`) with spare capacity and dead rows; reads like `Columns`.
    Nothing outside may hold its columns across `advance` (everything that reads them copies)."""

    __slots__ = (
        "_buffers",
        "_rows",
        "_dead",
        "_newest",
        "_floor",
        "ts",
        "code",
        "gw",
        "rssi",
        "partition",
        "offset",
    )
    ts: np.ndarray
    code: np.ndarray
    gw: np.ndarray
    rssi: np.ndarray
    partition: np.ndarray
    offset: np.ndarray

    def __init__(self) -> None:
        self._buffers: list[np.ndarray] = [np.empty(0, dtype) for dtype in _dtypes(np.float32)]
        self._rows = 0
        self._dead = 0
        self._newest = np.zeros(0)  # per partition: the newest event time read (-inf: none)
        # Per block and partition: at most the event time of every live row there (+inf: no row). Rows retired
        # since it was computed leave it lower than it need be, which only costs a look at the block.
        self._floor = np.full((0, 0), np.inf)
        self._expose()

    def __len__(self) -> int:
        return self._rows

    @property
    def dead(self) -> int:
        return self._dead

    def _expose(self) -> None:
        for name, buffer in zip(FIELDS, self._buffers, strict=True):
            setattr(self, name, buffer[: self._rows])

    def alive(self) -> np.ndarray:
        """Mask of the rows not retired."""
        return self.ts != DEAD_TS

    def rows_of(self, codes: np.ndarray) -> np.ndarray:
        """Indices of the live rows of the tags `codes` (in order)."""
        if not len(self) or not len(codes):
            return np.zeros(0, np.int64)
        wanted = np.zeros(max(int(codes.max()), int(self.code.max())) + 2, bool)  # the last: dead rows' -1
        wanted[codes] = True
        return np.flatnonzero(wanted[self.code])

    def aged(self, oldest: np.ndarray) -> np.ndarray:
        """Indices of the live rows at or before `oldest[partition]` (in order), reading only the blocks whose
        bound allows one; the bounds of the blocks read are made exact again."""
        used = -(-self._rows // BLOCK)
        parts = min(len(oldest), self._floor.shape[1])
        floor = self._floor[:used, :parts]
        suspect = np.flatnonzero((floor <= oldest[:parts]).any(axis=1))
        found = []
        for b in suspect.tolist():
            rows = slice(b * BLOCK, min((b + 1) * BLOCK, self._rows))
            ts, partition = self.ts[rows], self.partition[rows]
            old = ts <= oldest[partition]  # `oldest` covers every partition read
            stays = ~old
            old &= ts != DEAD_TS
            found.append(np.flatnonzero(old) + b * BLOCK)
            self._floor[b] = np.inf
            np.minimum.at(self._floor[b], partition[stays], ts[stays])
        return np.concatenate(found) if found else np.zeros(0, np.int64)

    def live(self) -> Columns:
        """A copy of the live rows."""
        alive = self.alive()
        return Columns(*(getattr(self, name)[alive] for name in FIELDS))

    def newest_with(self, new: Columns) -> np.ndarray:
        """Per partition, the newest event time read so far, `new` included (a copy). Kept as a running maximum
        rather than taken over the carry each batch: a partition's newest row is never retired (every window
        it could still fall into ends after the newest time read), so the two agree."""
        if len(new):
            top = int(new.partition.max()) + 1
            if top > len(self._newest):
                self._newest = np.concatenate([self._newest, np.full(top - len(self._newest), -np.inf)])
            np.maximum.at(self._newest, new.partition, new.ts)
        return self._newest.copy()

    def oldest_offsets(self) -> np.ndarray:
        """Per partition, the lowest offset of a live row (int64 max: none), in one pass over the carry."""
        lowest = np.full(
            max(len(self._newest), int(self.partition.max(initial=-1)) + 1), DEAD_OFFSET, np.int64
        )
        np.minimum.at(lowest, self.partition, self.offset)
        return lowest

    def forget_partitions(self, partitions: list[int]) -> None:
        """Partitions revoked: their rows and newest times go (another consumer reads them now)."""
        self.retire(np.isin(self.partition, partitions))
        known = [p for p in partitions if p < len(self._newest)]
        self._newest[known] = -np.inf

    def retire(self, rows: np.ndarray) -> None:
        """Mark rows (a mask or indices over the current rows) dead."""
        self._mark_dead(rows)
        self._dead = int(np.count_nonzero(self.ts == DEAD_TS))

    def _mark_dead(self, rows: np.ndarray) -> None:
        self.ts[rows] = DEAD_TS
        self.offset[rows] = DEAD_OFFSET
        self.code[rows] = DEAD_CODE

    def advance(self, drop: np.ndarray, new: Columns, keep_new: np.ndarray) -> Carry:
        """Retire the rows `drop` (distinct indices of live rows, any order) and append `new.take(keep_new)`
        (narrowed), in place; returns self."""
        if len(drop):
            self._mark_dead(drop)
            self._dead += len(drop)
        added = new.take(keep_new).narrow()
        total = self._rows + len(added)
        rssi_now = self._buffers[3].dtype
        wider = added.rssi.dtype != np.float32 and rssi_now == np.float32
        if wider or total > len(self._buffers[0]) or self._dead > COMPACT_AT_DEAD_SHARE * total:
            self._compact(added)
        else:
            for buffer, name in zip(self._buffers, FIELDS, strict=True):
                buffer[self._rows : total] = getattr(added, name)
            self._bound(self._rows, added)
            self._rows = total
        self._expose()
        return self

    def _bound(self, start: int, rows: Columns) -> None:
        """Lower the block bounds for `rows`, written from row `start` on."""
        if not len(rows):
            return
        parts = int(rows.partition.max()) + 1
        if parts > self._floor.shape[1]:
            wider = np.full((len(self._floor), parts), np.inf)
            wider[:, : self._floor.shape[1]] = self._floor
            self._floor = wider
        block = (np.arange(len(rows)) + start) // BLOCK
        np.minimum.at(self._floor, (block, rows.partition), rows.ts)

    def _compact(self, added: Columns) -> None:
        """New buffers: the live rows, then `added`, with room to grow. Each old column goes as soon as its
        successor is written, so this costs the carry plus one column, not two carries."""
        keep = self.ts != DEAD_TS
        alive = self._rows - self._dead
        total = alive + len(added)
        for name in FIELDS:  # the exposed views would keep the old buffers alive
            setattr(self, name, None)
        narrow_rssi = added.rssi.dtype == np.float32 and (alive == 0 or self._buffers[3].dtype == np.float32)
        dtypes = _dtypes(np.float32 if narrow_rssi else np.float64)
        capacity = max(int(total * GROWTH), MIN_CAPACITY)
        rows = self._rows
        for i, (name, dtype) in enumerate(zip(FIELDS, dtypes, strict=True)):
            column: np.ndarray = np.empty(capacity, dtype)
            old = self._buffers[i][:rows]
            if old.dtype == dtype:
                np.compress(keep, old, out=column[:alive])
            else:
                column[:alive] = old[keep]
            column[alive:total] = getattr(added, name)
            self._buffers[i] = column
            del old
        self._rows, self._dead = total, 0
        self._floor = np.full((-(-capacity // BLOCK), self._floor.shape[1]), np.inf)
        self._bound(0, Columns(*(buffer[:total] for buffer in self._buffers)))
