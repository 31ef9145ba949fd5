"""Cancellation: Update ``cancel`` until shipment, or cancelling the run, undoes what was done."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, CancelledError

from domain.errors import SystemUnavailable
from domain.models import CrmOrderStatus, SalesOrderStatus
from domain.orders import OrderStatus
from tests.workflows.conftest import O2C
from tests.workflows.history import update_events
from workflows.order_to_cash.models import CancelInput, ShipmentNotice
from workflows.order_to_cash.workflow import OrderToCashWorkflow

# P1 12 x 1000 (over threshold: approval), P1 spans THR 5 + IFN 7; P2 from THR.
BIG = [("P1", 12, 1000), ("P2", 6, 50)]
# Within threshold: straight to the sales order. P1 spans THR 5 + IFN 4.
SMALL = [("P1", 9, 100), ("P2", 22, 10)]


async def _assert_compensated(o2c: O2C, order_id: str, stock_before: object) -> None:
    assert await o2c.erp.stock_snapshot() == stock_before
    history = await o2c.crm.status_history(order_id)
    assert history[-1].status is CrmOrderStatus.CANCELLED
    assert (await o2c.crm.get_order(order_id)).status is CrmOrderStatus.CANCELLED


async def test_cancel_while_awaiting_approval(o2c: O2C) -> None:
    stock_before = await o2c.erp.stock_snapshot()
    order_id = await o2c.order(BIG)
    handle = await o2c.start(order_id)
    await o2c.wait_for(handle, OrderStatus.AWAITING_APPROVAL)
    snap = await o2c.erp.stock_snapshot()
    assert snap[("P1", "THR")][1] == 5 and snap[("P1", "IFN")][1] == 7
    assert snap[("P2", "THR")][1] == 6

    accepted = await handle.execute_update(
        OrderToCashWorkflow.cancel, CancelInput(requested_by="rep", reason="customer changed mind")
    )
    assert accepted.accepted
    result = await handle.result()

    assert result.status is OrderStatus.CANCELLED
    assert result.reason == "customer changed mind (by rep)"
    await _assert_compensated(o2c, order_id, stock_before)
    assert (await o2c.crm.status_history(order_id))[-1].reason == result.reason
    assert await o2c.erp.count_documents(f"order-{order_id}/sales-order") == {
        "reservations": 0,
        "sales_orders": 0,
        "invoices": 0,
        "payments": 0,
    }
    assert o2c.erp.calls.count("release") == 2
    state = await o2c.state(handle)
    assert state.cancel_requested_by == "rep" and state.reservations == []
    assert [e.actor for e in state.events if e.kind == "cancel-requested"] == ["rep"]


async def test_cancel_while_awaiting_shipment(o2c: O2C) -> None:
    stock_before = await o2c.erp.stock_snapshot()
    order_id = await o2c.order(SMALL)
    handle = await o2c.start(order_id)
    state = await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)
    assert {r.sku: r.warehouses for r in state.reservations} == {
        "P1": {"THR": Decimal(5), "IFN": Decimal(4)},
        "P2": {"THR": Decimal(20), "IFN": Decimal(2)},
    }

    accepted = await handle.execute_update(
        OrderToCashWorkflow.cancel, CancelInput(requested_by="boss")
    )
    assert accepted.accepted and accepted.status is OrderStatus.AWAITING_SHIPMENT
    result = await handle.result()

    assert result.status is OrderStatus.CANCELLED
    await _assert_compensated(o2c, order_id, stock_before)
    so = await o2c.erp.get_sales_order(f"order-{order_id}/sales-order")
    assert so is not None and so.status is SalesOrderStatus.CANCELLED
    state = await o2c.state(handle)
    # Undone in reverse: the sales order first, then the reservations, last line first.
    assert [e.detail for e in state.events if e.kind == "compensated"] == [
        "cancel the ERP sales order",
        "release P2",
        "release P1",
    ]


async def test_cancel_after_shipment_refused_by_validator(o2c: O2C) -> None:
    order_id = await o2c.order(SMALL)
    handle = await o2c.start(order_id)
    await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)
    await o2c.ship(handle)
    await o2c.wait_for(handle, OrderStatus.AWAITING_PAYMENT)

    with pytest.raises(WorkflowUpdateFailedError) as info:
        await handle.execute_update(OrderToCashWorkflow.cancel, CancelInput(requested_by="rep"))
    assert isinstance(info.value.cause, ApplicationError)
    assert "only until shipment" in info.value.cause.message

    assert (await update_events(handle))["accepted"] == 0
    state = await o2c.state(handle)
    assert state.status is OrderStatus.AWAITING_PAYMENT and state.cancel_requested_by is None
    so = await o2c.erp.get_sales_order(f"order-{order_id}/sales-order")
    assert so is not None and so.status is SalesOrderStatus.INVOICED
    assert CrmOrderStatus.CANCELLED not in await o2c.crm_statuses(order_id)


async def test_cancel_refused_when_erp_shipped_before_telling_us(o2c: O2C) -> None:
    order_id = await o2c.order(SMALL)
    handle = await o2c.start(order_id)
    await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)
    await o2c.ship(handle, signal=False)  # the workflow does not know yet

    answer = await handle.execute_update(
        OrderToCashWorkflow.cancel, CancelInput(requested_by="rep")
    )
    assert not answer.accepted

    # The refusal also nudged the shipment check: no need to wait for the 6-hour poll.
    state = await o2c.wait_for(handle, OrderStatus.AWAITING_PAYMENT, steps=30)
    assert state.cancel_requested_by is None
    assert [e.actor for e in state.events if e.kind == "cancel-refused"] == ["rep"]
    assert CrmOrderStatus.CANCELLED not in await o2c.crm_statuses(order_id)


async def test_cancel_without_requester_refused(o2c: O2C) -> None:
    order_id = await o2c.order(SMALL)
    handle = await o2c.start(order_id)
    await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(OrderToCashWorkflow.cancel, CancelInput(requested_by="  "))
    assert (await o2c.state(handle)).status is OrderStatus.AWAITING_SHIPMENT


async def test_workflow_cancel_from_client_runs_compensations(o2c: O2C) -> None:
    stock_before = await o2c.erp.stock_snapshot()
    order_id = await o2c.order(SMALL)
    handle = await o2c.start(order_id)
    await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)

    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as info:
        await handle.result()
    assert isinstance(info.value.cause, CancelledError)

    await _assert_compensated(o2c, order_id, stock_before)
    so = await o2c.erp.get_sales_order(f"order-{order_id}/sales-order")
    assert so is not None and so.status is SalesOrderStatus.CANCELLED
    state = await o2c.state(handle)
    assert state.status is OrderStatus.CANCELLED
    assert state.reason == "cancelled from Temporal"


async def test_workflow_cancel_during_an_activity_ends_cancelled(o2c: O2C) -> None:
    stock_before = await o2c.erp.stock_snapshot()
    order_id = await o2c.order(SMALL)
    handle = await o2c.start(order_id)
    await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)
    # A (premature) shipment notice comes while the ERP is down: the shipment check retries.
    o2c.erp.fail_next["get_sales_order"] = [SystemUnavailable("down", system="erp")] * 10
    await handle.signal(OrderToCashWorkflow.shipment_notified, ShipmentNotice())
    for _ in range(100):
        if "get_sales_order" in o2c.erp.calls:
            break
        await asyncio.sleep(0.02)

    await handle.cancel()
    try:
        await handle.result()
    except WorkflowFailureError:
        outcome = "cancelled"
    else:
        state = await o2c.state(handle)
        outcome = f"{state.status.value} ({state.reason})"
    o2c.erp.fail_next.clear()  # the retries left over must not hit the checks below
    # Compensation runs either way: stock back, sales order cancelled.
    assert await o2c.erp.stock_snapshot() == stock_before
    so = await o2c.erp.get_sales_order(f"order-{order_id}/sales-order")
    assert so is not None and so.status is SalesOrderStatus.CANCELLED
    assert outcome == "cancelled", f"run ended {outcome}, not cancelled"
    assert (await o2c.crm_statuses(order_id))[-1] is CrmOrderStatus.CANCELLED


async def test_sales_order_cancelled_in_erp_ends_cancelled_and_releases(o2c: O2C) -> None:
    stock_before = await o2c.erp.stock_snapshot()
    order_id = await o2c.order(SMALL)
    handle = await o2c.start(order_id)
    await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)
    await o2c.erp.cancel_sales_order(f"order-{order_id}/sales-order")  # someone, in the ERP
    await handle.signal(OrderToCashWorkflow.shipment_notified, ShipmentNotice())

    result = await handle.result()

    assert result.status is OrderStatus.CANCELLED
    assert result.reason is not None and "cancelled in the ERP" in result.reason
    await _assert_compensated(o2c, order_id, stock_before)


async def test_workflow_cancel_after_shipment_is_flagged_not_silently_cancelled(
    o2c: O2C,
) -> None:
    order_id = await o2c.order(SMALL)
    handle = await o2c.start(order_id)
    await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)
    await o2c.ship(handle)
    await o2c.wait_for(handle, OrderStatus.AWAITING_PAYMENT)

    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()

    state = await o2c.state(handle)
    # Goods left and an invoice is open: a person must be told, the CRM must not say cancelled.
    assert (await o2c.crm.get_order(order_id)).status is not CrmOrderStatus.CANCELLED
    assert state.needs_attention, "no needs-attention entry for a cancelled, shipped order"
