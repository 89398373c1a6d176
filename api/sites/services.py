from __future__ import annotations

from advanced_alchemy.repository import SQLAlchemyAsyncRepository

from api.services import EntityService
from core.db.models import Site


class SiteService(EntityService[Site]):
    class Repository(SQLAlchemyAsyncRepository[Site]):
        model_type = Site

    repository_type = Repository
    entity = "site"
