"""Work orders: a job moves planned -> active -> done, or is cancelled before it is done; assets are assigned
to it (an asset on an active job is expected to stay in the job's work area)."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import Conflict, Unprocessable
from api.services import EntityService
from core.db.enums import JobStatus
from core.db.models import Asset, Job

TRANSITIONS: dict[JobStatus, set[JobStatus]] = {
    JobStatus.PLANNED: {JobStatus.ACTIVE, JobStatus.CANCELLED},
    JobStatus.ACTIVE: {JobStatus.DONE, JobStatus.CANCELLED},
    JobStatus.DONE: set(),
    JobStatus.CANCELLED: set(),
}


class JobService(EntityService[Job]):
    class Repository(SQLAlchemyAsyncRepository[Job]):
        model_type = Job

    repository_type = Repository
    entity = "job"


def change_status(job: Job, new: JobStatus) -> None:
    current = JobStatus(job.status)
    if new == current:
        return
    if new not in TRANSITIONS[current]:
        allowed = sorted(s.value for s in TRANSITIONS[current]) or ["none: it is finished"]
        raise Conflict(
            f"status: a {current.value} job cannot become {new.value}; allowed: {', '.join(allowed)}"
        )
    job.status = new.value


def check_window(starts_at: datetime.datetime, ends_at: datetime.datetime | None) -> None:
    if ends_at is not None and ends_at < starts_at:
        raise Unprocessable("ends_at: must not be before starts_at", field="ends_at")


async def assets_by_id(session: AsyncSession, asset_ids: Sequence[uuid.UUID]) -> list[Asset]:
    wanted = list(dict.fromkeys(asset_ids))
    found = (await session.execute(select(Asset).where(Asset.id.in_(wanted)))).scalars().all()
    missing = set(wanted) - {asset.id for asset in found}
    if missing:
        raise Unprocessable(
            f"asset_ids: no asset with id {', '.join(sorted(map(str, missing)))}", field="asset_ids"
        )
    return list(found)
