"""The ingress served by uvicorn over TCP, as ``worker.py --embedded`` and ``python -m ingress``
serve it."""

from __future__ import annotations

import httpx
import pytest

from infra.devserver import free_port
from ingress.serve import running
from tests.ingress.conftest import Door

pytestmark = pytest.mark.devserver


async def test_served_over_http_and_stopped_cleanly(door: Door) -> None:
    settings = door.settings.model_copy(update={"ingress_port": free_port()})
    base = f"http://127.0.0.1:{settings.ingress_port}"
    async with running(door.app, settings), httpx.AsyncClient(base_url=base) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        doc = (await http.get("/openapi.json")).json()
        assert "/webhooks/crm/orders" in doc["paths"]
        # A second server on the same port is refused with what to do about it.
        with pytest.raises(RuntimeError, match="PEYVAND_INGRESS_PORT"):
            async with running(door.app, settings):
                pass
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(base_url=base) as http:
            await http.get("/healthz")
