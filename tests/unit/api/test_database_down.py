"""With its database down the API says so — 503 with Retry-After, a problem document naming the cause — rather
than a 500 that sends people looking for a bug."""

from __future__ import annotations

import socket

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings

pytestmark = pytest.mark.unit


async def test_requests_answer_503_while_the_database_is_unreachable(embedded_settings: Settings) -> None:
    with socket.socket() as sock:  # a port nobody listens on: connections are refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = embedded_settings.model_copy(
        update={"database_url": f"postgresql+psycopg://assettag:x@127.0.0.1:{port}/assettag"}
    )
    well_formed_key = "atk_3Fq9XbT2_" + "a" * 32  # checking it needs the database
    async with AsyncTestClient(app=create_app(down)) as client:
        for path in ("/api/v1/sites", "/api/v1/assets/0b8e9c3e-8f3c-4a4e-9a8e-000000000001/location"):
            response = await client.get(path, headers={"X-API-Key": well_formed_key})
            assert response.status_code == 503, (path, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.headers["retry-after"] == "5"
            assert "database is unavailable" in response.json()["detail"]
