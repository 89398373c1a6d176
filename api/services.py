"""Shared service plumbing over advanced-alchemy: each feature's service subclasses `EntityService` with its
repository (see api/sites/services.py) and gets a `get_or_404` that says which thing was not found."""

from __future__ import annotations

import uuid
from typing import Any, Generic, TypeVar

from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService

from api.errors import NotFound

M = TypeVar("M")


class EntityService(SQLAlchemyAsyncRepositoryService[Any], Generic[M]):
    """A repository service that knows the human name of its entity (for messages and the audit log)."""

    entity: str = "item"

    async def get_or_404(self, item_id: uuid.UUID | str | int) -> M:
        item = await self.get_one_or_none(id=item_id)
        if item is None:
            raise NotFound(f"{self.entity} {item_id} does not exist")
        return item  # type: ignore[no-any-return]
