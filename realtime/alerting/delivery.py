"""The delivery worker: sends what the outbox holds, off the hot path, and survives restarts.

Each round claims due rows (`status = 'pending' AND next_attempt_at <= now`, `FOR UPDATE SKIP LOCKED` on
PostgreSQL so several workers share the load) by pushing `next_attempt_at` a lease ahead, commits, sends, then
records the outcome on the row — which is the delivery log: `attempts`, `last_error`, `status`, `delivered_at`.
A worker killed mid-send leaves the row pending; it is picked up again when the lease runs out (at-least-once;
the `X-AssetTag-Delivery` header lets receivers drop the duplicate).

Failures are retried with exponential backoff (`base_backoff_s · 2^(attempts-1)`, capped) until
`max_attempts`, then the row is `failed`. A channel's `rate_limit_per_min` is enforced from the log itself
(deliveries in the last 60 s), so it holds across restarts and workers; rows over the limit wait, unpenalised.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select, update

from core.alerts.outbox import CHANNELS, DELIVERIES
from realtime.alerting.channels import SendResult, send

log = logging.getLogger(__name__)
UTC = datetime.UTC

Sender = Callable[[Any, Mapping[str, Any], str | None], SendResult]


@dataclass(frozen=True, slots=True)
class DeliveryOptions:
    batch: int = 50
    max_attempts: int = 8
    base_backoff_s: float = 5.0
    max_backoff_s: float = 3600.0
    lease_s: float = 120.0  # a claimed row is invisible to other workers this long
    interval_s: float = 1.0  # idle poll interval of `run`


@dataclass(frozen=True, slots=True)
class RoundReport:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0  # over a channel's rate limit


def backoff_s(attempts: int, options: DeliveryOptions) -> float:
    return min(options.base_backoff_s * 2 ** max(attempts - 1, 0), options.max_backoff_s)


class DeliveryWorker:
    def __init__(
        self,
        engine: Engine,
        options: DeliveryOptions | None = None,
        *,
        sender: Sender = send,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.options = options or DeliveryOptions()
        self.sender = sender
        self.clock = clock
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def _now(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.clock(), UTC)

    def _claim(self, now: datetime.datetime) -> list[Any]:
        opts = self.options
        with self.engine.begin() as conn:
            query = (
                select(DELIVERIES)
                .where(DELIVERIES.c.status == "pending", DELIVERIES.c.next_attempt_at <= now)
                .order_by(DELIVERIES.c.next_attempt_at, DELIVERIES.c.id)
                .limit(opts.batch)
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = list(conn.execute(query))
            if rows:
                lease = now + datetime.timedelta(seconds=opts.lease_s)
                conn.execute(
                    update(DELIVERIES)
                    .where(DELIVERIES.c.id.in_([r.id for r in rows]))
                    .values(next_attempt_at=lease)
                )
            return rows

    def _recent_counts(self, conn: Any, channel_ids: set[Any], now: datetime.datetime) -> dict[Any, int]:
        since = now - datetime.timedelta(seconds=60)
        query = (
            select(DELIVERIES.c.channel_id, func.count())
            .where(DELIVERIES.c.channel_id.in_(channel_ids), DELIVERIES.c.delivered_at > since)
            .group_by(DELIVERIES.c.channel_id)
        )
        return {channel: count for channel, count in conn.execute(query)}

    def run_once(self) -> RoundReport:
        """One round: claim due deliveries, send them, log the outcomes."""
        now = self._now()
        rows = self._claim(now)
        if not rows:
            return RoundReport()
        channel_ids = {r.channel_id for r in rows}
        with self.engine.connect() as conn:
            channels = {c.id: c for c in conn.execute(select(CHANNELS).where(CHANNELS.c.id.in_(channel_ids)))}
            sent_recently = self._recent_counts(conn, channel_ids, now)
        delivered = retried = failed = deferred = 0
        for row in rows:
            channel = channels.get(row.channel_id)
            values: dict[str, Any]
            if channel is None or not channel.enabled:
                values = {"status": "failed", "last_error": "channel disabled or deleted"}
                failed += 1
            elif (
                channel.rate_limit_per_min and sent_recently.get(channel.id, 0) >= channel.rate_limit_per_min
            ):
                values = {
                    "next_attempt_at": now + datetime.timedelta(seconds=60.0 / channel.rate_limit_per_min)
                }
                deferred += 1
            else:
                result = self._send(channel, row)
                attempts = row.attempts + 1
                at = self._now()
                if result.ok:
                    values = {
                        "status": "delivered",
                        "delivered_at": at,
                        "attempts": attempts,
                        "last_error": None,
                    }
                    sent_recently[channel.id] = sent_recently.get(channel.id, 0) + 1
                    delivered += 1
                elif result.retryable and attempts < self.options.max_attempts:
                    wait = datetime.timedelta(seconds=backoff_s(attempts, self.options))
                    values = {"attempts": attempts, "last_error": result.detail, "next_attempt_at": at + wait}
                    retried += 1
                else:
                    values = {"status": "failed", "attempts": attempts, "last_error": result.detail}
                    failed += 1
                log.info("delivery %s to %s (%s): %s", row.id, channel.name, channel.kind, result.detail)
            values["updated_at"] = self._now()
            with self.engine.begin() as conn:
                conn.execute(update(DELIVERIES).where(DELIVERIES.c.id == row.id).values(**values))
        return RoundReport(delivered, retried, failed, deferred)

    def _send(self, channel: Any, row: Any) -> SendResult:
        try:
            return self.sender(channel, row.payload, f"{row.id}")
        except Exception as exc:  # noqa: BLE001 - a sender bug must not kill the worker; it is logged on the row
            log.exception("sending delivery %s failed", row.id)
            return SendResult(False, f"{type(exc).__name__}: {exc}")

    # ---------------------------------------------------------------- background thread
    def run(self, stop: threading.Event | None = None) -> None:
        stop = stop or self._stop
        while not stop.is_set():
            try:
                report = self.run_once()
            except Exception:  # noqa: BLE001 - database down: wait and try again, never die
                log.exception("delivery round failed; retrying")
                report = RoundReport()
            if report == RoundReport():
                stop.wait(self.options.interval_s)

    def start(self) -> threading.Thread:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="notification-delivery", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
