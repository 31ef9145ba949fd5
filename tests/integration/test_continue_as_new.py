"""An order that polls long enough continues as new, on a real dev server told to suggest it
early, and carries on where it was: same search attributes, same CRM history, no ERP document
twice. Every process version."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from domain.orders import OrderPolicy, OrderStatus
from tests.temporal_envs import dev_server
from tests.workflows.conftest import LINKED_ACCOUNT, STRAIGHT_CRM_STATUSES, running_world
from workflows import search_attributes as sa
from workflows.order_to_cash.models import ORDER_TO_CASH_VERSION, PaymentNotice
from workflows.order_to_cash.workflow import OrderToCashWorkflow

# An order waiting for its shipment has about 30 events; each poll of the ERP adds about 8.
SUGGEST_AFTER_EVENTS = 50


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    server = await dev_server(
        dynamic_config={"limit.historyCount.suggestContinueAsNew": str(SUGGEST_AFTER_EVENTS)}
    )
    try:
        yield server
    finally:
        await server.shutdown()


@pytest.mark.parametrize("version", [ORDER_TO_CASH_VERSION, 2, 1], ids=lambda v: f"v{v}")
async def test_an_order_continues_as_new_while_it_polls_and_goes_on(
    env: WorkflowEnvironment, version: int
) -> None:
    async with running_world(env, version) as world:
        order_id = await world.order([("P1", 2, 100)])
        policy = OrderPolicy(shipment_poll_every=timedelta(seconds=1))
        handle = await world.start(order_id, policy=policy)
        first_run = handle.first_execution_run_id
        latest = env.client.get_workflow_handle(handle.id)
        for _ in range(120):  # real seconds: a poll a second
            if (await latest.describe()).run_id != first_run:
                break
            await asyncio.sleep(0.5)
        else:
            raise AssertionError("the order never continued as new")
        history = await env.client.get_workflow_handle(handle.id, run_id=first_run).fetch_history()
        assert history.events[-1].event_type == (
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        )

        # The new run waits where the old one was, found as before.
        state = await latest.query(OrderToCashWorkflow.status)
        assert state.status is OrderStatus.AWAITING_SHIPMENT and state.erp_order_number
        found = (await latest.describe()).typed_search_attributes
        assert found.get(sa.ORDER_STATUS) == OrderStatus.AWAITING_SHIPMENT.value
        assert found.get(sa.CUSTOMER_ID) == LINKED_ACCOUNT
        assert found.get(sa.ERP_ORDER_NUMBER) == state.erp_order_number

        await world.erp.ship(state.erp_order_number)  # found by the next poll, no signal
        for _ in range(60):
            state = await latest.query(OrderToCashWorkflow.status)
            if state.invoice_number is not None:
                break
            await asyncio.sleep(0.5)
        assert state.invoice_number is not None
        invoice = await world.erp.get_invoice(state.invoice_number)
        await world.erp.record_payment(invoice.number, invoice.total, f"order-{order_id}/paid")
        await latest.signal(OrderToCashWorkflow.payment_notified, PaymentNotice())
        result = await handle.result()  # follows the runs

        assert result.status is OrderStatus.COMPLETED
        assert await world.crm_statuses(order_id) == STRAIGHT_CRM_STATUSES
        assert await world.erp.count_documents(f"order-{order_id}/") == {
            "reservations": 1,
            "sales_orders": 1,
            "invoices": 1,
            "payments": 1,
        }
        found = (await latest.describe()).typed_search_attributes
        assert found.get(sa.ORDER_STATUS) == OrderStatus.COMPLETED.value
        assert found.get(sa.CUSTOMER_ID) == LINKED_ACCOUNT
