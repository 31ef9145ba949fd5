"""An ERP whose warehouse ships, and whose customer pays, the moment the documents exist.

Each event is followed by the signal an ERP webhook would send, so the benchmark measures the
automated path without a person or a poll interval in it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any

from temporalio.client import Client

from adapters.delegating import DelegatingERP
from adapters.ports import ERPPort
from domain.models import Invoice, InvoiceRequest, SalesOrder, SalesOrderRequest
from infra.orders import ErpDesk
from workflows.order_to_cash.models import PaymentNotice, ShipmentNotice
from workflows.order_to_cash.workflow import OrderToCashWorkflow


class InstantWarehouse(DelegatingERP):
    """An ERP plus a warehouse and a customer that act at once.

    Args:
        erp: The ERP (sandbox or in-memory); also used to ship and to record payments.
        desk: The same ERP seen as its warehouse and cashier.
        client: Used to signal the order workflows, as a webhook relay would.
    """

    def __init__(self, erp: ERPPort, desk: ErpDesk, client: Client) -> None:
        super().__init__(erp)
        self._desk = desk
        self._client = client
        self._pending: set[asyncio.Task[None]] = set()
        self.ordered_at: dict[str, float] = {}  # workflow id -> when (wall clock) its order existed

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def create_sales_order(self, request: SalesOrderRequest) -> SalesOrder:
        so = await super().create_sales_order(request)
        self.ordered_at.setdefault(request.reference.split("/")[0], time.time())
        self._later(self._ship(so.number, request.reference))
        return so

    async def create_invoice(self, request: InvoiceRequest) -> Invoice:
        invoice = await super().create_invoice(request)
        self._later(self._pay(invoice, request.reference))
        return invoice

    async def _ship(self, number: str, reference: str) -> None:
        await self._desk.ship(number)
        handle = self._client.get_workflow_handle(reference.split("/")[0])
        notice = ShipmentNotice(shipment_ref=number)
        await handle.signal(OrderToCashWorkflow.shipment_notified, notice)

    async def _pay(self, invoice: Invoice, reference: str) -> None:
        await self._desk.record_payment(invoice.number, invoice.total, f"{reference}/pay")
        handle = self._client.get_workflow_handle(reference.split("/")[0])
        notice = PaymentNotice(amount=invoice.total)
        await handle.signal(OrderToCashWorkflow.payment_notified, notice)

    async def drain(self) -> None:
        """Wait for the events still under way."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
