"""The native landing sink's own rules (Go unit tests) and how the Python side talks to it."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import pytest

from assets_dag.ingest import native_landing
from lakehouse.store import S3Options

pytestmark = pytest.mark.unit

START = dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)


def test_go_unit_tests_of_the_sink_pass() -> None:
    go = shutil.which("go")
    assert go is not None, "Go is needed to build the native landing sink (make landing)"
    done = subprocess.run(
        [go, "test", "./..."], cwd=native_landing.SOURCE_DIR, capture_output=True, timeout=600
    )
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()


def test_binary_gives_an_executable_built_from_the_current_sources() -> None:
    executable = native_landing.binary()
    assert executable == native_landing.BINARY and executable.exists()
    assert not native_landing._stale()


def test_bad_input_is_one_line_naming_the_field() -> None:
    executable = native_landing.binary()
    assert executable is not None
    with pytest.raises(native_landing.NativeLandingError, match=r"output\.uri: expected s3://bucket/key"):
        native_landing.land_window(
            executable,
            {"bootstrap.servers": "127.0.0.1:9"},
            "ble.observations",
            START,
            START + dt.timedelta(hours=1),
            "relative/part-0.parquet",
            S3Options(),
        )


@pytest.mark.parametrize(
    ("config", "supported"),
    [
        ({"bootstrap.servers": "k:9092"}, True),
        ({"bootstrap.servers": "k:9092", "security.protocol": "plaintext"}, True),
        ({"bootstrap.servers": "k:9092", "security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN"}, False),
        ({"bootstrap.servers": "k:9092", "security.protocol": "SSL"}, False),
    ],
)
def test_only_plaintext_clusters_go_to_the_sink(config: dict[str, str], supported: bool) -> None:
    assert native_landing.supports(config) is supported
