from __future__ import annotations

from advanced_alchemy.repository import SQLAlchemyAsyncRepository

from api.services import EntityService
from core.db.models import Asset


class AssetService(EntityService[Asset]):
    class Repository(SQLAlchemyAsyncRepository[Asset]):
        model_type = Asset

    repository_type = Repository
    entity = "asset"
