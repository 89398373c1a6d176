"""The geofence + alert stage of the realtime loop (a `FixStage`, see `realtime.stages`).

Per batch: zone membership of every fix with hysteresis (`core.geofence`), `zone_ids` filled in for the location
writers, every enter/exit stored as a `zone_events` row (natural key: a replayed batch inserts nothing), zone-event
rules evaluated on the events that were *new* (so a replay cannot count or notify twice), alerts upserted and
their notifications queued — all in the batch's transaction. After commit: the tags' zone states to Redis (or
memory), zone events to `ble.zone_events`, alert changes to `ble.alerts`, both on pub/sub `alerts.<site>`.

`build_stages(settings)` is what `assettag consume` loads by default.
"""

from __future__ import annotations

import datetime
import logging
import math
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite

from core.alerts import AssetSnapshot, Rule, ZoneEventIn, ZoneInfo, evaluate_zone_events
from core.alerts.outbox import enqueue
from core.alerts.rules import ZONE_EVENT_KINDS
from core.db.models import Asset, Geofence, ZoneEvent
from core.geofence import (
    EVIDENCE,
    GeofenceEngine,
    MembershipConfig,
    TagZoneState,
    ZoneError,
    decode_state,
    encode_state,
)
from core.geofence.zones import zone_from_record
from core.settings import Settings
from realtime.alerting.publish import publish
from realtime.alerting.service import AlertingService
from realtime.alerting.store import apply_event_conditions, load_rules
from realtime.alerting.world import load_site_timezones
from realtime.fixes import FixBatch, rfc3339, to_datetime
from realtime.stages import StageContext

log = logging.getLogger(__name__)

GEOFENCES: Table = Geofence.__table__  # type: ignore[assignment]
ZONE_EVENTS: Table = ZoneEvent.__table__  # type: ignore[assignment]
ASSETS: Table = Asset.__table__  # type: ignore[assignment]
_PAGE = 1000


class ZonesStage:
    """Geofences and zone-event alert rules for each batch of fixes."""

    name = "zones"

    def __init__(
        self,
        settings: Settings,
        config: MembershipConfig | None = None,
        refresh_s: float = 30.0,
        background: AlertingService | None = None,
    ) -> None:
        self.settings = settings
        self.background = background
        self.config = config or MembershipConfig(
            enter_dwell_s=settings.zone_enter_dwell_s,
            exit_dwell_s=settings.zone_exit_dwell_s,
            speed_aware=settings.zone_speed_aware,
        )
        self.refresh_s = refresh_s
        self.engine = GeofenceEngine([], self.config)
        self.zone_info: dict[str, ZoneInfo] = {}
        self.rules: list[Rule] = []
        self.timezones: dict[str, str] = {}
        self._loaded_at = float("-inf")
        self._version: tuple[Any, ...] | None = None
        self._states: dict[str, TagZoneState] = {}  # committed states of tags this process owns

    def reset(self) -> None:
        self._states.clear()

    # ---------------------------------------------------------------- definitions
    def _refresh(self, conn: Connection, now_s: float) -> None:
        if now_s - self._loaded_at < self.refresh_s:
            return
        self._loaded_at = now_s
        self.rules = [rule for rule in load_rules(conn) if rule.kind in ZONE_EVENT_KINDS]
        self.timezones = load_site_timezones(conn)
        version = tuple(
            conn.execute(select(func.count(), func.max(GEOFENCES.c.updated_at)).select_from(GEOFENCES)).one()
        )
        if version == self._version:
            return
        zones = []
        info = {}
        for row in conn.execute(select(GEOFENCES)).mappings():
            info[str(row["id"])] = ZoneInfo(str(row["id"]), row["name"], row["kind"], str(row["site_id"]))
            if not row["enabled"]:
                continue
            try:
                zones.append(zone_from_record(row))
            except ZoneError as exc:
                log.warning("geofence %s ignored: %s", row["id"], exc)
        self.engine = GeofenceEngine(zones, self.config)
        self.zone_info = info
        self._version = version
        log.info("geofences loaded: %d zones", len(zones))

    # ---------------------------------------------------------------- per batch
    def process(self, batch: FixBatch, ctx: StageContext) -> None:
        if self.background is not None:
            self.background.start()  # idempotent
        if len(batch) == 0:
            return
        conn = ctx.connection
        self._refresh(conn, ctx.now_s)
        sites = [None if s is None else str(s) for s in batch.site_id.tolist()]
        usable = np.array([s is not None for s in sites]) & np.isfinite(batch.x) & np.isfinite(batch.y)
        rows = np.flatnonzero(usable)
        if rows.size == 0:
            return
        tags = [str(t) for t in batch.tag_id[rows].tolist()]
        states = self._load_states(ctx, sorted(set(tags)))
        result = self.engine.evaluate(
            tags,
            [sites[i] for i in rows.tolist()],  # type: ignore[misc]
            batch.floor[rows],
            batch.ts[rows],
            batch.x[rows],
            batch.y[rows],
            batch.accuracy_m[rows],
            states,
            # the tracker's stationary flag: a pinned tag is parked, and where it was pinned settles a walk
            stationary=batch.stationary[rows],  # type: ignore[index]
            # ... and its learnt fix noise: a noisy tag's apparent speed is not a walk
            noise_ratio=batch.noise_ratio[rows],  # type: ignore[index]
        )
        for k, i in enumerate(rows.tolist()):
            batch.zone_ids[i] = result.zone_ids[k]

        asset_of = {str(t): a for t, a in zip(batch.tag_id.tolist(), batch.asset_id.tolist(), strict=True)}
        event_rows = []
        for t in result.transitions:
            zone = self.engine.zones.get(t.zone_id)
            event_rows.append({
                "tag_id": t.tag_id,
                "asset_id": asset_of.get(t.tag_id),
                "geofence_id": uuid.UUID(t.zone_id),
                "site_id": uuid.UUID(zone.site_id) if zone is not None and zone.site_id else None,
                "kind": t.kind,
                "ts": to_datetime(t.ts),
                "dwell_s": t.dwell_s,
                "reason": t.reason,
                **{name: _rounded(getattr(t, name)) for name in EVIDENCE if name != "reason"},  # metres
            })  # fmt: skip
        new_events = insert_zone_events(conn, event_rows)
        now = datetime.datetime.fromtimestamp(ctx.now_s, datetime.UTC)
        changes = []
        if new_events and self.rules:
            events_in = [
                ZoneEventIn(e["tag_id"], _s(e["asset_id"]), str(e["geofence_id"]), e["kind"], e["ts"],
                            _s(e["site_id"]), e["dwell_s"], **{name: e[name] for name in EVIDENCE})
                for e in new_events
            ]  # fmt: skip
            assets = load_assets(conn, {e.asset_id for e in events_in if e.asset_id})
            conditions = evaluate_zone_events(self.rules, events_in, self.zone_info, assets, self.timezones)
            changes = apply_event_conditions(conn, conditions, now)
            enqueue(conn, changes, now)

        new_states = result.states
        published = [_event_record(e) for e in new_events]

        def after_commit() -> None:
            ctx.live.set_many(
                (ctx.keys.zone_state(tag), encode_state(state)) for tag, state in new_states.items()
            )
            self._states.update(new_states)
            publish(ctx.settings, ctx.live, ctx.keys, ctx.producer, changes, published)

        ctx.after_commit(after_commit)

    def _load_states(self, ctx: StageContext, tags: Sequence[str]) -> dict[str, TagZoneState]:
        missing = [tag for tag in tags if tag not in self._states]
        if missing:
            blobs = ctx.live.get_many([ctx.keys.zone_state(tag) for tag in missing])
            for tag, blob in zip(missing, blobs, strict=True):
                self._states[tag] = decode_state(blob)
        return {tag: self._states[tag] for tag in tags}


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def _rounded(metres: float | None) -> float | None:
    """Centimetres are all the evidence a person reads (and all a fix's accuracy supports)."""
    return None if metres is None or not math.isfinite(metres) else round(metres, 2)


