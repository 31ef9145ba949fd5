"""The default queues on a real dev server: the ERP's activities share the workflows' queue, so
the worker that schedules one is handed it with the workflow task (eager execution) instead of
through the server's matching; the CRM's keep a queue of their own; and an order started by a
client that runs the workflow worker starts eagerly too. The server's own counters tell. A run
started while the ERP had a queue of its own still gets its ERP calls done there."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from adapters.sandbox import SandboxCRM, SandboxERP, seed
from domain.orders import OrderStatus
from infra.devserver import free_port
from infra.orders import order_handle, order_input, reached, start_order, wait_for
from tests.integration.conftest import stack_settings
from tests.integration.test_end_to_end import crm_order
from tests.prometheus import samples_of, total
from tests.temporal_envs import dev_server
from worker import build_workers

pytestmark = pytest.mark.devserver


@pytest.fixture
async def metered_env() -> AsyncIterator[tuple[WorkflowEnvironment, str]]:
    """A dev server of its own, so its counters hold only this test's work."""
    port = free_port()
    env = await dev_server(metrics_port=port)
    try:
        yield env, f"http://127.0.0.1:{port}/metrics"
    finally:
        await env.shutdown()


async def _eager_counts(url: str) -> tuple[float, float]:
    async with httpx.AsyncClient() as http:
        samples = samples_of((await http.get(url)).text)
    # The parser names a counter's samples with the ``_total`` suffix the server leaves out.
    return (
        total(samples, "activity_eager_execution_total"),
        total(samples, "workflow_eager_execution_total"),
    )


async def test_erp_activities_and_the_start_go_eagerly_crm_ones_through_their_queue(
    metered_env: tuple[WorkflowEnvironment, str], sandbox: tuple[SandboxCRM, SandboxERP]
) -> None:
    env, metrics = metered_env
    crm, erp = sandbox
    settings = stack_settings(env, "sqlite+aiosqlite://", "sqlite+aiosqlite://")
    assert settings.erp_task_queue == settings.workflow_task_queue
    order = crm_order("EAGER-1", seed.ACCOUNT_SEPAHAN, (seed.SKU_PLC, "1"), (seed.SKU_SENSOR, "2"))
    assert await crm.create_order(order)
    activities_before, starts_before = await _eager_counts(metrics)

    workers = build_workers(env.client, settings, crm, erp)
    for w in workers:
        await w.__aenter__()
    try:
        handle = await start_order(env.client, settings, order_input(settings, "EAGER-1"))
        await wait_for(env.client, "EAGER-1", reached(OrderStatus.AWAITING_SHIPMENT))
    finally:
        for w in reversed(workers):
            await w.__aexit__(None, None, None)

    queues: list[str] = []
    async for event in order_handle(env.client, "EAGER-1").fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            queues.append(event.activity_task_scheduled_event_attributes.task_queue.name)
    on_erp = queues.count(settings.erp_task_queue)
    assert on_erp >= 4  # products, credit, a reservation per line, the sales order
    assert queues.count(settings.crm_task_queue) >= 1
    assert set(queues) == {settings.erp_task_queue, settings.crm_task_queue}

    # Every ERP activity went eagerly (the SDK takes up to three a workflow task: this order's
    # two reservations fit), and no CRM one could: it is on another queue. The server
    # publishes its counters about once a second.
    want = (activities_before + on_erp, starts_before + 1)
    deadline = time.monotonic() + 20
    while (got := await _eager_counts(metrics)) != want and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert got == want
    assert getattr(handle, "__temporal_eagerly_started") is True  # the SDK's own record


async def test_a_run_started_on_the_old_erp_queue_is_served_there(
    dev_env: WorkflowEnvironment, sandbox: tuple[SandboxCRM, SandboxERP]
) -> None:
    crm, erp = sandbox
    settings = stack_settings(dev_env, "sqlite+aiosqlite://", "sqlite+aiosqlite://")
    (old_queue,) = settings.erp_drain_task_queues
    order = crm_order("OLD-1", seed.ACCOUNT_SEPAHAN, (seed.SKU_PLC, "1"))
    assert await crm.create_order(order)
    # As an order started by the earlier release recorded it: the ERP's own queue.
    started_then = order_input(settings, "OLD-1").model_copy(update={"erp_task_queue": old_queue})
    workers = build_workers(dev_env.client, settings, crm, erp)
    for w in workers:
        await w.__aenter__()
    try:
        await start_order(dev_env.client, settings, started_then)
        state = await wait_for(dev_env.client, "OLD-1", reached(OrderStatus.AWAITING_SHIPMENT))
    finally:
        for w in reversed(workers):
            await w.__aexit__(None, None, None)
    assert state.erp_order_number is not None
    queues = set()
    async for event in order_handle(dev_env.client, "OLD-1").fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            queues.add(event.activity_task_scheduled_event_attributes.task_queue.name)
    assert queues == {old_queue, settings.crm_task_queue}
