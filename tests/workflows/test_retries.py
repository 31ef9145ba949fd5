"""Retries and idempotency: lost replies never duplicate ERP documents; permanent errors stop."""

from __future__ import annotations

from decimal import Decimal

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from domain.errors import InvalidRecord, InvalidState, SystemUnavailable
from domain.models import CrmOrderStatus
from domain.orders import OrderStatus
from tests.workflows.conftest import O2C, Handle
from workflows.order_to_cash.models import PaymentNotice
from workflows.order_to_cash.workflow import OrderToCashWorkflow

LINES = [("P1", 9, 100), ("P2", 22, 10)]  # both lines span THR and IFN


async def _run_to_completion(o2c: O2C, handle: Handle) -> None:
    await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)
    await o2c.ship(handle)
    state = await o2c.wait_for(handle, OrderStatus.AWAITING_PAYMENT)
    assert state.invoice_number is not None
    invoice = await o2c.erp.get_invoice(state.invoice_number)
    await o2c.erp.record_payment(invoice.number, invoice.total, f"pay-{state.order_id}")
    await handle.signal(OrderToCashWorkflow.payment_notified, PaymentNotice())
    result = await handle.result()
    assert result.status is OrderStatus.COMPLETED
    assert result.amount_paid == invoice.total == Decimal("1120.00")


async def test_lost_replies_after_commit_create_each_document_once(o2c: O2C) -> None:
    o2c.erp.fail_after_commit.update(
        {"reserve": 2, "create_sales_order": 1, "create_invoice": 1, "release": 0}
    )
    o2c.crm.fail_after_commit.update({"update_order_status": 1, "add_note": 1})
    before = await o2c.erp.stock_snapshot()
    order_id = await o2c.order(LINES)
    handle = await o2c.start(order_id)

    await _run_to_completion(o2c, handle)

    assert await o2c.erp.count_documents(f"order-{order_id}/") == {
        "reservations": 2,
        "sales_orders": 1,
        "invoices": 1,
        "payments": 0,
    }
    # Every injected fault was hit and retried.
    assert o2c.erp.fail_after_commit == {
        "reserve": 0,
        "create_sales_order": 0,
        "create_invoice": 0,
        "release": 0,
    }
    assert o2c.erp.calls.count("reserve") == 4  # 2 lost replies on line 1, then line 2
    assert o2c.erp.calls.count("create_sales_order") == 2
    assert o2c.erp.calls.count("create_invoice") == 2
    # Reserved once, so consumed once at shipment.
    after = await o2c.erp.stock_snapshot()
    assert after[("P1", "THR")] == (Decimal(0), Decimal(0))
    assert after[("P1", "IFN")] == (Decimal(6), Decimal(0))
    assert after[("P2", "THR")] == (Decimal(0), Decimal(0))
    assert after[("P2", "IFN")] == (Decimal(3), Decimal(0))
    assert after[("P3", "THR")] == before[("P3", "THR")]
    statuses = await o2c.crm_statuses(order_id)
    assert statuses.count(CrmOrderStatus.IN_PROGRESS) == 1
    assert statuses[-1] is CrmOrderStatus.CLOSED


async def test_transient_failures_are_retried_until_they_succeed(o2c: O2C) -> None:
    def down(system: str) -> list[BaseException]:
        return [SystemUnavailable(f"{system} down", system=system) for _ in range(3)]

    o2c.crm.fail_next["get_order"] = down("crm")
    o2c.erp.fail_next["reserve"] = down("erp")
    o2c.erp.fail_next["create_sales_order"] = down("erp")
    order_id = await o2c.order(LINES)
    handle = await o2c.start(order_id)

    await _run_to_completion(o2c, handle)

    assert o2c.crm.calls.count("get_order") == 4
    assert o2c.erp.calls.count("reserve") == 5  # line 1: 3 failures + 1; line 2: 1
    assert o2c.erp.calls.count("create_sales_order") == 4
    assert all(not pending for pending in o2c.erp.fail_next.values())
    assert await o2c.erp.count_documents(f"order-{order_id}/") == {
        "reservations": 2,
        "sales_orders": 1,
        "invoices": 1,
        "payments": 0,
    }


async def test_permanent_erp_error_on_sales_order_rejects_and_releases(o2c: O2C) -> None:
    before = await o2c.erp.stock_snapshot()
    o2c.erp.fail_next["create_sales_order"] = [
        InvalidRecord(
            "sales order refused", problems=["customer_id: blocked for orders"], system="erp"
        )
    ]
    order_id = await o2c.order(LINES)
    handle = await o2c.start(order_id)

    result = await handle.result()

    assert result.status is OrderStatus.REJECTED
    assert result.reason == ("InvalidRecord: sales order refused: customer_id: blocked for orders")
    assert o2c.erp.calls.count("create_sales_order") == 1  # non-retryable
    assert await o2c.erp.stock_snapshot() == before
    assert await o2c.erp.count_documents(f"order-{order_id}/") == {
        "reservations": 2,  # both released
        "sales_orders": 0,
        "invoices": 0,
        "payments": 0,
    }
    assert o2c.erp.calls.count("release") == 2
    history = await o2c.crm.status_history(order_id)
    assert history[-1].status is CrmOrderStatus.REJECTED
    assert history[-1].reason == result.reason
    assert result.needs_attention == []


async def test_compensation_survives_a_flaky_release(o2c: O2C) -> None:
    """A release that commits but loses its reply is retried and still leaves stock exact."""
    before = await o2c.erp.stock_snapshot()
    o2c.erp.fail_after_commit["release"] = 2
    o2c.erp.fail_next["create_sales_order"] = [InvalidRecord("no", system="erp")]
    order_id = await o2c.order(LINES)
    result = await (await o2c.start(order_id)).result()

    assert result.status is OrderStatus.REJECTED
    assert await o2c.erp.stock_snapshot() == before
    assert o2c.erp.calls.count("release") == 4
    assert result.needs_attention == []


async def test_permanent_error_after_shipment_fails_the_run_and_asks_for_attention(
    o2c: O2C,
) -> None:
    o2c.erp.fail_next["create_invoice"] = [
        InvalidState("period closed", kind="invoice", key="2026-11", state="closed", system="erp")
    ]
    order_id = await o2c.order(LINES)
    handle = await o2c.start(order_id)
    await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)
    await o2c.ship(handle)

    with pytest.raises(WorkflowFailureError) as info:
        await handle.result()

    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "InvalidState"
    assert o2c.erp.calls.count("create_invoice") == 1
    state = await o2c.state(handle)
    assert state.needs_attention == ["InvalidState: period closed"]
    notes = await o2c.crm.notes(order_id)
    assert [(n.key, n.body) for n in notes] == [
        (f"order-{order_id}/attention/1", "InvalidState: period closed")
    ]
    # Shipped goods are not "released": nothing was undone.
    assert "release" not in o2c.erp.calls
    assert (await o2c.crm_statuses(order_id))[-1] is CrmOrderStatus.SHIPPED
