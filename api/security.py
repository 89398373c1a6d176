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

import asyncio
import datetime
import logging
import math
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware
from litestar.types import ASGIApp, Scope, Scopes
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.keys.secrets import key_prefix, looks_like_key, matches
from core.db.enums import ApiKeyRole
from core.db.models import ApiKey

KEY_CACHE_TTL_S = 30.0
KEY_CACHE_MAX_STALE_S = 120.0
"""Past this age (the background refresh keeps failing) a verdict is not used: requests wait for a load."""
MAX_CACHED_KEYS = 10_000
logger = logging.getLogger(__name__)

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
class _Verdict:
    """What the database said about one key prefix, and when: `key_hash` None means no usable key."""

    key_hash: str | None
    principal: Principal | None
    expires_at: float | None  # epoch seconds
    loaded_at: float  # monotonic seconds


class KeyStore:
    """Looks keys up by prefix, checks the hash, caches the verdict for a short while.

    A verdict older than `ttl_s` is refreshed by one background load per prefix while requests keep being
    answered from it (for at most `max_stale_s`, after which they wait for the load): under load, an expiring
    entry must not send every concurrent request to the database at once (it did: each one ran its own SELECT
    and a `last_used_at` UPDATE of the same row, queueing on that row's lock). Revoked prefixes are remembered,
    so a load that raced the revoke cannot bring the key back.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        ttl_s: float = KEY_CACHE_TTL_S,
        max_stale_s: float = KEY_CACHE_MAX_STALE_S,
    ) -> None:
        self._sessions = sessions
        self._ttl_s = ttl_s
        self._max_stale_s = max(max_stale_s, ttl_s)
        self._cache: dict[str, _Verdict] = {}
        self._loads: dict[str, asyncio.Task[_Verdict]] = {}
        self._revoked: set[str] = set()

    def forget(self, prefix: str) -> None:
        """The key with this prefix was revoked: refuse it from now on, whatever a load in flight reads."""
        self._revoked.add(prefix)
        self._cache.pop(prefix, None)

    async def verify(self, key: str) -> Principal:
        if not looks_like_key(key):
            raise NotAuthorizedException(
                "API key is malformed: expected the atk_… value `assettag keys create` printed"
            )
        prefix = key_prefix(key)
        verdict = self._cache.get(prefix)
        age = math.inf if verdict is None else time.monotonic() - verdict.loaded_at
        if age >= self._ttl_s:
            load = self._load_once(prefix)
            if age >= self._max_stale_s:
                verdict = await asyncio.shield(load)
        assert verdict is not None  # age is finite only when there is a verdict
        if verdict.key_hash is None or verdict.principal is None or not matches(key, verdict.key_hash):
            raise NotAuthorizedException("API key is unknown or revoked")
        if verdict.expires_at is not None and verdict.expires_at <= time.time():
            raise NotAuthorizedException("API key has expired")
        return verdict.principal

    def _load_once(self, prefix: str) -> asyncio.Task[_Verdict]:
        """The load of this prefix in flight, or a new one: one database round-trip per prefix at a time."""
        task = self._loads.get(prefix)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._refresh(prefix))
            self._loads[prefix] = task
            task.add_done_callback(self._load_done)
        return task

    def _load_done(self, task: asyncio.Task[_Verdict]) -> None:
        for prefix, running in list(self._loads.items()):
            if running is task:
                del self._loads[prefix]
        if not task.cancelled() and (error := task.exception()) is not None:
            # A background refresh nobody waits for: the stale verdict keeps serving until max_stale_s.
            logger.warning("API key lookup failed: %s", error)

    async def _refresh(self, prefix: str) -> _Verdict:
        verdict = _Verdict(None, None, None, time.monotonic())
        if prefix not in self._revoked:
            verdict = await self._load(prefix)
        if prefix in self._revoked:  # revoked while the load ran
            verdict = _Verdict(None, None, None, verdict.loaded_at)
        if len(self._cache) >= MAX_CACHED_KEYS and prefix not in self._cache:
            self._cache.clear()  # random unknown prefixes must not grow memory without bound
        self._cache[prefix] = verdict
        return verdict

    async def _load(self, prefix: str) -> _Verdict:
        loaded_at = time.monotonic()
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
                )
            ).scalar_one_or_none()
            if row is None:
                return _Verdict(None, None, None, loaded_at)
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
            expires_at = row.expires_at  # DateTimeUTC: always timezone-aware
            return _Verdict(
                row.key_hash, principal, None if expires_at is None else expires_at.timestamp(), loaded_at
            )


def scope_key(scope: Scope) -> str | None:
    """The API key an HTTP request presents in its headers (X-API-Key, else Authorization: Bearer), if any."""
    # Scans the raw ASGI headers (names are lower-case bytes) rather than building `connection.headers`, a
    # multidict this hot path would construct for one or two lookups on every request.
    api_key = authorization = None
    for name, value in scope["headers"]:
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
    return None


def presented_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    key = scope_key(connection.scope)
    if key is None and connection.scope["type"] == "websocket":
        return connection.query_params.get("api_key")
    return key


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
