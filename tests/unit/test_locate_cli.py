"""`assettag locate`: works end to end on the real data set, and every bad input gets one clear line."""

import csv

import numpy as np
import pytest

from core.cli import main
from core.positioning.datasets import export_for_locate
from core.positioning.locate_io import parse_ts

pytestmark = pytest.mark.unit

DATA = "tests/data/kolakowski-flat"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return export_for_locate(DATA, tmp_path_factory.mktemp("kolakowski"))


def write(path, text):
    path.write_text(text)
    return path


def read_fixes(path):
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_locates_the_robot_run_within_two_metres_median(files, tmp_path):
    out = tmp_path / "fixes.csv"
    code = main(
        [
            "locate",
            "--gateways",
            str(files["gateways"]),
            "--observations",
            str(files["observations"]),
            "--out",
            str(out),
            "--window-s",
            "2",
        ]
    )
    assert code == 0
    rows = read_fixes(out)
    assert list(rows[0]) == ["ts", "tag_id", "x", "y", "accuracy_m", "confidence", "method", "gateway_count"]
    ts = np.array([parse_ts(r["ts"]) for r in rows])
    steps = np.diff(ts)
    assert (
        np.allclose(steps / 0.5, np.round(steps / 0.5)) and np.mean(np.isclose(steps, 0.5)) > 0.95
    )  # every 0.5 s
    assert len(rows) > 600  # while heard: the run is ~350 s with a few gaps
    with files["truth"].open() as handle:
        truth = list(csv.DictReader(handle))
    t = np.array([float(r["ts"]) / 1000 for r in truth])
    tx = np.interp(ts, t, [float(r["x"]) for r in truth])
    ty = np.interp(ts, t, [float(r["y"]) for r in truth])
    error = np.hypot(
        np.array([float(r["x"]) for r in rows]) - tx, np.array([float(r["y"]) for r in rows]) - ty
    )
    assert np.median(error) < 2.0
    within = np.mean(error <= np.array([float(r["accuracy_m"]) for r in rows]))
    assert 0.6 <= within <= 0.85
    assert {r["method"] for r in rows} == {"trilateration"}


