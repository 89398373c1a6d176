"""`assettag demo` as a user runs it: one command, no services; within a short while the API answers, the live
map is served, and the simulated assets have locations that change as they move."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

START_TIMEOUT_S = 180  # imports alone take a while on a busy 2-core CI machine
KEY_LINE = re.compile(r"API key\s+(atk_\S+)")


class DemoProcess:
    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.base_url = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self.key_seen = threading.Event()
        self.api_key = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            if match := KEY_LINE.search(line):
                self.api_key = match.group(1)
                self.key_seen.set()

    def wait_for_key(self, timeout_s: float) -> bool:
        """True once the key line is printed; False on timeout or as soon as the demo exits."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.process.poll() is None:
            if self.key_seen.wait(0.5):
                return True
        return self.key_seen.is_set()

    def output(self) -> str:
        return "\n".join(self.lines[-40:])


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoProcess]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSET_TAG_")}  # no services on purpose
    env["ASSET_TAG_DATA_DIR"] = str(tmp_path / "demo-data")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "core.cli",
            "demo",
            "--port",
            str(port),
            "--assets",
            "12",
            "--duration-s",
            "400",
        ],
        cwd=Path(__file__).parents[2],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = DemoProcess(process, port)
    try:
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _locations(client: httpx.Client, site_id: str) -> dict[str, tuple[float, float]]:
    body = client.get(f"/api/v1/sites/{site_id}/locations", params={"limit": 500}).raise_for_status().json()
    return {fix["asset_id"]: (fix["x"], fix["y"]) for fix in body["items"]}


def test_demo_serves_the_api_and_the_map_with_moving_assets(demo: DemoProcess) -> None:
    assert demo.wait_for_key(START_TIMEOUT_S), f"the demo never printed its key:\n{demo.output()}"
    assert f"{demo.base_url}/map?api_key={demo.api_key}" in demo.output()

    with httpx.Client(base_url=demo.base_url, headers={"X-API-Key": demo.api_key}, timeout=10) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/map").status_code == 200
        sites = client.get("/api/v1/sites").raise_for_status().json()["items"]
        assert [site["name"] for site in sites] == ["Demo site"]
        site_id = sites[0]["id"]
        assets = (
            client.get("/api/v1/assets", params={"site_id": site_id, "limit": 100}).raise_for_status().json()
        )
        assert assets["total"] == 12

        deadline = time.monotonic() + 90
        first: dict[str, tuple[float, float]] = {}
        while time.monotonic() < deadline and len(first) < 6:
            time.sleep(1)
            first = _locations(client, site_id)
        assert len(first) >= 6, f"only {len(first)} of 12 assets located after 90 s:\n{demo.output()}"

        # Each located asset answers on its own location route too.
        asset_id = next(iter(first))
        fix = client.get(f"/api/v1/assets/{asset_id}/location").raise_for_status().json()
        assert fix["asset_id"] == asset_id and fix["accuracy_m"] > 0

        moved: set[str] = set()
        while time.monotonic() < deadline + 30 and not moved:
            time.sleep(2)
            now = _locations(client, site_id)
            moved = {
                a
                for a, xy in now.items()
                if a in first and abs(xy[0] - first[a][0]) + abs(xy[1] - first[a][1]) > 1
            }
        assert moved, "no asset moved: the simulator or the realtime loop is not running"

    demo.process.send_signal(signal.SIGINT)
    assert demo.process.wait(timeout=30) == 0, demo.output()
