"""The ingress's ``GET /metrics``: requests by route and status, and what webhooks did."""

from __future__ import annotations

import asyncio
import sys
import time

import httpx
import pytest

from adapters.sandbox import seed
from infra.devserver import free_port
from infra.settings import ROOT
from tests.ingress.conftest import Door, crm_order, new_id
from tests.prometheus import Samples, samples_of, total

pytestmark = pytest.mark.devserver


async def _samples(door: Door) -> Samples:
    answer = await door.http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return samples_of(answer.text)


async def test_webhook_outcomes_and_refusals_are_counted(door: Door) -> None:
    order_id = new_id("MX")
    assert await door.crm.create_order(
        crm_order(order_id, seed.ACCOUNT_SEPAHAN, seed.SKU_PLC, 1, "100.00")
    )
    event = {"event_id": new_id("evt"), "order_id": order_id}
    before = await _samples(door)

    assert (await door.deliver("crm", "orders", event)).status_code == 202
    again = await door.deliver("crm", "orders", event, at=time.time() + 1)
    assert again.status_code == 202 and again.json()["duplicate"] is True
    forged = await door.http.post(
        "/webhooks/crm/orders",
        content=b"{}",
        headers={"X-Peyvand-Timestamp": str(int(time.time())), "X-Peyvand-Signature": "sha256=00"},
    )
    assert forged.status_code == 401
    after = await _samples(door)

    def moved(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    events = "peyvand_ingress_webhook_events_total"
    assert moved(events, source="crm", kind="order-created", outcome="acted") == 1
    assert moved(events, source="crm", kind="order-created", outcome="duplicate") == 1
    requests = "peyvand_ingress_requests_total"
    route = "/webhooks/crm/orders"
    assert moved(requests, route=route, method="POST", status="202") == 2
    assert moved(requests, route=route, method="POST", status="401") == 1
    # Latency is kept per route template, never per raw path.
    assert moved("peyvand_ingress_request_seconds_count", route=route) == 3
    assert not any("MX-" in str(labels) for _, labels in after)


async def test_the_ingress_alone_serves_its_clients_sdk_metrics_too(door: Door) -> None:
    port, sdk = free_port(), free_port()
    assert door.settings.codec_keys is not None
    env = {
        "PATH": "/usr/bin:/bin",
        "PEYVAND_TEMPORAL_ADDRESS": door.settings.temporal_address,
        "PEYVAND_DATA_DIR": str(door.settings.data_dir),
        "PEYVAND_CODEC_KEYS": door.settings.codec_keys.get_secret_value(),
        "PEYVAND_INGRESS_PORT": str(port),
        "PEYVAND_METRICS_ADDRESS": f"127.0.0.1:{sdk}",
        "PEYVAND_LOG_FORMAT": "json",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ingress",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(150):
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            # A status read goes to Temporal through the ingress's client.
            ours = await http.get(f"http://127.0.0.1:{port}/metrics")
            assert "peyvand_ingress_requests_total" in ours.text
            sdk_text = (await http.get(f"http://127.0.0.1:{sdk}/metrics")).text
        assert "temporal_request" in sdk_text, sdk_text[:500]
    finally:
        proc.terminate()
        await proc.wait()


async def test_made_up_methods_share_one_series(door: Door) -> None:
    for method in ("ZZQ1", "ZZQ2", "BREW"):
        assert (await door.http.request(method, "/healthz")).status_code == 405
    samples = await _samples(door)
    methods = {
        dict(labels)["method"] for name, labels in samples if name.endswith("requests_total")
    }
    assert "OTHER" in methods and not methods & {"ZZQ1", "ZZQ2", "BREW"}
