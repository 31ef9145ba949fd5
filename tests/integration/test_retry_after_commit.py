"""An ERP write that committed but whose reply was lost: the retry must not write it again."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from adapters.delegating import DelegatingERP
from adapters.sandbox import SandboxCRM, SandboxERP, seed
from domain.errors import SystemUnavailable
from domain.models import (
    CustomerData,
    ErpCustomer,
    Invoice,
    InvoiceRequest,
    Reservation,
    ReservationRequest,
    SalesOrder,
    SalesOrderRequest,
)
from domain.orders import OrderStatus
from infra.orders import order_handle
from tests.integration.conftest import Stack, stack_settings
from tests.integration.test_end_to_end import crm_order, run_to_cash
from worker import build_workers

pytestmark = pytest.mark.devserver


class LostReplies(DelegatingERP):
    """The sandbox ERP, but the first reply of each write is lost after the write committed."""

    def __init__(self, erp: SandboxERP) -> None:
        super().__init__(erp)
        self.lost: list[str] = []

    def _lose_once(self, what: str) -> None:
        if what not in self.lost:
            self.lost.append(what)
            raise SystemUnavailable(f"reply of {what} lost", system="erp")

    async def create_customer(self, data: CustomerData) -> ErpCustomer:
        out = await super().create_customer(data)
        self._lose_once(f"customer {data.external_ref}")
        return out

    async def reserve(self, request: ReservationRequest) -> Reservation:
        out = await super().reserve(request)
        self._lose_once(request.reference)
        return out

    async def create_sales_order(self, request: SalesOrderRequest) -> SalesOrder:
        out = await super().create_sales_order(request)
        self._lose_once(request.reference)
        return out

    async def create_invoice(self, request: InvoiceRequest) -> Invoice:
        out = await super().create_invoice(request)
        self._lose_once(request.reference)
        return out


@pytest.fixture
async def lossy_stack(
    dev_env: WorkflowEnvironment, sandbox: tuple[SandboxCRM, SandboxERP]
) -> AsyncIterator[tuple[Stack, LostReplies]]:
    crm, erp = sandbox
    lossy = LostReplies(erp)
    settings = stack_settings(dev_env, "unused://", "unused://")
    workers = build_workers(dev_env.client, settings, crm, lossy)
    for w in workers:
        await w.__aenter__()
    try:
        yield Stack(client=dev_env.client, settings=settings, crm=crm, erp=erp), lossy
    finally:
        for w in reversed(workers):
            await w.__aexit__(None, None, None)


async def test_retried_writes_give_exactly_one_of_each(
    lossy_stack: tuple[Stack, LostReplies],
) -> None:
    stack, lossy = lossy_stack
    customers = await stack.erp.customers_count()
    # ACC-1002 is unknown to the ERP: the customer is created, and its reply lost too.
    order = crm_order("IT-LOST", seed.ACCOUNT_PARS, (seed.SKU_SENSOR, "5"), (seed.SKU_CABLE, "2"))
    await run_to_cash(stack, order)
    result = await order_handle(stack.client, "IT-LOST").result()

    assert result.status is OrderStatus.COMPLETED
    assert len(lossy.lost) == 5  # customer, two reservations, sales order, invoice
    assert await stack.erp.count_documents("order-IT-LOST/") == {
        "reservations": 2,
        "sales_orders": 1,
        "invoices": 1,
        "payments": 0,
    }
    assert await stack.erp.customers_count() == customers + 1
