"""A sandbox ERP whose warehouse ships, and whose customer pays, the moment the documents exist.

Each event is followed by the signal an ERP webhook would send, so the benchmark measures the
automated path without a person or a poll interval in it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any

from temporalio.client import Client

from adapters.sandbox import SandboxERP
from domain.models import Invoice, InvoiceRequest, SalesOrder, SalesOrderRequest
from workflows.order_to_cash.models import PaymentNotice, ShipmentNotice
from workflows.order_to_cash.workflow import OrderToCashWorkflow


class InstantWarehouse(SandboxERP):
    """``SandboxERP`` plus a warehouse and a customer that act at once.

    Args:
        url: The ERP database URL.
        client: Used to signal the order workflows, as a webhook relay would.
    """

    def __init__(self, url: str, client: Client) -> None:
        super().__init__(url)
        self._client = client
        self._pending: set[asyncio.Task[None]] = set()
        self.ordered_at: dict[str, float] = {}  # workflow id -> when its ERP order existed

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def create_sales_order(self, request: SalesOrderRequest) -> SalesOrder:
        so = await super().create_sales_order(request)
        self.ordered_at.setdefault(request.reference.split("/")[0], time.perf_counter())
        self._later(self._ship(so.number, request.reference))
        return so

    async def create_invoice(self, request: InvoiceRequest) -> Invoice:
        invoice = await super().create_invoice(request)
        self._later(self._pay(invoice, request.reference))
        return invoice

    async def _ship(self, number: str, reference: str) -> None:
        await self.ship(number)
        handle = self._client.get_workflow_handle(reference.split("/")[0])
        await handle.signal(
            OrderToCashWorkflow.shipment_notified, ShipmentNotice(shipment_ref=number)
        )

    async def _pay(self, invoice: Invoice, reference: str) -> None:
        await self.record_payment(invoice.number, invoice.total, f"{reference}/pay")
        handle = self._client.get_workflow_handle(reference.split("/")[0])
        await handle.signal(
            OrderToCashWorkflow.payment_notified, PaymentNotice(amount=invoice.total)
        )

    async def drain(self) -> None:
        """Wait for the events still under way."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
