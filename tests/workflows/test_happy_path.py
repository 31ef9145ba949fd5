"""The order that goes through: linked customer, credit and stock enough, no approval needed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from domain.models import CrmOrderStatus, InvoiceStatus, SalesOrderStatus
from domain.orders import OrderStatus
from tests.workflows.conftest import LINKED_CUSTOMER, O2C, STRAIGHT_CRM_STATUSES
from workflows.approval_chain.models import DecideInput
from workflows.approval_chain.workflow import ApprovalChainWorkflow
from workflows.order_to_cash.models import PaymentNotice
from workflows.order_to_cash.workflow import OrderToCashWorkflow


async def test_happy_path_completes_with_exact_stock_and_crm_history(o2c: O2C) -> None:
    order_id = await o2c.order([("P1", 8, 100), ("P2", 3, 50)], tax_pct=Decimal("10"))
    before = await o2c.erp.stock_snapshot()
    handle = await o2c.start(order_id)

    state = await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)
    assert state.approval is None  # 950 EUR, within credit: no approval step
    assert state.erp_customer_id == LINKED_CUSTOMER
    so = await o2c.erp.get_sales_order(f"order-{order_id}/sales-order")
    assert so is not None and so.number == state.erp_order_number
    assert so.status is SalesOrderStatus.OPEN and so.customer_id == LINKED_CUSTOMER
    assert so.total == Decimal("1045.00")  # (800 + 150) + 10 % tax
    # Reserved, not yet consumed: on hand unchanged.
    reserved = await o2c.erp.stock_snapshot()
    assert reserved[("P1", "THR")] == (Decimal(5), Decimal(5))
    assert reserved[("P1", "IFN")] == (Decimal(10), Decimal(3))
    assert reserved[("P2", "THR")] == (Decimal(20), Decimal(3))

    await o2c.ship(handle)
    state = await o2c.wait_for(handle, OrderStatus.AWAITING_PAYMENT)
    assert state.invoice_number is not None and state.shipped_at is not None
    invoice = await o2c.erp.get_invoice(state.invoice_number)
    assert invoice.total == Decimal("1045.00") and invoice.status is InvoiceStatus.OPEN
    assert state.due_date == invoice.issued_on + timedelta(days=30)

    await o2c.erp.record_payment(invoice.number, invoice.total, f"pay-{order_id}")
    await handle.signal(OrderToCashWorkflow.payment_notified, PaymentNotice(amount=invoice.total))
    result = await handle.result()

    assert result.status is OrderStatus.COMPLETED
    assert result.amount_paid == Decimal("1045.00") == result.total
    assert result.erp_order_number == so.number and result.invoice_number == invoice.number
    assert (await o2c.state(handle)).status is OrderStatus.COMPLETED

    after = await o2c.erp.stock_snapshot()
    expected = dict(before)
    expected[("P1", "THR")] = (Decimal(0), Decimal(0))
    expected[("P1", "IFN")] = (Decimal(7), Decimal(0))
    expected[("P2", "THR")] = (Decimal(17), Decimal(0))
    assert after == expected

    docs = await o2c.erp.count_documents(f"order-{order_id}/")
    assert docs == {"reservations": 2, "sales_orders": 1, "invoices": 1, "payments": 0}
    assert (await o2c.erp.get_invoice(invoice.number)).status is InvoiceStatus.PAID

    assert await o2c.crm_statuses(order_id) == STRAIGHT_CRM_STATUSES
    crm_order = await o2c.crm.get_order(order_id)
    assert crm_order.status is CrmOrderStatus.CLOSED
    assert crm_order.erp_order_number == so.number
    assert crm_order.invoice_number == invoice.number
    assert crm_order.promised_date == so.promised_date
    assert await o2c.crm.notes(order_id) == []  # paid on time: no dunning
    assert await o2c.erp.customers_count() == 1  # the linked customer, nothing created


async def test_status_query_shows_reservations_numbers_approval_and_events(o2c: O2C) -> None:
    # 12 x 1000 = 12,000 EUR: over the 10,000 threshold. P1 spans both warehouses.
    order_id = await o2c.order([("P1", 12, 1000), ("P2", 4, 50)], preferred_warehouse="IFN")
    handle = await o2c.start(order_id)

    state = await o2c.wait_for(handle, OrderStatus.AWAITING_APPROVAL)
    assert state.order_id == order_id and state.account_id == "A-LINKED"
    assert state.total == Decimal("12200.00") and state.currency == "EUR"
    views = {r.sku: r for r in state.reservations}
    assert views["P1"].reference == f"order-{order_id}/reserve/1"
    # IFN preferred: its 10 first, the remaining 2 from THR.
    assert views["P1"].warehouses == {"IFN": Decimal(10), "THR": Decimal(2)}
    assert views["P2"].warehouses == {"IFN": Decimal(4)}
    assert views["P2"].quantity == Decimal(4)
    assert state.erp_order_number is None and state.invoice_number is None

    approval = state.approval
    assert approval is not None
    assert approval.requester == "rep"
    assert approval.chain_id == f"approval-order-{order_id}"
    assert approval.levels == ["sales_manager"]
    assert approval.reasons == ["order total over 10,000 EUR"]
    assert approval.decision is None
    kinds = [e.kind for e in state.events]
    assert kinds.count("reserved") == 2 and "customer" in kinds
    await o2c.settle(handle, lambda s: "approval" in [e.kind for e in s.events])
    for _ in range(30):
        if await o2c.crm.tasks(order_id):
            break
        await o2c.env.sleep(1)
    assert [t.key for t in await o2c.crm.tasks(order_id)] == [
        f"approval-order-{order_id}/L1/request/boss"
    ]

    await o2c.chain(order_id).execute_update(
        ApprovalChainWorkflow.decide, DecideInput(approver="boss", approve=True, comment="ok")
    )
    state = await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)
    so = await o2c.erp.get_sales_order(f"order-{order_id}/sales-order")
    assert so is not None
    assert state.erp_order_number == so.number
    assert state.promised_date == so.promised_date  # IFN has 2 lead days
    assert state.erp_customer_id == LINKED_CUSTOMER
    assert state.approval is not None
    assert (state.approval.decision, state.approval.decided_by) == ("approved", "boss")
    assert state.approval.comment == "ok"
    decisions = [e for e in state.events if e.kind == "approval" and e.actor]
    assert len(decisions) == 1 and decisions[0].actor == "boss"
    assert [e.kind for e in state.events if e.kind == "erp-order"] == ["erp-order"]

    await o2c.ship(handle)
    state = await o2c.wait_for(handle, OrderStatus.AWAITING_PAYMENT)
    assert state.invoice_number is not None
    invoice = await o2c.erp.get_invoice(state.invoice_number)
    assert invoice.sales_order_number == so.number
    assert state.reservations  # still shown after shipment (consumed, for the record)
    assert state.compensations == []  # nothing left to undo once shipped
