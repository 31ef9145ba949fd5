"""The small world the fakes' own tests start from: a CRM with one account, four users and one
order; an ERP with three warehouses, two products, stock and one customer."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain.models import (
    CrmAccount,
    CrmOrder,
    CrmOrderLine,
    CrmUser,
    ErpCustomer,
    ErpProduct,
    SalesOrderLine,
    SalesOrderRequest,
)
from tests.fakes import InMemoryCRM, InMemoryERP

D = Decimal
TODAY = date(2025, 3, 10)


@pytest.fixture
async def crm() -> InMemoryCRM:
    crm = InMemoryCRM()
    await crm.create_schema()
    await crm.upsert_account(CrmAccount(account_id="A-1", name="Acme", email="buy@acme.test"))
    await crm.upsert_user(CrmUser(user_id="u-2", name="Mo", roles=["sales", "manager", "sales"]))
    await crm.upsert_user(CrmUser(user_id="u-1", name="Al", roles=["manager"]))
    await crm.upsert_user(CrmUser(user_id="u-3", name="Ex", roles=["manager"], active=False))
    await crm.upsert_user(CrmUser(user_id="u-4", name="Sy", roles=["sales"]))
    order = CrmOrder(
        order_id="O-1",
        account_id="A-1",
        owner="u-4",
        currency="EUR",
        lines=[
            CrmOrderLine(line_no=1, sku="SKU-1", quantity=D(2), unit_price=D(10), currency="EUR")
        ],
    )
    assert await crm.create_order(order)
    return crm


@pytest.fixture
async def erp() -> InMemoryERP:
    erp = InMemoryERP(today=lambda: TODAY)
    await erp.create_schema()
    await erp.upsert_warehouse("WH-A", "Main", lead_days=2)
    await erp.upsert_warehouse("WH-B", "North", lead_days=5)
    await erp.upsert_warehouse("WH-C", "South")
    for sku in ("SKU-1", "SKU-2"):
        await erp.upsert_product(ErpProduct(sku=sku, name=sku, list_price=D(10), currency="EUR"))
    await erp.set_stock("SKU-1", "WH-A", D(5))
    await erp.set_stock("SKU-1", "WH-B", D(10))
    await erp.set_stock("SKU-1", "WH-C", D(0))
    await erp.upsert_customer(
        ErpCustomer(
            customer_id="C-000001",
            external_ref="A-1",
            name="Acme",
            tax_id="TX-1",
            email="Buy@Acme.test",
            currency="EUR",
            credit_limit=D(5000),
        ),
        opening_receivables=D(100),
    )
    return erp


def so_request(reference: str = "R-so", refs: list[str] | None = None) -> SalesOrderRequest:
    return SalesOrderRequest(
        reference=reference,
        customer_id="C-000001",
        currency="EUR",
        lines=[
            SalesOrderLine(line_no=1, sku="SKU-1", quantity=D(3), unit_price=D("3.335")),
            SalesOrderLine(
                line_no=2, sku="SKU-2", quantity=D(1), unit_price=D(100), discount_pct=D(15)
            ),
        ],
        tax_pct=D(19),
        reservation_refs=refs or [],
        order_date=date(2025, 1, 31),
    )
