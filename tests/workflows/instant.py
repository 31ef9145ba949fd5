"""A warehouse and a bank that act the moment the ERP's documents exist, for the workflow tests
and the replay recordings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from temporalio.client import WorkflowHandle

from tests.fakes import InMemoryERP
from workflows.order_to_cash.models import PaymentNotice, ShipmentNotice
from workflows.order_to_cash.workflow import OrderToCashWorkflow


def notify_at_once(
    erp: InMemoryERP,
    handle: WorkflowHandle[Any, Any],
    *,
    ship: bool = True,
    pay: bool = True,
    pay_part: Decimal | None = None,
) -> None:
    """A fast warehouse (``ship``) and bank (``pay``) for the order of ``handle``: ``erp`` ships
    its sales order and the customer pays its invoice (all of it, or ``pay_part``) as soon as
    each exists, and the workflow is told before the activity that made the document returns,
    so before the workflow reaches its wait. Other orders' documents are left alone."""
    real_create_so, real_create_invoice = erp.create_sales_order, erp.create_invoice
    ours = f"{handle.id}/"

    async def create_so_then_ship(request):  # type: ignore[no-untyped-def]
        so = await real_create_so(request)
        if request.reference.startswith(ours):
            await erp.ship(so.number)
            await handle.signal(OrderToCashWorkflow.shipment_notified, ShipmentNotice())
        return so

    async def create_invoice_then_pay(request):  # type: ignore[no-untyped-def]
        invoice = await real_create_invoice(request)
        if request.reference.startswith(ours):
            amount = invoice.total if pay_part is None else pay_part
            await erp.record_payment(invoice.number, amount, f"at-once/{invoice.number}")
            await handle.signal(OrderToCashWorkflow.payment_notified, PaymentNotice())
        return invoice

    if ship:
        erp.create_sales_order = create_so_then_ship  # type: ignore[method-assign]
    if pay:
        erp.create_invoice = create_invoice_then_pay  # type: ignore[method-assign]
