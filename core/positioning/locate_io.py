"""Reading and writing the files of `assettag locate`, with errors that name the file, line and field."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from core.errors import CommandError

OBSERVATION_COLUMNS = ("ts", "tag_id", "gateway_id", "rssi")
FIX_COLUMNS = ("ts", "tag_id", "x", "y", "accuracy_m", "confidence", "method", "gateway_count")


@dataclass(frozen=True, slots=True, eq=False)
class ObservationFile:
    ts_s: np.ndarray
    tag_id: np.ndarray  # object (str)
    gateway_id: np.ndarray  # object (str)
    rssi_dbm: np.ndarray
    true_x: np.ndarray | None = None  # calibration files only
    true_y: np.ndarray | None = None


def parse_ts(value: str) -> float:
    """Epoch seconds from epoch milliseconds (a number) or RFC 3339 text (naive times are taken as UTC)."""
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {value!r}")
    return number / 1000.0


def format_ts(ts_s: float) -> str:
    return datetime.fromtimestamp(ts_s, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _open_rows(path: Path, required: tuple[str, ...]) -> tuple[list[str], list[tuple[int, list[str]]]]:
    if not path.exists():
        raise CommandError(f"{path}: no such file")
    if path.suffix.lower() == ".parquet":
        return _parquet_rows(path, required)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise CommandError(f"{path}: the file is empty")
            header = [name.strip() for name in header]
            rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except UnicodeDecodeError:
        raise CommandError(f"{path}: not a UTF-8 text CSV file") from None
    except csv.Error as exc:
        raise CommandError(f"{path}: unreadable CSV ({exc})") from None
    missing = [name for name in required if name not in header]
    if missing:
        raise CommandError(f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(header)})")
    if not rows:
        raise CommandError(f"{path}: no data rows after the header")
    return header, rows


def _parquet_rows(path: Path, required: tuple[str, ...]) -> tuple[list[str], list[tuple[int, list[str]]]]:
    import pyarrow.parquet as pq  # lazily: only Parquet input needs it

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise CommandError(f"{path}: unreadable Parquet file ({exc})") from None
    header = list(table.column_names)
    missing = [name for name in required if name not in header]
    if missing:
        raise CommandError(f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(header)})")
    if table.num_rows == 0:
        raise CommandError(f"{path}: no data rows")
    columns = []
    for name in header:
        column = table.column(name)
        if name == "ts" and str(column.type).startswith("timestamp"):
            values = [str(v.timestamp() * 1000.0) if v is not None else "" for v in column.to_pylist()]
        else:
            values = ["" if v is None else str(v) for v in column.to_pylist()]
        columns.append(values)
    return header, [(i + 1, list(row)) for i, row in enumerate(zip(*columns, strict=True))]


def read_gateway_rows(path: Path) -> list[dict[str, str]]:
    header, rows = _open_rows(path, ("gateway_id", "x", "y"))
    out = []
    for line, row in rows:
        if len(row) != len(header):
            raise CommandError(f"{path}, line {line}: expected {len(header)} fields, got {len(row)}")
        out.append(dict(zip(header, (cell.strip() for cell in row), strict=True)))
    return out


def read_observations(path: Path, *, with_truth: bool = False) -> ObservationFile:
    required = OBSERVATION_COLUMNS + (("x", "y") if with_truth else ())
    header, rows = _open_rows(path, required)
    index = {name: header.index(name) for name in required}
    ts, tags, gateways, rssi, xs, ys = [], [], [], [], [], []
    for line, row in rows:
        if len(row) < len(header):
            raise CommandError(f"{path}, line {line}: expected {len(header)} fields, got {len(row)}")
        field = "ts"
        try:
            ts.append(parse_ts(row[index["ts"]]))
            field = "rssi"
            value = float(row[index["rssi"]])
            if not -130.0 <= value <= 20.0:
                raise ValueError("outside -130..20 dBm")
            rssi.append(value)
            if with_truth:
                field = "x"
                xs.append(float(row[index["x"]]))
                field = "y"
                ys.append(float(row[index["y"]]))
        except ValueError as exc:
            raise CommandError(f"{path}, line {line}: bad {field} {row[index[field]]!r} ({exc})") from None
        tag, gateway = row[index["tag_id"]].strip(), row[index["gateway_id"]].strip()
        if not tag or not gateway:
            raise CommandError(f"{path}, line {line}: empty {'tag_id' if not tag else 'gateway_id'}")
        tags.append(tag)
        gateways.append(gateway)
    return ObservationFile(
        ts_s=np.array(ts),
        tag_id=np.array(tags, dtype=object),
        gateway_id=np.array(gateways, dtype=object),
        rssi_dbm=np.array(rssi),
        true_x=np.array(xs) if with_truth else None,
        true_y=np.array(ys) if with_truth else None,
    )


def write_fixes(
    path: Path,
    ts_s: np.ndarray,
    tag_id: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    accuracy_m: np.ndarray,
    confidence: np.ndarray,
    method: np.ndarray,
    gateway_count: np.ndarray,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIX_COLUMNS)
        for row in zip(ts_s, tag_id, x, y, accuracy_m, confidence, method, gateway_count, strict=True):
            t, tag, fx, fy, acc, conf, name, count = row
            writer.writerow(
                [
                    format_ts(float(t)),
                    tag,
                    f"{fx:.3f}",
                    f"{fy:.3f}",
                    f"{acc:.2f}",
                    f"{conf:.3f}",
                    name,
                    int(count),
                ]
            )
