"""Jobs (work orders): CRUD, status changes, and the assets assigned to them (operators and up edit)."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Literal

from advanced_alchemy.extensions.litestar.providers import create_service_provider
from advanced_alchemy.filters import BeforeAfter, CollectionFilter, LimitOffset, SearchFilter
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from api import audit
from api.jobs.schemas import AssetAssignment, Job, JobCreate, JobStatusChange, JobUpdate
from api.jobs.services import JobService, assets_by_id, change_status, check_window
from api.pagination import OffsetPagination, Order, list_filters, paginated
from api.schemas import apply, set_fields, to_dto, to_dtos, utc_or_none
from api.security import requires_operator
from core.db.enums import JobStatus
from core.db.models import Job as JobRow

JobSort = Literal["title", "status", "starts_at", "ends_at", "created_at"]


class JobController(Controller):
    path = "/api/v1/jobs"
    tags = ["jobs"]
    dependencies = {"jobs": create_service_provider(JobService)}

    @get("/", operation_id="listJobs", summary="List jobs")
    async def list_jobs(
        self,
        jobs: JobService,
        page: LimitOffset,
        site_id: uuid.UUID | None = None,
        status: Annotated[list[JobStatus] | None, Parameter(description="repeat for several")] = None,
        starts_after: datetime.datetime | None = None,
        starts_before: datetime.datetime | None = None,
        q: Annotated[str | None, Parameter(max_length=200)] = None,
        sort: JobSort = "starts_at",
        order: Order = "desc",
    ) -> OffsetPagination[Job]:
        filters = list_filters(
            page,
            sort,
            order,
            CollectionFilter("site_id", [site_id]) if site_id else None,
            CollectionFilter("status", [s.value for s in status]) if status else None,
            BeforeAfter("starts_at", before=utc_or_none(starts_before), after=utc_or_none(starts_after))
            if starts_after or starts_before
            else None,
            SearchFilter(field_name="title", value=q, ignore_case=True) if q else None,
        )
        items, total = await jobs.list_and_count(*filters)
        return paginated(to_dtos(items, Job), total, page)

    @post("/", operation_id="createJob", summary="Create a job", guards=[requires_operator])
    async def create_job(
        self, jobs: JobService, db_session: AsyncSession, data: JobCreate, request: Request
    ) -> Job:
        check_window(data.starts_at, data.ends_at)
        values = set_fields(data)
        asset_ids = values.pop("asset_ids", [])
        job = JobRow(**values)
        job.assets = await assets_by_id(db_session, asset_ids) if asset_ids else []
        job = await jobs.create(job)
        audit.record(
            db_session, request.user, "create", "job", job.id, title=job.title, assets=len(job.assets)
        )
        return to_dto(job, Job)

    @get("/{id:uuid}", operation_id="getJob", summary="Get a job with its assets")
    async def get_job(self, jobs: JobService, id: uuid.UUID) -> Job:
        return to_dto(await jobs.get_or_404(id), Job)

    @patch("/{id:uuid}", operation_id="updateJob", summary="Change a job", guards=[requires_operator])
    async def update_job(
        self, jobs: JobService, db_session: AsyncSession, id: uuid.UUID, data: JobUpdate, request: Request
    ) -> Job:
        changes = set_fields(data)
        job = apply(await jobs.get_or_404(id), changes)
        check_window(job.starts_at, job.ends_at)
        await db_session.flush()
        audit.record(db_session, request.user, "update", "job", id, fields=sorted(changes))
        return to_dto(job, Job)

    @put(
        "/{id:uuid}/status",
        operation_id="setJobStatus",
        summary="Start, finish or cancel a job",
        guards=[requires_operator],
    )
    async def set_job_status(
        self,
        jobs: JobService,
        db_session: AsyncSession,
        id: uuid.UUID,
        data: JobStatusChange,
        request: Request,
    ) -> Job:
        job = await jobs.get_or_404(id)
        before = job.status
        change_status(job, data.status)
        await db_session.flush()
        audit.record(db_session, request.user, "set_status", "job", id, before=before, after=job.status)
        return to_dto(job, Job)

    @post(
        "/{id:uuid}/assets",
        operation_id="assignJobAssets",
        summary="Assign assets",
        guards=[requires_operator],
        status_code=200,
    )
    async def assign_assets(
        self,
        jobs: JobService,
        db_session: AsyncSession,
        id: uuid.UUID,
        data: AssetAssignment,
        request: Request,
    ) -> Job:
        job = await jobs.get_or_404(id)
        assigned = {asset.id for asset in job.assets}
        new = [asset for asset in await assets_by_id(db_session, data.asset_ids) if asset.id not in assigned]
        job.assets.extend(new)
        await db_session.flush()
        audit.record(db_session, request.user, "assign", "job", id, asset_ids=[a.id for a in new])
        return to_dto(job, Job)

    @delete(
        "/{id:uuid}/assets/{asset_id:uuid}",
        operation_id="unassignJobAsset",
        summary="Unassign an asset",
        guards=[requires_operator],
        status_code=200,
    )
    async def unassign_asset(
        self, jobs: JobService, db_session: AsyncSession, id: uuid.UUID, asset_id: uuid.UUID, request: Request
    ) -> Job:
        job = await jobs.get_or_404(id)
        job.assets = [asset for asset in job.assets if asset.id != asset_id]
        await db_session.flush()
        audit.record(db_session, request.user, "unassign", "job", id, asset_id=asset_id)
        return to_dto(job, Job)

    @delete("/{id:uuid}", operation_id="deleteJob", summary="Delete a job", guards=[requires_operator])
    async def delete_job(
        self, jobs: JobService, db_session: AsyncSession, id: uuid.UUID, request: Request
    ) -> None:
        job = await jobs.get_or_404(id)
        await jobs.delete(job.id)
        audit.record(db_session, request.user, "delete", "job", id, title=job.title)
