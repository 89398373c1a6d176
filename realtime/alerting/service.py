"""The background half of alerting in a consumer process: the ticker (time-based rules, escalations) and the
notification delivery worker, each on a daemon thread. `assettag consume` gets them through
`realtime.zones_stage.build_stages`; they stop with the process (both are safe to kill at any point: the ticker
works in single transactions, the worker's claimed rows are retried after their lease)."""

from __future__ import annotations

import logging
import threading

from core.db.engine import make_engine
from core.settings import Settings
from realtime.alerting.delivery import DeliveryWorker
from realtime.alerting.ticker import AlertTicker
from realtime.live_store import open_live_store
from realtime.stream import open_producer

log = logging.getLogger(__name__)


class AlertingService:
    def __init__(self, settings: Settings, *, tick_interval_s: float = 30.0) -> None:
        self.settings = settings
        self.tick_interval_s = tick_interval_s
        self.ticker: AlertTicker | None = None
        self.worker: DeliveryWorker | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self.ticker is not None:
                return
            engine = make_engine(self.settings.database_url)
            self.ticker = AlertTicker(
                self.settings,
                engine=engine,
                live=open_live_store(self.settings),
                producer=open_producer(self.settings),
            )
            self.worker = DeliveryWorker(engine)
            self.ticker.start(self.tick_interval_s)
            self.worker.start()
            log.info("alert ticker (every %.0f s) and notification delivery started", self.tick_interval_s)

    def stop(self) -> None:
        with self._lock:
            if self.ticker is not None:
                self.ticker.stop()
            if self.worker is not None:
                self.worker.stop()
            self.ticker = self.worker = None
