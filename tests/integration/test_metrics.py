"""The worker's Prometheus endpoint: the SDK's runtime metrics and the business counters move
after real orders (on the dev server, with the sandbox systems)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from adapters.sandbox import SandboxCRM, SandboxERP, seed
from domain.orders import OrderStatus
from infra.devserver import free_port
from infra.metrics import prometheus_runtime
from infra.orders import order_handle, order_input, reached, start_order, wait_for
from tests.integration.conftest import Stack, dev_address, stack_settings
from tests.integration.test_end_to_end import crm_order, run_to_cash
from tests.prometheus import Samples, samples_of, total
from worker import build_workers
from workflows.order_to_cash.models import CancelInput
from workflows.order_to_cash.workflow import OrderToCashWorkflow

pytestmark = pytest.mark.devserver


@pytest.fixture
async def measured(
    dev_env: WorkflowEnvironment, sandbox: tuple[SandboxCRM, SandboxERP]
) -> AsyncIterator[tuple[Stack, str]]:
    """Workers whose client exports on a Prometheus endpoint of their own."""
    crm, erp = sandbox
    address = f"127.0.0.1:{free_port()}"
    client = await Client.connect(
        dev_address(dev_env),
        data_converter=dev_env.client.data_converter,
        runtime=prometheus_runtime(address),
    )
    settings = stack_settings(dev_env, "sqlite+aiosqlite://", "sqlite+aiosqlite://")
    workers = build_workers(client, settings, crm, erp)
    for w in workers:
        await w.__aenter__()
    try:
        yield Stack(client=client, settings=settings, crm=crm, erp=erp), f"http://{address}/metrics"
    finally:
        for w in reversed(workers):
            await w.__aexit__(None, None, None)


async def _scrape(url: str) -> Samples:
    async with httpx.AsyncClient() as http:
        answer = await http.get(url)
    answer.raise_for_status()
    return samples_of(answer.text)


async def test_business_counters_move_after_orders(measured: tuple[Stack, str]) -> None:
    stack, url = measured
    queue = stack.settings.workflow_task_queue  # ours alone: the counts are exact

    paid = crm_order("MT-1", seed.ACCOUNT_SEPAHAN, (seed.SKU_PLC, "1"))
    paid.lines[0].discount_pct = Decimal("20")  # over the policy's 15 %: a person approves
    await run_to_cash(stack, paid)
    assert (await order_handle(stack.client, "MT-1").result()).status is OrderStatus.COMPLETED

    withdrawn = crm_order("MT-2", seed.ACCOUNT_SEPAHAN, (seed.SKU_PLC, "2"))
    assert await stack.crm.create_order(withdrawn)
    await start_order(stack.client, stack.settings, order_input(stack.settings, "MT-2"))
    await wait_for(stack.client, "MT-2", reached(OrderStatus.AWAITING_SHIPMENT))
    cancel = CancelInput(requested_by=seed.SALES_REP, reason="customer withdrew")
    await order_handle(stack.client, "MT-2").execute_update(OrderToCashWorkflow.cancel, cancel)
    assert (await order_handle(stack.client, "MT-2").result()).status is OrderStatus.CANCELLED

    expected = {
        ("peyvand_orders_started_total", ()): 2,
        ("peyvand_orders_completed_total", ()): 1,
        ("peyvand_orders_stopped_total", (("status", "CANCELLED"), ("reason", "cancelled"))): 1,
        ("peyvand_orders_compensated_total", (("reason", "cancelled"),)): 1,
        ("peyvand_crm_to_erp_seconds_count", ()): 2,
        ("peyvand_approval_wait_seconds_count", (("kind", "order"), ("outcome", "approved"))): 1,
    }
    got: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for _ in range(50):  # the exporter shows a workflow task's metrics once it completed
        samples = await _scrape(url)
        got = {key: total(samples, key[0], task_queue=queue, **dict(key[1])) for key in expected}
        if got == expected:
            break
        await asyncio.sleep(0.2)
    assert got == expected
    # The KPI histogram is in seconds, and both orders reached the ERP well within 5 minutes.
    under_5_min = total(samples, "peyvand_crm_to_erp_seconds_bucket", task_queue=queue, le="300")
    assert under_5_min == 2
    # The SDK's own runtime metrics are on the same endpoint.
    assert total(samples, "temporal_workflow_completed_total", task_queue=queue) >= 2
