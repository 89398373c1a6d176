"""The alerts opened each day, copied from the database with their acknowledge/resolve times."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from sqlalchemy import Engine, inspect, select

from lakehouse import schemas


def alerts_opened_on(engine: Engine, day: dt.date) -> pa.Table:
    """Alerts opened on `day` (UTC) in the shape of `schemas.ALERTS`; empty if the schema is not migrated yet."""
    from core.db.models import Alert

    if not inspect(engine).has_table(Alert.__tablename__):
        raise LookupError(f"table {Alert.__tablename__} does not exist: run `assettag db upgrade` first")
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    query = select(
        Alert.id,
        Alert.kind,
        Alert.severity,
        Alert.subject_key,
        Alert.asset_id,
        Alert.site_id,
        Alert.status,
        Alert.opened_at,
        Alert.acknowledged_at,
        Alert.resolved_at,
    ).where(Alert.opened_at >= start, Alert.opened_at < start + dt.timedelta(days=1))
    with engine.connect() as connection:
        rows = connection.execute(query.order_by(Alert.opened_at, Alert.id)).all()
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schemas.ALERTS.names]
    arrays = {}
    for field, values in zip(schemas.ALERTS, columns, strict=True):
        if pa.types.is_string(field.type):
            values = [None if v is None else str(v) for v in values]
        arrays[field.name] = pa.array(values, field.type)
    return pa.table(arrays, schema=schemas.ALERTS)
