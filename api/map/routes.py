"""Serves the live map page. The page itself is public (a browser cannot send an API-key header when it
navigates); everything it shows comes from REST and WebSocket calls that carry the key."""

from __future__ import annotations

from pathlib import Path

from litestar import MediaType, Response, get
from litestar.static_files import create_static_files_router

STATIC_DIR = Path(__file__).parent / "static"
PUBLIC = {"exclude_from_auth": True}


@get("/map", media_type=MediaType.HTML, include_in_schema=False, opt=PUBLIC, sync_to_thread=False)
def map_page() -> Response[bytes]:
    # Read per request (it is small) so the page can be edited while the server runs.
    return Response(
        (STATIC_DIR / "index.html").read_bytes(),
        media_type=MediaType.HTML,
        headers={"Cache-Control": "no-cache"},
    )


MAP_ROUTES = [
    map_page,
    create_static_files_router(
        path="/map/static", directories=[STATIC_DIR], opt=PUBLIC, include_in_schema=False, name="map-static"
    ),
]
