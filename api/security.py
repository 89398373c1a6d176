"""Who is calling: API-key authentication for HTTP and WebSocket, and role guards per route group.

A key is sent as `X-API-Key: <key>` or `Authorization: Bearer <key>`; WebSocket clients (browsers cannot set
headers there) may pass `?api_key=<key>`. Routes opt out with `opt={"exclude_from_auth": True}` (`/health`)
or by path (`/docs`).

Roles are ordered viewer < operator < admin: viewers read, operators acknowledge alerts and edit assets, jobs,
geofences and maintenance, admins manage sites, gateways, rules, channels and keys. Every valid key is at least a
viewer, so reads need no guard beyond authentication (Litestar copies the route handler for every guard call,
which would cost more than the current-location read itself); mutations carry `requires_operator`/`requires_admin`.

Verified keys are cached in-process for `KEY_CACHE_TTL_S` so the hot path does no database round-trip;
a key revoked through this API is dropped from the cache at once, one revoked elsewhere within the TTL.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware
from litestar.types import ASGIApp, Scopes
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.keys.secrets import key_prefix, looks_like_key, matches
from core.db.enums import ApiKeyRole
from core.db.models import ApiKey

KEY_CACHE_TTL_S = 30.0
MAX_CACHED_KEYS = 10_000
PUBLIC_PATHS = [r"^/health$", r"^/docs"]

ROLE_RANK = {ApiKeyRole.VIEWER: 0, ApiKeyRole.OPERATOR: 1, ApiKeyRole.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of a request: which key, under what name, with which role."""

    key_id: str
    name: str
    prefix: str
    role: ApiKeyRole

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return f"key:{self.name}({self.prefix})"

    def can(self, role: ApiKeyRole) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


@dataclass(slots=True)
class _CachedKey:
    key_hash: str
    principal: Principal
    expires_at: datetime.datetime | None
    loaded_at: float


class KeyStore:
    """Looks keys up by prefix, checks the hash, caches the verdict for a short while."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], ttl_s: float = KEY_CACHE_TTL_S) -> None:
        self._sessions = sessions
        self._ttl_s = ttl_s
        self._cache: dict[str, _CachedKey | None] = {}
        self._cache_times: dict[str, float] = {}

    def forget(self, prefix: str) -> None:
        self._cache.pop(prefix, None)
        self._cache_times.pop(prefix, None)

    async def verify(self, key: str) -> Principal:
        if not looks_like_key(key):
            raise NotAuthorizedException(
                "API key is malformed: expected the atk_… value `assettag keys create` printed"
            )
        prefix = key_prefix(key)
        now = time.monotonic()
        if prefix in self._cache and now - self._cache_times[prefix] < self._ttl_s:
            cached = self._cache[prefix]
        else:
            cached = await self._load(prefix)
            if (
                len(self._cache) >= MAX_CACHED_KEYS
            ):  # random unknown prefixes must not grow memory without bound
                self._cache.clear()
                self._cache_times.clear()
            self._cache[prefix] = cached
            self._cache_times[prefix] = now
        if cached is None or not matches(key, cached.key_hash):
            raise NotAuthorizedException("API key is unknown or revoked")
        if cached.expires_at is not None and cached.expires_at <= datetime.datetime.now(datetime.UTC):
            raise NotAuthorizedException("API key has expired")
        return cached.principal

    async def _load(self, prefix: str) -> _CachedKey | None:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
                )
            ).scalar_one_or_none()
            if row is None:
                return None
            # last_used_at is refreshed when the cache is, i.e. at most once per TTL per key.
            await session.execute(
                update(ApiKey)
                .where(ApiKey.id == row.id)
                .values(last_used_at=datetime.datetime.now(datetime.UTC))
            )
            await session.commit()
            principal = Principal(
                key_id=str(row.id), name=row.name, prefix=row.prefix, role=ApiKeyRole(row.role)
            )
            return _CachedKey(row.key_hash, principal, row.expires_at, time.monotonic())


def presented_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    # Scans the raw ASGI headers (names are lower-case bytes) rather than building `connection.headers`, a
    # multidict this hot path would construct for one or two lookups on every request.
    api_key = authorization = None
    for name, value in connection.scope["headers"]:
        if name == b"x-api-key" and api_key is None:
            api_key = value
        elif name == b"authorization" and authorization is None:
            authorization = value
    if api_key is not None and (key := api_key.decode("latin-1").strip()):
        return key
    if authorization is not None:
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    if connection.scope["type"] == "websocket":
        return connection.query_params.get("api_key")
    return None


class ApiKeyAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    def __init__(
        self, app: ASGIApp, key_store: KeyStore, exclude: list[str], scopes: Scopes | None = None
    ) -> None:
        super().__init__(app, exclude=exclude, scopes=scopes)
        self.key_store = key_store

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        key = presented_key(connection)
        if not key:
            raise NotAuthorizedException(
                "an API key is required: send it as the X-API-Key header (or Authorization: Bearer <key>)",
                headers={"WWW-Authenticate": 'Bearer realm="asset-tag"'},
            )
        principal = await self.key_store.verify(key)
        return AuthenticationResult(user=principal, auth=key)


def authentication_middleware(key_store: KeyStore, public_paths: list[str]) -> DefineMiddleware:
    return DefineMiddleware(ApiKeyAuthenticationMiddleware, key_store=key_store, exclude=public_paths)


def requires(
    role: ApiKeyRole,
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Coroutine[Any, Any, None]]:
    """A guard: the caller's key must have at least `role`. Async on purpose: Litestar runs sync guards in a
    worker thread, which would cost more than the whole current-location read."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
        principal = connection.scope.get("user")
        if not isinstance(principal, Principal):
            raise NotAuthorizedException("an API key is required")
        if not principal.can(role):
            raise PermissionDeniedException(
                f"this needs the {role.value} role; the key {principal.prefix} has {principal.role.value}"
            )

    guard.__name__ = f"requires_{role.value}"
    return guard


requires_viewer = requires(ApiKeyRole.VIEWER)
requires_operator = requires(ApiKeyRole.OPERATOR)
requires_admin = requires(ApiKeyRole.ADMIN)
