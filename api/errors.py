"""Every error the API returns is an RFC 9457 problem document (`application/problem+json`), mapped here in one place.

    {"type": "about:blank", "title": "Unprocessable Content", "status": 422,
     "detail": "geometry: ring is not closed ...", "instance": "/api/v1/geofences", "errors": [...]}

Bad input is always a 4xx whose `detail` (and `errors[].field` for request validation) names the field and the
problem; only a genuine bug is a 500, and then without internals in the body.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from advanced_alchemy.exceptions import DuplicateKeyError, ForeignKeyError
from advanced_alchemy.exceptions import IntegrityError as RepositoryIntegrityError
from advanced_alchemy.exceptions import NotFoundError as RepositoryNotFoundError
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError, StatementError

logger = logging.getLogger("api.errors")

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_S = 5


class ApiError(Exception):
    """A request the API understood but cannot carry out; `detail` is meant for the person who sent it."""

    status_code = 400

    def __init__(self, detail: str, *, field: str | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra or {}


class NotFound(ApiError):
    status_code = 404


class Conflict(ApiError):
    status_code = 409


class Unprocessable(ApiError):
    status_code = 422


def problem(
    request: Request[Any, Any, Any], status: int, detail: str, **extra: Any
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    body.update({key: value for key, value in extra.items() if value is not None})
    return Response(body, status_code=status, media_type=PROBLEM_JSON)


def _http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    errors = None
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        errors = [
            {"field": item.get("key"), "source": item.get("source"), "message": item.get("message")}
            for item in exc.extra
            if isinstance(item, dict)
        ]
        named = "; ".join(f"{e['field']}: {e['message']}" for e in errors if e["field"])
        detail = f"{exc.detail}: {named}" if named else str(exc.detail)
    else:
        detail = str(exc.detail)
    response = problem(request, exc.status_code, detail, errors=errors)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def _api_error(request: Request[Any, Any, Any], exc: ApiError) -> Response[dict[str, Any]]:
    return problem(request, exc.status_code, exc.detail, field=exc.field, **exc.extra)


def _not_found(request: Request[Any, Any, Any], exc: RepositoryNotFoundError) -> Response[dict[str, Any]]:
    return problem(request, 404, str(exc.detail or exc) or "not found")


_UNIQUE_SQLITE = re.compile(r"UNIQUE constraint failed: ([\w.]+)")
_UNIQUE_POSTGRES = re.compile(r"Key \(([^)]+)\)=\((.*?)\) already exists")
_FK_POSTGRES = re.compile(r"Key \(([^)]+)\)=\((.*?)\) is not present in table \"(\w+)\"")
_CHECK = re.compile(r"(?:CHECK constraint failed: |violates check constraint \")(\w+)")


def describe_integrity_error(message: str) -> tuple[int, str]:
    """Status and a human sentence for a constraint violation, from the driver's message."""
    if match := _UNIQUE_POSTGRES.search(message):
        return 409, f"{match.group(1)}: {match.group(2)!r} is already taken"
    if match := _UNIQUE_SQLITE.search(message):
        return 409, f"{match.group(1).split('.')[-1]}: that value is already taken"
    if match := _FK_POSTGRES.search(message):
        return 422, f"{match.group(1)}: no {match.group(3).rstrip('s')} with id {match.group(2)}"
    if "FOREIGN KEY constraint failed" in message:
        return 422, "a referenced record (site, asset, geofence, ...) does not exist"
    if match := _CHECK.search(message):
        return 422, f"the values break the rule {match.group(1)!r}"
    if "not-null" in message or "NOT NULL" in message:
        return 422, "a required field is missing"
    return 409, "the change conflicts with existing data"


def _integrity(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    cause: BaseException = exc
    while cause.__cause__ is not None and not isinstance(cause, IntegrityError):
        cause = cause.__cause__
    message = str(getattr(cause, "orig", None) or cause)
    status, detail = describe_integrity_error(message)
    if isinstance(exc, DuplicateKeyError):
        status = 409
    elif isinstance(exc, ForeignKeyError):
        status = 422
    return problem(request, status, detail)


def _data_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    orig = getattr(exc, "orig", None) or exc
    first_line = str(orig).splitlines()[0] if str(orig) else "a value is not valid for its field"
    return problem(request, 422, f"a value cannot be stored: {first_line}")


def _value_error(request: Request[Any, Any, Any], exc: ValueError) -> Response[dict[str, Any]]:
    # Model validators (tag_id, timezone, ...) raise ValueError("<field>: <problem>").
    return problem(request, 422, str(exc))


def _unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # The database (or its network) is down: the request was fine and will work again, so say so — a 500
    # would send people looking for a bug. Clients and load balancers retry on 503.
    logger.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    response = problem(request, 503, "the database is unavailable; retry shortly")
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def _statement_error(request: Request[Any, Any, Any], exc: StatementError) -> Response[dict[str, Any]]:
    if isinstance(exc, OperationalError | InterfaceError):
        return _unavailable(request, exc)
    if isinstance(exc, IntegrityError):
        return _integrity(request, exc)
    if isinstance(exc, DataError) or isinstance(exc.orig, ValueError | TypeError):
        return _data_error(request, exc)
    return _internal(request, exc)


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(request, 500, "internal error; the server log has the details")


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    HTTPException: _http_exception,
    ApiError: _api_error,
    RepositoryNotFoundError: _not_found,
    RepositoryIntegrityError: _integrity,
    StatementError: _statement_error,
    ConnectionError: _unavailable,  # the driver could not even connect (refused, reset)
    ValueError: _value_error,
    Exception: _internal,
}

__all__ = ["EXCEPTION_HANDLERS", "ApiError", "Conflict", "NotFound", "Unprocessable", "problem"]
