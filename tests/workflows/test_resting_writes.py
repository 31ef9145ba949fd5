"""When an order's status reaches visibility and the CRM (version 3: only where the run waits).

A resting status (awaiting stock, approval, shipment or payment) is written, search attributes
and CRM changes together, when the run really waits in it. When the event it waits for is in
already (a fast warehouse, a prepaid order), the status is passed through and written with the
next one the run waits in or ends in. Versions 1 and 2 wrote every resting status; their runs
still do. Every test here runs under all three versions and states what each writes.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateStage

from domain.errors import InvalidState, SystemUnavailable
from domain.models import CrmOrderStatus
from domain.orders import OrderPolicy, OrderStatus, StockPolicy
from tests.workflows.conftest import LINKED_ACCOUNT, O2C, STRAIGHT_CRM_STATUSES, Handle
from tests.workflows.history import activity_count, search_attribute_writes
from workflows import search_attributes as sa
from workflows.approval_chain.models import DecideInput
from workflows.approval_chain.workflow import ApprovalChainWorkflow
from workflows.order_to_cash.models import CancelInput, PaymentNotice
from workflows.order_to_cash.workflow import OrderToCashWorkflow

ALL_KNOWN = ["CustomerId", "ErpOrderNumber", "OrderStatus", "OrderTotal"]


async def _crm_calls(handle: Handle) -> int:
    return await activity_count(handle, "crm_update_order_status")


async def test_an_order_whose_events_are_in_first_is_written_once(o2c: O2C) -> None:
    order_id = await o2c.order([("P1", 2, 100)])
    handle = await o2c.start(order_id)
    o2c.notify_at_once(handle)
    result = await handle.result()
    assert result.status is OrderStatus.COMPLETED

    # The CRM shows every step, in order, whatever the version.
    assert await o2c.crm_statuses(order_id) == STRAIGHT_CRM_STATUSES
    found = (await handle.describe()).typed_search_attributes
    assert found.get(sa.ORDER_STATUS) == OrderStatus.COMPLETED.value
    assert found.get(sa.CUSTOMER_ID) == LINKED_ACCOUNT
    assert found.get(sa.ERP_ORDER_NUMBER) == result.erp_order_number
    assert found.get(sa.ORDER_TOTAL) == 200.0

    upserts = await search_attribute_writes(handle)
    if o2c.version >= 3:
        # Neither awaiting shipment nor awaiting payment was waited in.
        assert upserts == [ALL_KNOWN]
        assert await _crm_calls(handle) == 1
    elif o2c.version == 2:
        assert upserts == [ALL_KNOWN, ["OrderStatus"], ["OrderStatus"]]
        assert await _crm_calls(handle) == 3
    else:
        assert len(upserts) == 7
        assert await _crm_calls(handle) == 4


async def test_an_order_shipped_at_once_rests_only_until_it_is_paid(o2c: O2C) -> None:
    order_id = await o2c.order([("P1", 2, 100)])
    handle = await o2c.start(order_id)
    o2c.notify_at_once(handle, pay=False)
    state = await o2c.wait_for(handle, OrderStatus.AWAITING_PAYMENT)
    waiting = [*STRAIGHT_CRM_STATUSES[:-1]]  # all but closed
    await o2c.crm_shows(order_id, waiting)
    found = (await handle.describe()).typed_search_attributes
    assert found.get(sa.ORDER_STATUS) == OrderStatus.AWAITING_PAYMENT.value
    assert found.get(sa.ERP_ORDER_NUMBER) == state.erp_order_number
    assert found.get(sa.CUSTOMER_ID) == LINKED_ACCOUNT
    if o2c.version >= 3:
        assert await search_attribute_writes(handle) == [ALL_KNOWN]
        assert await _crm_calls(handle) == 1

    assert state.invoice_number is not None
    invoice = await o2c.erp.get_invoice(state.invoice_number)
    await o2c.erp.record_payment(invoice.number, invoice.total, f"pay-{order_id}")
    await handle.signal(OrderToCashWorkflow.payment_notified, PaymentNotice(amount=invoice.total))
    assert (await handle.result()).status is OrderStatus.COMPLETED
    assert await o2c.crm_statuses(order_id) == STRAIGHT_CRM_STATUSES
    if o2c.version >= 3:
        assert await search_attribute_writes(handle) == [ALL_KNOWN, ["OrderStatus"]]
        assert await _crm_calls(handle) == 2


async def test_a_partial_payment_at_once_makes_the_order_rest_awaiting_the_rest(o2c: O2C) -> None:
    order_id = await o2c.order([("P1", 2, 100)])
    handle = await o2c.start(order_id)
    o2c.notify_at_once(handle, pay_part=Decimal(50))
    # The payment's wait is over before it begins; the invoice read then shows 150 open, so the
    # run waits after all, and that wait writes the status.
    state = await o2c.settle(handle, lambda s: s.amount_paid == Decimal(50))
    assert state.status is OrderStatus.AWAITING_PAYMENT
    await o2c.crm_shows(order_id, STRAIGHT_CRM_STATUSES[:-1])  # all but closed
    found = (await handle.describe()).typed_search_attributes
    assert found.get(sa.ORDER_STATUS) == OrderStatus.AWAITING_PAYMENT.value
    assert found.get(sa.ERP_ORDER_NUMBER) == state.erp_order_number
    if o2c.version >= 3:
        assert await search_attribute_writes(handle) == [ALL_KNOWN]
        assert await _crm_calls(handle) == 1


async def test_an_overdue_order_is_found_overdue(o2c: O2C) -> None:
    order_id = await o2c.order([("P1", 2, 100)], payment_terms_days=14)
    handle = await o2c.start(order_id)
    o2c.notify_at_once(handle, pay=False)
    state = await o2c.wait_for(handle, OrderStatus.AWAITING_PAYMENT)
    await o2c.crm_shows(order_id, STRAIGHT_CRM_STATUSES[:-1])
    assert state.due_date is not None
    await o2c.env.sleep(timedelta(days=16))  # past the due date: the first reminder
    await o2c.wait_for(handle, OrderStatus.OVERDUE)
    await o2c.crm_shows(order_id, [*STRAIGHT_CRM_STATUSES[:-1], CrmOrderStatus.OVERDUE])
    found = (await handle.describe()).typed_search_attributes
    assert found.get(sa.ORDER_STATUS) == OrderStatus.OVERDUE.value
    if o2c.version >= 3:
        # The reminder's status change and its visibility write go out together as the run
        # waits again.
        assert await search_attribute_writes(handle) == [ALL_KNOWN, ["OrderStatus"]]
        assert await _crm_calls(handle) == 2


async def test_an_order_cancelled_before_it_ever_waited_is_found_cancelled(o2c: O2C) -> None:
    order_id = await o2c.order([("P1", 2, 100)])
    handle = await o2c.start(order_id)
    await handle.start_update(
        OrderToCashWorkflow.cancel,
        CancelInput(requested_by="boss", reason="wrong order"),
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
    )
    result = await handle.result()
    assert result.status is OrderStatus.CANCELLED
    found = (await handle.describe()).typed_search_attributes
    assert found.get(sa.ORDER_STATUS) == OrderStatus.CANCELLED.value
    assert (await o2c.erp.stock_snapshot())[("P1", "THR")] == (Decimal(5), Decimal(0))


async def test_an_order_awaiting_approval_is_found_in_that_status(o2c: O2C) -> None:
    order_id = await o2c.order([("P1", 12, 1000)])  # over the policy's 10,000 EUR
    handle = await o2c.start(order_id)
    await o2c.wait_for(handle, OrderStatus.AWAITING_APPROVAL)
    await o2c.settle(handle, lambda s: any(e.kind == "approval" for e in s.events))
    found = (await handle.describe()).typed_search_attributes
    assert found.get(sa.ORDER_STATUS) == OrderStatus.AWAITING_APPROVAL.value
    assert found.get(sa.CUSTOMER_ID) == LINKED_ACCOUNT
    assert found.get(sa.ORDER_TOTAL) == 12000.0
    await o2c.crm_shows(order_id, [CrmOrderStatus.IN_PROGRESS, CrmOrderStatus.AWAITING_APPROVAL])


async def test_an_order_awaiting_stock_is_found_in_that_status(o2c: O2C) -> None:
    order_id = await o2c.order([("P1", 40, 100)])  # 15 in stock
    policy = OrderPolicy(stock_policy=StockPolicy.WAIT, stock_wait=timedelta(days=1))
    handle = await o2c.start(order_id, policy=policy)
    await o2c.wait_for(handle, OrderStatus.AWAITING_STOCK)
    await o2c.crm_shows(order_id, [CrmOrderStatus.IN_PROGRESS, CrmOrderStatus.AWAITING_STOCK])
    found = (await handle.describe()).typed_search_attributes
    assert found.get(sa.ORDER_STATUS) == OrderStatus.AWAITING_STOCK.value
    assert found.get(sa.CUSTOMER_ID) == LINKED_ACCOUNT


async def test_a_failure_after_an_early_shipment_writes_what_the_order_got_to(o2c: O2C) -> None:
    o2c.erp.fail_next["create_invoice"] = [
        InvalidState("period closed", kind="invoice", key="2026-11", state="closed", system="erp")
    ]
    order_id = await o2c.order([("P1", 2, 100)])
    handle = await o2c.start(order_id)
    o2c.notify_at_once(handle)
    with pytest.raises(WorkflowFailureError):
        await handle.result()

    state = await o2c.state(handle)
    assert state.needs_attention == ["InvalidState: period closed"]
    found = (await handle.describe()).typed_search_attributes
    assert found.get(sa.CUSTOMER_ID) == LINKED_ACCOUNT
    assert found.get(sa.ERP_ORDER_NUMBER) == state.erp_order_number
    assert await o2c.crm_statuses(order_id) == STRAIGHT_CRM_STATUSES[:3]  # up to shipped
    if o2c.version >= 3:
        # Never waited in: written once, as the run ends, in the status it reached.
        assert found.get(sa.ORDER_STATUS) == OrderStatus.SHIPPED.value
        assert await search_attribute_writes(handle) == [ALL_KNOWN]


async def test_an_order_compensating_against_a_system_that_is_down_is_found_so(o2c: O2C) -> None:
    o2c.erp.fail_next["release"] = [SystemUnavailable("down", system="erp")] * 50
    order_id = await o2c.order([("P1", 2, 100)])
    handle = await o2c.start(order_id)
    await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)
    await handle.start_update(
        OrderToCashWorkflow.cancel,
        CancelInput(requested_by="boss"),
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
    )
    await o2c.settle(handle, lambda s: s.status is OrderStatus.COMPENSATING)
    await o2c.settle(handle, lambda s: o2c.erp.calls.count("release") >= 2)
    found = (await handle.describe()).typed_search_attributes
    assert found.get(sa.ORDER_STATUS) == OrderStatus.COMPENSATING.value


async def test_an_approved_order_paid_at_once_tells_the_crm_twice(o2c: O2C) -> None:
    """Once as it waits for the decision, once as it completes: the changes made after the
    decision (confirmed, shipped, invoiced, closed) wait for the next rest or the end."""
    order_id = await o2c.order([("P1", 12, 1000)])  # over the policy's 10,000 EUR
    handle = await o2c.start(order_id)
    o2c.notify_at_once(handle)
    await o2c.wait_for(handle, OrderStatus.AWAITING_APPROVAL)
    await o2c.settle(handle, lambda s: any(e.kind == "approval" for e in s.events))
    await o2c.chain_ready(order_id)
    await o2c.chain(order_id).execute_update(
        ApprovalChainWorkflow.decide, DecideInput(approver="boss", approve=True)
    )
    assert (await handle.result()).status is OrderStatus.COMPLETED
    assert await o2c.crm_statuses(order_id) == [
        CrmOrderStatus.IN_PROGRESS,
        CrmOrderStatus.AWAITING_APPROVAL,
        *STRAIGHT_CRM_STATUSES[1:],
    ]
    if o2c.version >= 3:
        assert await _crm_calls(handle) == 2
        assert await search_attribute_writes(handle) == [
            ["CustomerId", "OrderStatus", "OrderTotal"],
            ["ErpOrderNumber", "OrderStatus"],
        ]