def _event_record(row: dict[str, Any]) -> dict[str, Any]:
    """A zone event as published (`ble.zone_events`, `alerts.<site>`): the lakehouse's zone_events columns."""
    ts = row["ts"]
    return {
        "tag_id": row["tag_id"],
        "asset_id": _s(row["asset_id"]),
        "site_id": _s(row["site_id"]),
        "zone_id": str(row["geofence_id"]),
        "kind": row["kind"],
        "ts": rfc3339(ts.timestamp()),
        "dwell_s": row["dwell_s"],
        **{name: row[name] for name in EVIDENCE},
    }


def insert_zone_events(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert zone events, skipping ones already stored (natural key); returns only the rows that were new."""
    if not rows:
        return []
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(ZONE_EVENTS)
    statement = insert.on_conflict_do_nothing(
        index_elements=["tag_id", "geofence_id", "kind", "ts"]
    ).returning(ZONE_EVENTS.c.tag_id, ZONE_EVENTS.c.geofence_id, ZONE_EVENTS.c.kind, ZONE_EVENTS.c.ts)
    inserted = set()
    for row in rows:
        for r in conn.execute(statement, row):
            inserted.add((r.tag_id, str(r.geofence_id), r.kind, r.ts))
    return [
        row for row in rows if (row["tag_id"], str(row["geofence_id"]), row["kind"], row["ts"]) in inserted
    ]


def load_assets(conn: Connection, asset_ids: set[str]) -> dict[str, AssetSnapshot]:
    if not asset_ids:
        return {}
    query = select(ASSETS.c.id, ASSETS.c.name, ASSETS.c.site_id, ASSETS.c.category, ASSETS.c.tag_id).where(
        ASSETS.c.id.in_([uuid.UUID(a) for a in asset_ids])
    )
    return {
        str(r.id): AssetSnapshot(str(r.id), r.name, _s(r.site_id), r.category, r.tag_id)
        for r in conn.execute(query)
    }


def build_stages(settings: Settings) -> list[ZonesStage]:
    """The stages `assettag consume` runs by default; the alert ticker and the notification delivery worker
    start with the stage's first batch, in the same process (see `realtime.alerting.service`)."""
    return [ZonesStage(settings, background=AlertingService(settings))]
