"""Process versions (``OrderToCashInput.version``): what each writes to history and visibility.

Version 2 writes no patch markers and three search attribute upserts for an order that goes
straight through (version 3 too, when the order waits for its shipment and for its payment;
``test_resting_writes`` has the orders that do not wait). Version 1 (runs recorded before
versions existed) keeps its markers and its upserts one by one, so its histories replay. A
version newer than the worker is left for a newer worker instead of being run the wrong way."""

from __future__ import annotations

from datetime import timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.client import WorkflowExecutionStatus

from domain.orders import ApprovalRules, OrderPolicy, OrderStatus
from tests.workflows.conftest import LINKED_ACCOUNT, NEW_ACCOUNT, O2C, STRAIGHT_CRM_STATUSES
from tests.workflows.history import activity_count, search_attribute_writes
from workflows import search_attributes as sa
from workflows.order_to_cash.models import (
    ORDER_TO_CASH_VERSION,
    PaymentNotice,
    workflow_id,
)
from workflows.order_to_cash.workflow import OrderToCashWorkflow


async def test_search_attributes_and_their_writes(o2c: O2C) -> None:
    order_id = await o2c.order([("P1", 2, 100)])
    handle = await o2c.start(order_id)
    await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)
    await o2c.ship(handle)
    state = await o2c.wait_for(handle, OrderStatus.AWAITING_PAYMENT)
    assert state.invoice_number is not None
    invoice = await o2c.erp.get_invoice(state.invoice_number)
    await o2c.erp.record_payment(invoice.number, invoice.total, f"pay-{order_id}")
    await handle.signal(OrderToCashWorkflow.payment_notified, PaymentNotice(amount=invoice.total))
    result = await handle.result()
    assert result.status is OrderStatus.COMPLETED

    found = (await handle.describe()).typed_search_attributes
    assert found.get(sa.CUSTOMER_ID) == LINKED_ACCOUNT
    assert found.get(sa.ORDER_TOTAL) == 200.0
    assert found.get(sa.ERP_ORDER_NUMBER) == result.erp_order_number
    assert found.get(sa.ORDER_STATUS) == OrderStatus.COMPLETED.value

    history = await handle.fetch_history()
    markers = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED]
    upserts = await search_attribute_writes(handle)
    crm_calls = await activity_count(handle, "crm_update_order_status")
    # The CRM sees the same changes in the same order either way; version 2 sends them in
    # fewer calls (those made between two resting statuses go out with the next one). This
    # order waits in each resting status, so version 3 writes what version 2 does.
    assert await o2c.crm_statuses(order_id) == STRAIGHT_CRM_STATUSES
    assert crm_calls == (3 if o2c.version >= 2 else 4)
    if o2c.version >= 2:
        assert markers == []
        assert upserts == [
            ["CustomerId", "ErpOrderNumber", "OrderStatus", "OrderTotal"],
            ["OrderStatus"],
            ["OrderStatus"],
        ]
    else:
        assert len(markers) == 2  # the two patches of version 1
        assert upserts == [
            ["CustomerId", "OrderTotal"],
            ["TemporalChangeVersion"],
            ["ErpOrderNumber"],
            ["OrderStatus"],
            ["TemporalChangeVersion"],
            ["OrderStatus"],
            ["OrderStatus"],
        ]


async def test_a_rejected_order_is_found_by_its_customer(o2c: O2C) -> None:
    # A new account has no credit line, and this policy refuses instead of asking for approval.
    order_id = await o2c.order([("P1", 2, 100)], account_id=NEW_ACCOUNT)
    policy = OrderPolicy(approval=ApprovalRules(approve_credit_excess=False))
    result = await (handle := await o2c.start(order_id, policy=policy)).result()
    assert result.status is OrderStatus.REJECTED

    found = (await handle.describe()).typed_search_attributes
    assert found.get(sa.CUSTOMER_ID) == NEW_ACCOUNT
    assert found.get(sa.ORDER_TOTAL) == 200.0
    assert found.get(sa.ORDER_STATUS) == OrderStatus.REJECTED.value


def _messages(failure: Failure) -> str:
    """A failure's message with those of its causes."""
    text = failure.message
    while failure.HasField("cause"):
        failure = failure.cause
        text += f" <- {failure.message}"
    return text


async def _task_failures(o2c: O2C, input: dict[str, object]) -> tuple[str, list[str]]:
    """Start an order with a raw ``input``; the messages of its failed workflow tasks."""
    order_id = str(input["order_id"])
    handle = await o2c.env.client.start_workflow(
        "OrderToCashWorkflow",
        input,
        id=workflow_id(order_id),
        task_queue=o2c.queue,
    )
    o2c.handles.append(handle)
    failures: list[str] = []
    for _ in range(30):
        history = await handle.fetch_history()
        failures = [
            _messages(e.workflow_task_failed_event_attributes.failure)
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
        ]
        if failures:
            break
        await o2c.env.sleep(timedelta(seconds=1))
    assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
    # Nothing was done for it: no CRM status, no ERP document.
    assert await o2c.crm_statuses(order_id) == []
    assert await o2c.erp.count_documents(f"order-{order_id}/") == {
        "reservations": 0,
        "sales_orders": 0,
        "invoices": 0,
        "payments": 0,
    }
    return order_id, failures


async def test_a_version_newer_than_the_worker_is_left_for_a_newer_worker(
    o2c_latest: O2C,
) -> None:
    order_id = await o2c_latest.order([("P1", 1, 100)])
    newer = o2c_latest.input(order_id, version=ORDER_TO_CASH_VERSION + 1)
    _, failures = await _task_failures(o2c_latest, newer.model_dump(mode="json"))
    assert failures and "newer than this worker's" in failures[0]


async def test_an_input_field_the_worker_does_not_know_fails_the_task_not_the_order(
    o2c_latest: O2C,
) -> None:
    order_id = await o2c_latest.order([("P1", 1, 100)])
    later = o2c_latest.input(order_id).model_dump(mode="json")
    later["added_by_a_later_release"] = True
    _, failures = await _task_failures(o2c_latest, later)
    assert failures and "added_by_a_later_release" in failures[0]
