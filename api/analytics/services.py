"""Analytics marts and reports, read from the lakehouse the Dagster assets write (never from PostgreSQL).

Marts are daily Parquet partitions under `marts/<name>/date=YYYY-MM-DD/`; reports are files under
`reports/<kind>/<date>/<filename>`. Reads block (object store, Parquet), so the routes run them in a thread.
"""

from __future__ import annotations

import datetime
import mimetypes
from typing import Any

import polars as pl

from api.analytics.schemas import MartInfo, MartRows, ReportFile
from api.errors import NotFound, Unprocessable
from lakehouse.layout import mart, reports_prefix
from lakehouse.readers import scan
from lakehouse.store import Lakehouse


def mart_names(lakehouse: Lakehouse) -> list[str]:
    names = {key.split("/")[1] for key in lakehouse.list_keys("marts") if key.count("/") >= 2}
    return sorted(names)


def mart_infos(lakehouse: Lakehouse) -> list[MartInfo]:
    infos = []
    for name in mart_names(lakehouse):
        partitions = lakehouse.partitions(mart(name))
        infos.append(
            MartInfo(
                name=name,
                partitions=len(partitions),
                first_date=partitions[0].date if partitions else None,
                last_date=partitions[-1].date if partitions else None,
            )
        )
    return infos


def read_mart(
    lakehouse: Lakehouse,
    name: str,
    start: datetime.date,
    end: datetime.date,
    site_id: str | None,
    limit: int,
    offset: int,
) -> MartRows:
    try:
        dataset = mart(name)
    except ValueError as exc:
        raise Unprocessable(str(exc), field="name") from None
    if end < start:
        raise Unprocessable("from: must not be after to", field="from")
    if (end - start).days > 366:
        raise Unprocessable("from, to: at most 366 days per request", field="from")
    frame = scan(lakehouse, dataset, start, end)
    if frame is None:
        known = mart_names(lakehouse)
        if name not in known:
            raise NotFound(
                f"no mart named {name!r} in the lakehouse yet (available: {', '.join(known) or 'none'}); "
                "marts appear once their Dagster assets are materialised"
            )
        raise NotFound(f"mart {name!r} has no partitions between {start} and {end}")
    columns = frame.collect_schema().names()
    if site_id is not None:
        if "site_id" not in columns:
            raise Unprocessable(f"site_id: mart {name!r} has no site_id column", field="site_id")
        frame = frame.filter(pl.col("site_id").cast(pl.String) == site_id)
    total = int(frame.select(pl.len()).collect().item())
    rows = frame.slice(offset, limit).collect().to_dicts()
    return MartRows(
        name=name,
        start=start,
        end=end,
        total=total,
        limit=limit,
        offset=offset,
        columns=columns,
        items=[_plain(r) for r in rows],
    )


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    # Parquet may hold decimals or nested values msgspec cannot encode as-is; keep JSON-friendly types.
    return {
        k: (
            str(v)
            if not isinstance(v, str | int | float | bool | type(None) | datetime.date | list | dict)
            else v
        )
        for k, v in row.items()
    }


def list_reports(lakehouse: Lakehouse, kind: str | None) -> list[ReportFile]:
    prefix = reports_prefix(kind) if kind else reports_prefix()
    files = []
    for key in lakehouse.list_keys(prefix):
        parts = key.split("/")
        if len(parts) == 4:
            files.append(ReportFile(kind=parts[1], date=parts[2], filename=parts[3]))
    return sorted(files, key=lambda f: (f.date, f.kind, f.filename), reverse=True)


def read_report(lakehouse: Lakehouse, kind: str, date: datetime.date, filename: str) -> tuple[bytes, str]:
    from lakehouse.layout import report_key

    try:
        key = report_key(kind, date, filename)
    except ValueError as exc:
        raise Unprocessable(str(exc)) from None
    try:
        data = lakehouse.read_bytes(key)
    except FileNotFoundError:
        raise NotFound(f"no report {kind}/{date}/{filename}") from None
    media_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return data, media_type
