"""Orders, shipments and invoices for the ERP contract tests: the requests they send and the
documents they set up through the port."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from domain.errors import (
    PermanentError,
    PeyvandError,
    TransientError,
)
from domain.models import (
    Invoice,
    InvoiceRequest,
    ReservationRequest,
    SalesOrder,
    SalesOrderLine,
    SalesOrderRequest,
)
from tests.contract.conftest import (
    CUSTOMER,
    SKU_A,
    SKU_B,
)

D = Decimal
ORDER_DATE = date(2025, 3, 10)


def assert_permanent(error: PeyvandError) -> None:
    """Retrying cannot help: the error must say so, so that activities do not retry it."""
    assert isinstance(error, PermanentError)
    assert not isinstance(error, TransientError)
    assert error.transient is False
    assert error.system == "erp"


def line(line_no: int, sku: str, quantity: str, price: str, discount: str = "0") -> SalesOrderLine:
    return SalesOrderLine(
        line_no=line_no,
        sku=sku,
        quantity=D(quantity),
        unit_price=D(price),
        discount_pct=D(discount),
    )


def order_request(reference: str, *reservation_refs: str, **changes: Any) -> SalesOrderRequest:
    """3 x 19.99 less 10 % = 53.97, plus 2 x 5.00 = 10.00: net 63.97, tax 9 % = 5.76."""
    fields: dict[str, Any] = {
        "reference": reference,
        "customer_id": CUSTOMER,
        "currency": "EUR",
        "lines": [line(1, SKU_A, "3", "19.99", "10"), line(2, SKU_B, "2", "5.00")],
        "tax_pct": D("9"),
        "reservation_refs": list(reservation_refs),
        "order_date": ORDER_DATE,
    }
    fields.update(changes)
    return SalesOrderRequest(**fields)


async def levels(erp: Any, sku: str) -> dict[str, tuple[Decimal, Decimal]]:
    """``warehouse -> (on_hand, reserved)`` of one product, through the port."""
    return {s.warehouse: (s.on_hand, s.reserved) for s in await erp.get_stock([sku])}


async def shipped_order(erp: Any, reference: str = "o1") -> SalesOrder:
    """A shipped sales order for 3 SKU-A (reserved) and 2 SKU-B (reserved)."""
    await erp.reserve(ReservationRequest(reference=f"{reference}-a", sku=SKU_A, quantity=D(3)))
    await erp.reserve(ReservationRequest(reference=f"{reference}-b", sku=SKU_B, quantity=D(2)))
    order = await erp.create_sales_order(
        order_request(f"{reference}-so", f"{reference}-a", f"{reference}-b")
    )
    return await erp.ship(order.number)


async def invoiced_order(erp: Any, reference: str = "o1", terms: int = 30) -> Invoice:
    order = await shipped_order(erp, reference)
    return await erp.create_invoice(
        InvoiceRequest(
            reference=f"{reference}-inv",
            sales_order_number=order.number,
            payment_terms_days=terms,
            invoice_date=ORDER_DATE,
        )
    )
