"""The one init plugin that assembles the API: OpenAPI, the database plugin, controllers, dependencies,
exception handlers, middleware (metrics, API-key authentication) and CORS.

`api.app.create_app` builds the plugin from settings; features register their controllers in `CONTROLLERS`.
"""

from __future__ import annotations

from typing import Any

from advanced_alchemy.extensions.litestar import AsyncSessionConfig, SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from litestar.config.app import AppConfig
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins import InitPluginProtocol

from api.errors import EXCEPTION_HANDLERS
from api.metrics import metrics_middleware
from api.pagination import provide_page
from api.resources import ApiResources
from api.security import PUBLIC_PATHS, KeyStore, authentication_middleware

API_VERSION = "1.0.0"


def controllers() -> list[Any]:
    """Every REST controller of the API, one per resource."""
    from api.alert_rules.controllers import AlertRuleController
    from api.alerts.controllers import AlertController
    from api.analytics.controllers import AnalyticsController
    from api.assets.controllers import AssetController
    from api.calibration.controllers import CalibrationController
    from api.gateways.controllers import GatewayController
    from api.geofences.controllers import GeofenceController
    from api.health.controllers import HealthController
    from api.jobs.controllers import JobController
    from api.keys.controllers import ApiKeyController, AuditLogController
    from api.locations.controllers import LocationController
    from api.maintenance.controllers import MaintenanceController
    from api.notifications.controllers import NotificationChannelController
    from api.sites.controllers import SiteController

    return [
        HealthController,
        SiteController,
        GatewayController,
        AssetController,
        LocationController,
        GeofenceController,
        AlertController,
        AlertRuleController,
        NotificationChannelController,
        JobController,
        MaintenanceController,
        AnalyticsController,
        CalibrationController,
        ApiKeyController,
        AuditLogController,
    ]


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="asset-tag API",
        version=API_VERSION,
        description=(
            "Where every tagged asset is, what happened to it, and what to do about it. "
            "Authenticate with an API key in the X-API-Key header (or Authorization: Bearer <key>); "
            "errors are RFC 9457 problem details."
        ),
        path="/docs",
        render_plugins=[SwaggerRenderPlugin(path="/"), JsonRenderPlugin(path="/openapi.json")],
        use_handler_docstrings=True,
        components=Components(
            security_schemes={
                "ApiKey": SecurityScheme(type="apiKey", name="X-API-Key", security_scheme_in="header"),
                "Bearer": SecurityScheme(type="http", scheme="bearer"),
            }
        ),
        security=[{"ApiKey": []}, {"Bearer": []}],
    )


class ApiInitPlugin(InitPluginProtocol):
    def __init__(self, resources: ApiResources) -> None:
        self.resources = resources
        self.key_store = KeyStore(resources.sessions)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        settings = self.resources.settings
        database = SQLAlchemyAsyncConfig(
            engine_instance=self.resources.engine,
            session_dependency_key="db_session",
            before_send_handler="autocommit",
            session_config=AsyncSessionConfig(expire_on_commit=False),
            set_default_exception_handler=False,
        )
        app_config.plugins.append(SQLAlchemyPlugin(config=database))
        app_config.openapi_config = openapi_config()
        app_config.route_handlers.extend(controllers())
        app_config.dependencies.update({"page": Provide(provide_page, sync_to_thread=False)})
        app_config.exception_handlers.update(EXCEPTION_HANDLERS)
        app_config.middleware[:0] = [
            metrics_middleware,
            authentication_middleware(self.key_store, PUBLIC_PATHS),
        ]
        if settings.cors_origins:
            app_config.cors_config = CORSConfig(
                allow_origins=settings.cors_origins,
                allow_headers=["X-API-Key", "Authorization", "Content-Type"],
                allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"],
            )
        app_config.state.update({"resources": self.resources, "key_store": self.key_store})
        app_config.on_shutdown.append(self._close)
        return app_config

    async def _close(self) -> None:
        await self.resources.aclose()
