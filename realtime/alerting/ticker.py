"""The alert ticker: re-evaluates the time-based rules every `interval_s`, whether or not observations arrive
(a missing asset produces no observations — that is the point), and escalates alerts nobody acknowledged.

One transaction per tick: read the rules, the world and the open alerts, apply the decisions, queue the
notifications; publish after commit. Several tickers may run (e.g. one per consumer process): the unique index
and upserts keep one alert per (rule, subject) whatever the interleaving.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from core.alerts import PERIODIC_KINDS, escalations, evaluate_periodic, reconcile
from core.alerts.outbox import enqueue
from core.db.engine import make_engine
from core.live import LiveKeys
from core.settings import Settings
from realtime.alerting.publish import publish
from realtime.alerting.store import AlertChange, apply_decisions, load_open_alerts, load_rules
from realtime.alerting.world import load_world
from realtime.live_store import LiveStore
from realtime.stream import StreamProducer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TickReport:
    opened: int = 0
    resolved: int = 0
    escalated: int = 0
    notifications: int = 0


class AlertTicker:
    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        live: LiveStore | None = None,
        producer: StreamProducer | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.database_url)
        self.live = live
        self.producer = producer
        self.keys = LiveKeys(settings.redis_prefix)
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> TickReport:
        now = datetime.datetime.fromtimestamp(self.clock(), datetime.UTC)
        with self.engine.begin() as conn:
            rules = load_rules(conn)
            periodic = [rule for rule in rules if rule.kind in PERIODIC_KINDS]
            world = load_world(conn, periodic, now)
            open_alerts = load_open_alerts(conn)
            by_rule: dict[str, dict[str, object]] = {}
            for alert in open_alerts:
                by_rule.setdefault(alert.rule_id, {})[alert.subject_key] = alert
            decisions = []
            for rule in periodic:
                decisions.extend(reconcile(rule, evaluate_periodic(rule, world), by_rule.get(rule.id, {})))  # type: ignore[arg-type]
            decisions.extend(escalations({rule.id: rule for rule in rules}, open_alerts, now))
            changes: list[AlertChange] = apply_decisions(conn, decisions, now)
            queued = enqueue(conn, changes, now)
        if changes:
            publish(self.settings, self.live, self.keys, self.producer, changes)
            if self.producer is not None:
                self.producer.flush(30.0)
        counts = {
            action: sum(1 for c in changes if c.action == action)
            for action in ("opened", "resolved", "escalated")
        }
        report = TickReport(counts["opened"], counts["resolved"], counts["escalated"], queued)
        if changes:
            log.info("alert tick: %s", report)
        return report

    def run(self, interval_s: float = 30.0, stop: threading.Event | None = None) -> None:
        """Tick every `interval_s` until `stop` is set; a failing tick (database down) is logged and retried."""
        stop = stop or self._stop
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the ticker must outlive a database outage
                log.exception("alert tick failed; retrying in %.0f s", interval_s)
            stop.wait(interval_s)

    def start(self, interval_s: float = 30.0) -> threading.Thread:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, args=(interval_s,), name="alert-ticker", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