def test_unknown_gateways_are_counted_and_skipped(files, tmp_path, capsys):
    observations = tmp_path / "obs.csv"
    lines = files["observations"].read_text().splitlines()[:200]
    lines += ["1628008100000,ROBOT,GW-NOPE,-70", "1628008100100,ROBOT,GW-NOPE,-71"]
    write(observations, "\n".join(lines) + "\n")
    out = tmp_path / "fixes.csv"
    assert (
        main(
            [
                "locate",
                "--gateways",
                str(files["gateways"]),
                "--observations",
                str(observations),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "skipped 2 observations from 1 unknown gateway(s)" in capsys.readouterr().err
    assert len(read_fixes(out)) > 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("ts,tag_id,rssi\n1000,T1,-60\n", "missing column(s) gateway_id"),
        ("ts,tag_id,gateway_id,rssi\n1000,T1,1,-60\nyesterday,T1,1,-61\n", "line 3: bad ts 'yesterday'"),
        ("ts,tag_id,gateway_id,rssi\n1000,T1,1,loud\n", "line 2: bad rssi 'loud'"),
        ("ts,tag_id,gateway_id,rssi\n1000,T1,1,-600\n", "outside -130..20 dBm"),
        ("", "the file is empty"),
        ("ts,tag_id,gateway_id,rssi\n", "no data rows"),
        ("ts,tag_id,gateway_id,rssi\n1000,T1,9,-60\n", "none of the 1 observations is from a gateway"),
    ],
)
def test_bad_observation_files_get_one_clear_line(files, tmp_path, capsys, content, message):
    observations = write(tmp_path / "obs.csv", content)
    code = main(
        [
            "locate",
            "--gateways",
            str(files["gateways"]),
            "--observations",
            str(observations),
            "--out",
            str(tmp_path / "fixes.csv"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "obs.csv" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_gateway_file_and_missing_files(tmp_path, files, capsys):
    gateways = write(tmp_path / "gw.csv", "gateway_id,x,y\nA,1,north\n")
    assert (
        main(
            [
                "locate",
                "--gateways",
                str(gateways),
                "--observations",
                str(files["observations"]),
                "--out",
                str(tmp_path / "f.csv"),
            ]
        )
        == 2
    )
    assert "gw.csv: gateway 'A': y must be a number" in capsys.readouterr().err
    assert (
        main(
            [
                "locate",
                "--gateways",
                str(tmp_path / "nope.csv"),
                "--observations",
                str(files["observations"]),
                "--out",
                str(tmp_path / "f.csv"),
            ]
        )
        == 2
    )
    assert "nope.csv: no such file" in capsys.readouterr().err


def test_calibration_file_needs_true_positions(files, tmp_path, capsys):
    calibration = write(tmp_path / "calib.csv", "ts,tag_id,gateway_id,rssi\n1000,T1,1,-60\n")
    assert (
        main(
            [
                "locate",
                "--gateways",
                str(files["gateways"]),
                "--observations",
                str(files["observations"]),
                "--out",
                str(tmp_path / "f.csv"),
                "--calibration",
                str(calibration),
            ]
        )
        == 2
    )
    assert "calib.csv: missing column(s) x, y" in capsys.readouterr().err


def test_rfc3339_and_epoch_ms_timestamps_agree():
    assert parse_ts("2026-01-01T00:00:01.500Z") == parse_ts("1767225601500") == 1767225601.5
    assert parse_ts("2026-01-01T01:00:00+01:00") == 1767225600.0


def truth_error(files, rows):
    with files["truth"].open() as handle:
        truth = list(csv.DictReader(handle))
    t = np.array([float(r["ts"]) / 1000 for r in truth])
    ts = np.array([parse_ts(r["ts"]) for r in rows])
    tx = np.interp(ts, t, [float(r["x"]) for r in truth])
    ty = np.interp(ts, t, [float(r["y"]) for r in truth])
    return np.hypot(
        np.array([float(r["x"]) for r in rows]) - tx, np.array([float(r["y"]) for r in rows]) - ty
    )


@pytest.mark.slow
def test_calibration_file_trains_a_fingerprint_that_beats_zero_config(files, tmp_path, capsys):
    out = tmp_path / "fixes.csv"
    assert (
        main(
            [
                "locate",
                "--gateways",
                str(files["gateways"]),
                "--observations",
                str(files["observations"]),
                "--calibration",
                str(files["calibration"]),
                "--out",
                str(out),
                "--window-s",
                "2",
            ]
        )
        == 0
    )
    assert "fingerprint model trained" in capsys.readouterr().err
    rows = read_fixes(out)
    assert {r["method"] for r in rows} == {"fingerprint"}
    assert np.median(truth_error(files, rows)) < 1.1


def test_parquet_observations_with_timestamp_column(files, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    with files["observations"].open() as handle:
        rows = list(csv.DictReader(handle))[:600]
    table = pa.table(
        {
            "ts": pa.array([int(float(r["ts"])) for r in rows], type=pa.timestamp("ms", tz="UTC")),
            "tag_id": [r["tag_id"] for r in rows],
            "gateway_id": [r["gateway_id"] for r in rows],
            "rssi": [float(r["rssi"]) for r in rows],
        }
    )
    pq.write_table(table, tmp_path / "obs.parquet")
    out = tmp_path / "fixes.csv"
    assert (
        main(
            [
                "locate",
                "--gateways",
                str(files["gateways"]),
                "--observations",
                str(tmp_path / "obs.parquet"),
                "--out",
                str(out),
                "--window-s",
                "2",
            ]
        )
        == 0
    )
    fixes = read_fixes(out)
    assert len(fixes) > 50 and np.median(truth_error(files, fixes)) < 2.5
