"""Loader for the Kolakowski flat data set (real BLE measurements with ground truth, CC BY 4.0).

The files are wide: one row per sample with `ts` (ns), the robot's true `x`, `y` and one `rssi_<anchor>` column per
anchor (empty = not heard). The platform works on long observations (ts, tag, gateway, rssi), so `load_samples`
turns each row into up to six observations of one tag, keeping the ground truth per sample for scoring.
See tests/data/README.md for the source and licence.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

KOLAKOWSKI_TAG_ID = "ROBOT"


@dataclass(frozen=True, slots=True)
class Samples:
    """Long-format observations of one tag plus the tag's ground truth per sample."""

    ts_s: np.ndarray  # (n_obs,) epoch seconds
    gateway_ids: np.ndarray  # (n_obs,) str
    rssi_dbm: np.ndarray  # (n_obs,) float
    truth_ts_s: np.ndarray  # (n_samples,)
    truth_x: np.ndarray  # (n_samples,) NaN when the file has no ground truth (the walk)
    truth_y: np.ndarray

    def truth_at(self, ts_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """True position interpolated linearly at the given times (the robot moves slowly and smoothly)."""
        return (
            np.interp(ts_s, self.truth_ts_s, self.truth_x),
            np.interp(ts_s, self.truth_ts_s, self.truth_y),
        )


def load_anchors(path: str | Path) -> list[dict[str, object]]:
    """`anchors.csv` (id,x,y,z) as gateway rows ready for `GatewayTable.from_rows`."""
    with Path(path).open(newline="") as handle:
        return [
            {"gateway_id": row["id"], "x": float(row["x"]), "y": float(row["y"]), "z": float(row["z"])}
            for row in csv.DictReader(handle)
        ]


def load_samples(path: str | Path) -> Samples:
    """A `*_df.csv` file as long observations of the tag `ROBOT` with per-sample ground truth."""
    with Path(path).open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [row for row in reader if row]
    column = {name: index for index, name in enumerate(header)}
    rssi_columns = [
        (name.removeprefix("rssi_"), index) for name, index in column.items() if name.startswith("rssi_")
    ]
    ts = np.array([float(row[column["ts"]]) for row in rows]) / 1e9

    def numbers(index: int) -> np.ndarray:
        return np.array([float(row[index]) if row[index] != "" else np.nan for row in rows])

    nan = np.full(ts.shape, np.nan)
    truth_x = numbers(column["x"]) if "x" in column else nan
    truth_y = numbers(column["y"]) if "y" in column else nan
    obs_ts, obs_gw, obs_rssi = [], [], []
    for gateway_id, index in rssi_columns:
        values = numbers(index)
        heard = ~np.isnan(values)
        obs_ts.append(ts[heard])
        obs_gw.append(np.full(int(heard.sum()), gateway_id, dtype=object))
        obs_rssi.append(values[heard])
    order = np.argsort(np.concatenate(obs_ts), kind="stable")
    return Samples(
        ts_s=np.concatenate(obs_ts)[order],
        gateway_ids=np.concatenate(obs_gw)[order],
        rssi_dbm=np.concatenate(obs_rssi)[order],
        truth_ts_s=ts,
        truth_x=truth_x,
        truth_y=truth_y,
    )


def export_for_locate(data_dir: str | Path, out_dir: str | Path) -> dict[str, Path]:
    """Write the data set in `assettag locate`'s formats: gateways.csv, observations.csv (the robot test run),
    calibration.csv (the calibration walk with true x, y) and truth.csv (the robot's true path)."""
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / f"{name}.csv" for name in ("gateways", "observations", "calibration", "truth")}
    with paths["gateways"].open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["gateway_id", "x", "y", "z"])
        for row in load_anchors(data_dir / "anchors.csv"):
            writer.writerow([row["gateway_id"], row["x"], row["y"], row["z"]])
    for name, source in (
        ("observations", "tests/test_robot_df.csv"),
        ("calibration", "calibration/calibration_df.csv"),
    ):
        samples = load_samples(data_dir / source)
        with paths[name].open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                ["ts", "tag_id", "gateway_id", "rssi"] + (["x", "y"] if name == "calibration" else [])
            )
            tx, ty = samples.truth_at(samples.ts_s)
            for i in range(len(samples.ts_s)):
                cells: list[str] = [
                    f"{samples.ts_s[i] * 1000.0:.1f}",
                    KOLAKOWSKI_TAG_ID,
                    samples.gateway_ids[i],
                    f"{samples.rssi_dbm[i]:.2f}",
                ]
                writer.writerow(cells + ([f"{tx[i]:.3f}", f"{ty[i]:.3f}"] if name == "calibration" else []))
    robot = load_samples(data_dir / "tests/test_robot_df.csv")
    with paths["truth"].open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ts", "x", "y"])
        for t, x, y in zip(robot.truth_ts_s, robot.truth_x, robot.truth_y, strict=True):
            writer.writerow([f"{t * 1000.0:.1f}", f"{x:.3f}", f"{y:.3f}"])
    return paths
