"""Training data for the location models: observations heard while a tag stood or moved at known positions.

Every source — reference tags at surveyed points, a calibration walk with ground truth, the Kolakowski robot
runs — reduces to the same long table: one row per observation with the tag's true x, y at that moment.
Models are trained and scored on *windows* summarised exactly like the realtime path does, so training sees
the same noise as serving.

Held-out data are whole time blocks, never random rows: neighbouring windows share observations, and a random
split would let a model score well by memorising them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.positioning.datasets import KOLAKOWSKI_TAG_ID, Samples
from core.positioning.gateways import GatewayTable
from core.positioning.windows import Windows, aggregate_windows


class TrainingDataError(ValueError):
    """Calibration data cannot be used; the message names the field and the problem."""


@dataclass(frozen=True, slots=True, eq=False)
class CalibrationData:
    """Long observations with ground truth: all arrays have one entry per observation."""

    ts_s: np.ndarray  # epoch seconds
    tag_ids: np.ndarray  # str
    gateway_ids: np.ndarray  # str
    rssi_dbm: np.ndarray
    true_x: np.ndarray  # metres, site frame
    true_y: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.ts_s)
        for name in ("tag_ids", "gateway_ids", "rssi_dbm", "true_x", "true_y"):
            if len(getattr(self, name)) != n:
                raise TrainingDataError(f"{name}: has {len(getattr(self, name))} rows, ts_s has {n}")
        for name in ("ts_s", "rssi_dbm", "true_x", "true_y"):
            if not np.all(np.isfinite(getattr(self, name))):
                raise TrainingDataError(f"{name}: must be finite numbers in every row")

    def __len__(self) -> int:
        return len(self.ts_s)

    @classmethod
    def from_samples(cls, samples: Samples, tag_id: str = KOLAKOWSKI_TAG_ID) -> CalibrationData:
        """A loaded Kolakowski file (robot ground truth interpolated to each observation)."""
        if not np.isfinite(samples.truth_x).any():
            raise TrainingDataError("truth_x: the file has no ground truth (x, y columns) to train on")
        true_x, true_y = samples.truth_at(samples.ts_s)
        return cls(
            ts_s=np.asarray(samples.ts_s, float),
            tag_ids=np.full(len(samples.ts_s), tag_id, dtype=object),
            gateway_ids=np.asarray(samples.gateway_ids, dtype=object),
            rssi_dbm=np.asarray(samples.rssi_dbm, float),
            true_x=true_x,
            true_y=true_y,
        )

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, object]]) -> CalibrationData:
        """Rows with `ts` (epoch seconds), `tag_id`, `gateway_id`, `rssi`, `x`, `y` — e.g. calibration points
        joined with the observations heard during their windows."""
        if not rows:
            raise TrainingDataError("rows: no calibration observations")
        columns: dict[str, list[float]] = {"ts": [], "rssi": [], "x": [], "y": []}
        tags: list[str] = []
        gateways: list[str] = []
        for number, row in enumerate(rows, start=1):
            for key in columns:
                value = row.get(key)
                try:
                    columns[key].append(float(value))  # type: ignore[arg-type]
                except (TypeError, ValueError):
                    raise TrainingDataError(f"row {number}: {key} must be a number, got {value!r}") from None
            for key, out in (("tag_id", tags), ("gateway_id", gateways)):
                value = row.get(key)
                if value is None or str(value).strip() == "":
                    raise TrainingDataError(f"row {number}: missing {key}")
                out.append(str(value).strip())
        return cls(
            ts_s=np.array(columns["ts"]),
            tag_ids=np.array(tags, dtype=object),
            gateway_ids=np.array(gateways, dtype=object),
            rssi_dbm=np.array(columns["rssi"]),
            true_x=np.array(columns["x"]),
            true_y=np.array(columns["y"]),
        )

    def take(self, rows: np.ndarray) -> CalibrationData:
        return CalibrationData(
            self.ts_s[rows],
            self.tag_ids[rows],
            self.gateway_ids[rows],
            self.rssi_dbm[rows],
            self.true_x[rows],
            self.true_y[rows],
        )

    def split_time_blocks(
        self, blocks: int = 9, held_every: int = 3
    ) -> tuple[CalibrationData, CalibrationData]:
        """(train, held-out): the time span cut into `blocks` equal-count blocks, every `held_every`-th held out."""
        if len(self) < 2 * blocks:
            raise TrainingDataError(
                f"rows: {len(self)} observations are too few to hold out {blocks} time blocks"
            )
        edges = np.quantile(self.ts_s, np.linspace(0, 1, blocks + 1)[1:-1])
        held = (np.searchsorted(edges, self.ts_s) % held_every) == held_every - 1
        return self.take(np.flatnonzero(~held)), self.take(np.flatnonzero(held))


@dataclass(frozen=True, slots=True, eq=False)
class TruthWindows:
    """Windows (as the realtime path builds them) plus the true position of the tag at each fix time."""

    windows: Windows
    true_x: np.ndarray
    true_y: np.ndarray
    gateways: GatewayTable  # the table `windows.gateway` indexes into

    def __len__(self) -> int:
        return len(self.windows)


def windows_with_truth(
    data: CalibrationData,
    gateways: GatewayTable,
    *,
    window_s: float,
    fix_interval_s: float = 0.5,
) -> TruthWindows:
    """Aggregate `data` into windows over `gateways` (unknown gateway ids are ignored) and attach the truth,
    interpolated per tag at each fix time."""
    index = gateways.index_of(data.gateway_ids)
    if not (index >= 0).any():
        raise TrainingDataError("gateway_id: none of the calibration observations is from a known gateway")
    windows = aggregate_windows(
        data.ts_s, data.tag_ids, index, data.rssi_dbm, window_s=window_s, fix_interval_s=fix_interval_s
    )
    true_x, true_y = np.full(len(windows), np.nan), np.full(len(windows), np.nan)
    tags = np.asarray(data.tag_ids).astype(str)
    for code, tag in enumerate(windows.tag_ids.astype(str)):
        rows = np.flatnonzero(tags == tag)
        order = rows[np.argsort(data.ts_s[rows], kind="stable")]
        fixes = windows.fix_tag == code
        true_x[fixes] = np.interp(windows.fix_ts[fixes], data.ts_s[order], data.true_x[order])
        true_y[fixes] = np.interp(windows.fix_ts[fixes], data.ts_s[order], data.true_y[order])
    return TruthWindows(windows, true_x, true_y, gateways)
