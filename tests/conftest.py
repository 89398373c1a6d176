"""Fixtures for every test: a clean, embedded configuration unless a test asks for real services."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import ENV_PREFIX, Settings, get_settings

DATA_DIR = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def embedded_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Each test starts from the embedded defaults in its own data directory.

    The developer's shell may have the services' ASSET_TAG_* URLs exported; a unit test must not pick them up
    by accident, and integration tests pass their URLs explicitly (see tests/integration/conftest.py).
    """
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX) or name == "MLFLOW_TRACKING_URI":
            monkeypatch.delenv(name)
    monkeypatch.setenv("ASSET_TAG_DATA_DIR", str(tmp_path / "asset-tag"))
    monkeypatch.chdir(tmp_path)  # no stray .env from the repo root
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()
