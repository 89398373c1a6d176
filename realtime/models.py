"""Serving trained location models to the realtime consumer: each site's `champion` from the MLflow registry.

`ModelRegistryWatcher` loads every site's champion at start and then polls the registry (one search request per
poll for all sites); when a site's alias moves it downloads the new version in its background thread and swaps it
in with one reference assignment, so the consumer loop never waits and never restarts.

Failure policy — the consumer never stops because of ML:
- registry unreachable at start → `current()` is None and the caller uses the path-loss chain (trilateration);
- registry unreachable later → the last good model keeps serving; `status()` says what failed and since when;
- a version that fails to download or load → the previous model stays, the failure is retried next poll;
- alias removed → the site goes back to the path-loss chain.

Use:
    watcher = ModelRegistryWatcher(settings)      # tracking URI from settings (MLFLOW_TRACKING_URI)
    watcher.start()                               # first load in the background; returns at once
    model = watcher.current(site_id)              # LocationModel | None, cheap, lock-free
    fixes = model.estimate(catalog.gateways, gw, rssi, sample_count=..., bounds=...) if model else estimate_batch(...)
    fix.model_version = model.version             # "<registered name>/<version>" recorded on each fix
    watcher.stop()
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.ml.location_model import LocationModel
from core.ml.registry_names import CHAMPION_ALIAS, LOCATION_MODEL_PREFIX, site_of_location_model
from core.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL_S = 30.0
# The MLflow REST client retries for minutes by default; a poller should fail fast and try again next poll.
_HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


@dataclass(frozen=True, slots=True)
class WatcherStatus:
    healthy: bool  # the last poll reached the registry
    last_success_monotonic: float | None
    last_error: str | None
    versions: dict[str, str]  # site id → served version label


class ModelRegistryWatcher:
    """Keeps the champion `LocationModel` of every site, refreshed by polling the MLflow registry."""

    def __init__(
        self,
        settings: Settings,
        *,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        on_change: Callable[[str, LocationModel | None], None] | None = None,
    ) -> None:
        if poll_interval_s <= 0:
            raise ValueError(f"poll_interval_s must be positive, got {poll_interval_s}")
        for name, value in _HTTP_DEFAULTS.items():
            os.environ.setdefault(name, value)
        self.tracking_uri = settings.mlflow_tracking_uri
        self.poll_interval_s = poll_interval_s
        self._on_change = on_change
        self._models: dict[
            str, LocationModel
        ] = {}  # replaced whole on change: readers never see a half update
        self._failed: dict[str, str] = {}  # site → version label that failed to load (retried next poll)
        self._healthy = False
        self._last_success: float | None = None
        self._last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: Any = None

    # --- what the consumer calls --------------------------------------------------------------------------
    def current(self, site_id: object) -> LocationModel | None:
        """The champion model of `site_id`, or None (use the path-loss chain). Never blocks, never raises."""
        return self._models.get(str(site_id))

    def status(self) -> WatcherStatus:
        return WatcherStatus(
            self._healthy,
            self._last_success,
            self._last_error,
            {site: model.version or "" for site, model in self._models.items()},
        )

    def start(self) -> None:
        """Poll in a daemon thread (the first poll runs immediately)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="model-registry-watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    # --- polling ------------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self.poll_interval_s)

    def refresh(self) -> bool:
        """One poll: read every site's champion alias and load what changed. True when the registry answered."""
        try:
            champions = self._champions()
        except Exception as exc:  # noqa: BLE001 — any registry failure means "keep serving what we have"
            self._healthy = False
            self._last_error = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("model registry unreachable, keeping %d loaded model(s): %s", len(self._models), exc)
            return False
        self._healthy = True
        self._last_success = time.monotonic()
        self._last_error = None
        models = dict(self._models)
        changed: list[str] = []
        for site in set(models) - set(champions):  # alias removed: back to the path-loss chain
            del models[site]
            changed.append(site)
        for site, (name, version) in champions.items():
            label = f"{name}/{version}"
            served = models.get(site)
            if (served is not None and served.version == label) or self._failed.get(site) == label:
                continue
            try:
                models[site] = self._load(name, version).with_version(label)
                self._failed.pop(site, None)
                changed.append(site)
                log.info("serving %s for site %s", label, site)
            except Exception as exc:  # noqa: BLE001 — a bad version must not take the site's model away
                self._failed[site] = label
                self._last_error = f"loading {label}: {type(exc).__name__}: {exc}"[:500]
                log.error("could not load %s, keeping the previous model: %s", label, exc)
        self._models = models
        if self._on_change is not None:
            for site in changed:
                self._on_change(site, models.get(site))
        return True

    def _champions(self) -> dict[str, tuple[str, str]]:
        """site → (registered model name, champion version), for every site that has a champion."""
        from mlflow import MlflowClient

        if self._client is None:
            self._client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        found: dict[str, tuple[str, str]] = {}
        page_token = None
        while True:
            page = self._client.search_registered_models(
                filter_string=f"name LIKE '{LOCATION_MODEL_PREFIX}%'", page_token=page_token
            )
            for registered in page:
                site = site_of_location_model(registered.name)
                version = (registered.aliases or {}).get(CHAMPION_ALIAS)
                if site is not None and version is not None:
                    found[site] = (registered.name, str(version))
            page_token = page.token
            if not page_token:
                return found

    def _load(self, name: str, version: str) -> LocationModel:
        import mlflow

        with tempfile.TemporaryDirectory(prefix="asset-tag-model-") as tmp:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version}",
                dst_path=tmp,
                tracking_uri=self.tracking_uri,
                registry_uri=self.tracking_uri,
            )
            meta = next(Path(local).rglob("location_model.json"), None)
            if meta is None:
                raise FileNotFoundError(f"models:/{name}/{version} holds no location_model.json")
            return LocationModel.load(meta.parent)
