"""Paginated lists: `?limit=&offset=&sort=&order=` on every list route, answered with the total count.

{"items": [...], "limit": 50, "offset": 0, "total": 1234}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, TypeVar

from advanced_alchemy.filters import LimitOffset, OrderBy, StatementFilter
from advanced_alchemy.service import OffsetPagination
from litestar.params import Parameter

T = TypeVar("T")

MAX_LIMIT = 500
Order = Literal["asc", "desc"]


def provide_page(
    limit: Annotated[int, Parameter(ge=1, le=MAX_LIMIT, description=f"page size (1-{MAX_LIMIT})")] = 50,
    offset: Annotated[int, Parameter(ge=0, le=10**9, description="items to skip")] = 0,
) -> LimitOffset:
    return LimitOffset(limit=limit, offset=offset)


def list_filters(page: LimitOffset, sort: str, order: Order, *extra: StatementFilter | None) -> list[Any]:
    """The filters of a list query: the caller's filters, then a stable sort (id breaks ties), then the page."""
    filters: list[Any] = [f for f in extra if f is not None]
    filters.append(OrderBy(field_name=sort, sort_order=order))
    if sort != "id":
        filters.append(OrderBy(field_name="id", sort_order="asc"))
    filters.append(page)
    return filters


def paginated(items: Sequence[T], total: int, page: LimitOffset) -> OffsetPagination[T]:
    return OffsetPagination(items=list(items), limit=page.limit, offset=page.offset, total=total)


__all__ = ["MAX_LIMIT", "OffsetPagination", "Order", "list_filters", "paginated", "provide_page"]
