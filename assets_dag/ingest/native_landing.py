"""The native landing sink (Go, `lakehouse/native/landing`): one hour of observations from Kafka to Parquet.

The Python path tops out near 100k observations/s because confluent-kafka's Python API alone costs ~4 µs a
message; the native sink consumes, decodes, de-duplicates, sorts and writes in one process at several times
that. It applies the same window and decoding rules as `topic_window.py` and `records.py` and writes the
OBSERVATIONS schema. `make landing` builds it; when it is missing or older than its sources and Go is on the
PATH it is built here (Go caches the build, so an up-to-date rebuild costs well under a second).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.store import S3Options

SOURCE_DIR = Path(__file__).resolve().parents[2] / "lakehouse" / "native" / "landing"
BINARY = SOURCE_DIR / "bin" / "asset-tag-landing"
BUILD_TIMEOUT_S = 900.0  # a first build downloads the Go modules

log = logging.getLogger(__name__)


class NativeLandingError(RuntimeError):
    """The native sink failed; the message is its one-line explanation (topic, field or upload)."""


@dataclass(frozen=True)
class NativeLanded:
    """What the sink reports on its one summary line."""

    uri: str
    rows: int
    topic_records: int
    rejected: int
    duplicates: int
    outside_window: int
    bytes: int
    reasons: list[str] = field(default_factory=list)


def supports(kafka_config: dict[str, str]) -> bool:
    """The sink speaks plaintext Kafka only; SASL/TLS clusters are landed by the Python path."""
    protocol = str(kafka_config.get("security.protocol", "PLAINTEXT")).upper()
    return protocol == "PLAINTEXT" and not kafka_config.get("sasl.mechanism")


def binary() -> Path | None:
    """The sink's executable, built first if missing or stale and Go is installed; None if it cannot be had."""
    if BINARY.exists() and not _stale():
        return BINARY
    go = shutil.which("go")
    if go is None:
        return BINARY if BINARY.exists() else None  # stale beats the Python path; warn the caller otherwise
    log.info("building the native landing sink in %s", SOURCE_DIR)
    try:
        subprocess.run(
            [go, "build", "-trimpath", "-o", str(BINARY), "."],
            cwd=SOURCE_DIR,
            check=True,
            capture_output=True,
            timeout=BUILD_TIMEOUT_S,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        log.warning(
            "building the native landing sink failed: %s %s", exc, detail.decode(errors="replace")[-500:]
        )
        return BINARY if BINARY.exists() else None
    return BINARY


def _stale() -> bool:
    built = BINARY.stat().st_mtime
    sources = [*SOURCE_DIR.glob("*.go"), SOURCE_DIR / "go.mod", SOURCE_DIR / "go.sum"]
    return any(source.stat().st_mtime > built for source in sources if source.exists())


def land_window(
    executable: Path,
    kafka_config: dict[str, str],
    topic: str,
    start: dt.datetime,
    end: dt.datetime,
    target_uri: str,
    s3: S3Options,
    *,
    slack_s: float = 300.0,
    timeout_s: float = 30.0,
) -> NativeLanded:
    """Replace the object at `target_uri` (s3://bucket/key or an absolute path) with the records of `topic`
    whose timestamp is in [start, end), decoded, de-duplicated and sorted as records.OBSERVATIONS says."""
    request = {
        "brokers": [b.strip() for b in str(kafka_config["bootstrap.servers"]).split(",") if b.strip()],
        "topic": topic,
        "start_ms": _ms(start),
        "end_ms": _ms(end),
        "slack_ms": round(slack_s * 1000),
        "timeout_s": timeout_s,
        "output": {
            "uri": target_uri,
            "endpoint_url": s3.endpoint_url or "",
            "access_key_id": s3.access_key_id or "",
            "secret_access_key": s3.secret_access_key or "",
            "region": s3.region,
        },
    }
    # Credentials go on stdin, not the command line, so they never show in the process list.
    done = subprocess.run(
        [str(executable)], input=json.dumps(request).encode(), capture_output=True, check=False
    )
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip() or f"exit status {done.returncode}"
        raise NativeLandingError(f"native landing of {topic}: {message.splitlines()[-1]}")
    summary = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return NativeLanded(
        uri=summary["uri"],
        rows=summary["rows"],
        topic_records=summary["topic_records"],
        rejected=summary["rejected"],
        duplicates=summary["duplicates"],
        outside_window=summary["outside_window"],
        bytes=summary["bytes"],
        reasons=list(summary["reasons"] or []),
    )


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)
