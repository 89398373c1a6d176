"""Analytics marts and scheduled reports, served from the lakehouse."""

from __future__ import annotations

import datetime
from typing import Annotated

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.params import Parameter

from api.analytics.schemas import MartInfo, MartRows, ReportFile
from api.analytics.services import list_reports, mart_infos, read_mart, read_report
from api.resources import ApiResources

NameParam = Annotated[str, Parameter(max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]


def _today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


class AnalyticsController(Controller):
    path = "/api/v1"
    tags = ["analytics"]

    @get(
        "/analytics/marts",
        operation_id="listMarts",
        summary="Analytics marts in the lakehouse",
        sync_to_thread=True,
    )
    def list_marts(self, state: State) -> list[MartInfo]:
        resources: ApiResources = state.resources
        return mart_infos(resources.lakehouse)

    @get(
        "/analytics/marts/{name:str}",
        operation_id="getMartRows",
        summary="Rows of a mart for a date range",
        sync_to_thread=True,
    )
    def get_mart_rows(
        self,
        state: State,
        name: NameParam,
        start: Annotated[
            datetime.date | None, Parameter(query="from", description="default: 7 days before `to`")
        ] = None,
        end: Annotated[
            datetime.date | None, Parameter(query="to", description="default: today (UTC)")
        ] = None,
        site_id: Annotated[str | None, Parameter(max_length=64)] = None,
        limit: Annotated[int, Parameter(ge=1, le=10_000)] = 1000,
        offset: Annotated[int, Parameter(ge=0, le=10**9)] = 0,
    ) -> MartRows:
        resources: ApiResources = state.resources
        end = end or _today()
        start = start or end - datetime.timedelta(days=7)
        return read_mart(resources.lakehouse, name, start, end, site_id, limit, offset)

    @get("/reports", operation_id="listReports", summary="Generated reports", sync_to_thread=True)
    def list_reports(
        self, state: State, kind: Annotated[NameParam | None, Parameter(query="kind")] = None
    ) -> list[ReportFile]:
        resources: ApiResources = state.resources
        return list_reports(resources.lakehouse, kind)

    @get(
        "/reports/{kind:str}/{date:date}/{filename:str}",
        operation_id="getReport",
        summary="Download a report",
        sync_to_thread=True,
    )
    def get_report(
        self,
        state: State,
        kind: NameParam,
        date: datetime.date,
        filename: Annotated[str, Parameter(max_length=200)],
    ) -> Response[bytes]:
        resources: ApiResources = state.resources
        data, media_type = read_report(resources.lakehouse, kind, date, filename)
        return Response(data, media_type=media_type)
