"""Notices that arrive before the workflow reaches the matching wait are not lost."""

from __future__ import annotations

from decimal import Decimal

from domain.orders import OrderPolicy, OrderStatus
from tests.workflows.conftest import O2C
from workflows.order_to_cash.models import PaymentNotice, ShipmentNotice
from workflows.order_to_cash.workflow import OrderToCashWorkflow


async def test_ship_and_pay_notices_sent_as_soon_as_documents_exist(o2c: O2C) -> None:
    """A fast warehouse and bank: events right after each ERP write, before the workflow waits.

    Without catching them, the order would sit until the next poll (hours or a day later).
    """
    order_id = await o2c.order()
    erp = o2c.erp
    real_create_so, real_create_invoice = erp.create_sales_order, erp.create_invoice
    handle = await o2c.start(order_id)

    async def create_so_then_ship(request):  # type: ignore[no-untyped-def]
        so = await real_create_so(request)
        await erp.ship(so.number)
        await handle.signal(OrderToCashWorkflow.shipment_notified, ShipmentNotice())
        return so

    async def create_invoice_then_pay(request):  # type: ignore[no-untyped-def]
        invoice = await real_create_invoice(request)
        await erp.record_payment(invoice.number, invoice.total, "early")
        await handle.signal(OrderToCashWorkflow.payment_notified, PaymentNotice())
        return invoice

    erp.create_sales_order = create_so_then_ship  # type: ignore[method-assign]
    erp.create_invoice = create_invoice_then_pay  # type: ignore[method-assign]

    result = await handle.result()  # time does not skip past a poll: only the notices count
    assert result.status is OrderStatus.COMPLETED
    assert result.amount_paid == result.total and result.total > Decimal(0)
    state = await o2c.state(handle)
    assert state.events[-1].at - state.events[0].at < OrderPolicy().shipment_poll_every
