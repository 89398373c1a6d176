"""Codes for the tag and gateway ids this process has read, assigned on whole columns.

The same ~100k tag ids and tens of thousands of gateway ids come round batch after batch. Handling each
batch's distinct ids as Python strings (normalise, look up the catalog, the tag's state) cost ~0.3 µs per id
and dict — the dicts are far larger than the CPU caches — which was the largest part of a batch's decoding.
Here a batch's id column, as polars read it, becomes codes in Rust and numpy: a 64-bit hash of each spelling,
a binary search among the hashes of spellings seen before, and an exact comparison with the stored spelling.
Only a spelling not seen before is normalised in Python, once.

A code names a *normalised* id (`names[code]`): spellings of one tag (`ac:23:3f:…`, `AC233F…`) share it. A
spelling that does not normalise, or that the caller marks suspect, gets `FAILS`, and so does a row whose
hash collides with another spelling's (never seen in practice): the caller sends those rows to the exact
path, which names the problem. A table belongs to one consumer (one thread); when it holds more than `max_ids`
spellings (junk ids) it starts over and `generation` changes, so users of codes keep per-code arrays only for
one generation (`PerCode`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import repeat

import numpy as np
import polars as pl

FAILS = -1
NEW = -3  # a spelling not seen yet (never a code)


class IdTable:
    def __init__(
        self, normalise: Callable[[str], str], *, suspect: str | None = None, max_ids: int = 1_000_000
    ) -> None:
        """`normalise` raises ValueError for an id that is not one; `suspect`: a regex of spellings that
        always take the exact path."""
        self._normalise = normalise
        self._suspect = re.compile(suspect) if suspect else None
        self._max_ids = max_ids
        self.generation = 0
        self._start()

    def _start(self) -> None:
        self.names: list[str] = []  # code -> normalised id
        self._code_of: dict[str, int] = {}  # normalised id -> code
        self._code_of_spelling: dict[str, int] = {}  # for lists of raw ids (the exact path's rows)
        self._hashes = np.zeros(0, np.uint64)  # of the spellings seen, sorted
        self._codes = np.zeros(0, np.int64)  # code of each (FAILS: does not normalise, or suspect)
        self._spellings = pl.Series(dtype=pl.String)  # each spelling, in the same order

    def code(self, name: str) -> int:
        """The code of a normalised id (a new one for an id not seen yet)."""
        code = self._code_of.get(name)
        if code is None:
            code = self._code_of[name] = len(self.names)
            self.names.append(name)
        return code

    def codes(self, names: Sequence[str]) -> np.ndarray:
        """Codes of normalised ids."""
        return np.fromiter(map(self.code, names), np.int64, len(names))

    def spelling_codes(self, spellings: Sequence[str]) -> np.ndarray:
        """Codes of raw ids given as Python strings (FAILS: does not normalise); never suspect."""
        self._bound()
        known = self._code_of_spelling
        out = np.fromiter(map(known.get, spellings, repeat(NEW)), np.int64, len(spellings))
        for i in np.flatnonzero(out == NEW).tolist():
            out[i] = known[spellings[i]] = self._code_for(spellings[i], suspect=False)
        return out

    def column_codes(self, column: pl.Series) -> np.ndarray:
        """Code of each row of a string column (null, failing, suspect or colliding: FAILS)."""
        self._bound()
        column = column.fill_null("")
        hashes = column.hash(seed=0).to_numpy()
        at = self._find(hashes)
        if (at < 0).any():
            self._add(column.filter(pl.Series(at < 0)).unique())
            at = self._find(hashes)
        codes = self._codes[at]
        same = column == self._spellings.gather(at)
        if not same.all():  # two spellings with one hash
            codes[~same.to_numpy()] = FAILS
        return codes

    def _bound(self) -> None:
        if max(len(self._hashes), len(self._code_of_spelling)) > self._max_ids:
            self._start()
            self.generation += 1

    def _find(self, hashes: np.ndarray) -> np.ndarray:
        """Position of each hash among the known ones (-1: not known)."""
        if not len(self._hashes):
            return np.full(len(hashes), -1, np.int64)
        at = np.searchsorted(self._hashes, hashes)
        at[at == len(self._hashes)] = 0
        return np.where(self._hashes[at] == hashes, at, -1)

    def _add(self, spellings: pl.Series) -> None:
        codes = [self._code_for(s) for s in spellings.to_list()]
        hashes = np.concatenate([self._hashes, spellings.hash(seed=0).to_numpy()])
        order = np.argsort(hashes, kind="stable")
        self._hashes = hashes[order]
        self._codes = np.concatenate([self._codes, np.asarray(codes, np.int64)])[order]
        self._spellings = pl.concat([self._spellings, spellings]).gather(order).rechunk()

    def _code_for(self, spelling: str, *, suspect: bool = True) -> int:
        if suspect and self._suspect is not None and self._suspect.match(spelling):
            return FAILS
        try:
            return self.code(self._normalise(spelling))
        except ValueError:
            return FAILS


UNRESOLVED = -2


class PerCode:
    """Something known about each code of a table (a catalog row, a state code), looked up once per code: a
    value per code, UNRESOLVED until asked for; `forget()` when what it was looked up in changed."""

    def __init__(self, table: IdTable) -> None:
        self.table = table
        self.values = np.zeros(0, np.int64)
        self._generation = -1

    def get(
        self, codes: np.ndarray, resolve: Callable[[list[str]], Sequence[int] | np.ndarray]
    ) -> np.ndarray:
        """The value of each of `codes`; `resolve(names)` gives those of ids not looked up yet."""
        names = self.table.names
        if self._generation != self.table.generation:  # the table started over: its codes are new
            self.values, self._generation = np.zeros(0, np.int64), self.table.generation
        if len(self.values) < len(names):
            grown = np.full(len(names), UNRESOLVED, np.int64)
            grown[: len(self.values)] = self.values
            self.values = grown
        out = self.values[codes]
        need = np.unique(codes[out == UNRESOLVED])
        if need.size:
            self.values[need] = resolve([names[c] for c in need.tolist()])
            out = self.values[codes]
        return out

    def forget(self) -> None:
        self.values[:] = UNRESOLVED
