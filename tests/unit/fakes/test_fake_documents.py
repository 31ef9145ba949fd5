"""The in-memory ERP's sales orders, invoices and credit, and the references its documents may
not reuse."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import (
    IdempotencyConflict,
    InvalidRecord,
    InvalidState,
    RecordNotFound,
)
from domain.models import (
    InvoiceRequest,
    InvoiceStatus,
    ReservationRequest,
    SalesOrderLine,
    SalesOrderStatus,
)
from tests.fakes import InMemoryERP
from tests.unit.fakes.conftest import D, so_request

# --- ERP: sales orders, invoices, credit -----------------------------------------------------


async def test_sales_order_totals_and_promised_date(erp: InMemoryERP) -> None:
    await erp.reserve(
        ReservationRequest(reference="R-1", sku="SKU-1", quantity=D(8), warehouses=["WH-A"])
    )
    order = await erp.create_sales_order(so_request(refs=["R-1"]))
    # 3 x 3.335 = 10.005 -> 10.01; 100 less 15% = 85.00; net 95.01; tax 19% 18.0519 -> 18.05
    assert (order.net, order.tax, order.total) == (D("95.01"), D("18.05"), D("113.06"))
    # R-1 spans WH-A (2 days) and WH-B (5 days): the slower one wins.
    assert order.promised_date == date(2025, 2, 5)
    assert order.status is SalesOrderStatus.OPEN


async def test_sales_order_without_reservations_uses_today_and_one_day(
    erp: InMemoryERP,
) -> None:
    request = so_request().model_copy(update={"order_date": None})
    order = await erp.create_sales_order(request)
    assert order.promised_date == date(2025, 3, 11)


async def test_sales_order_unknown_customer(erp: InMemoryERP) -> None:
    request = so_request().model_copy(update={"customer_id": "C-999999"})
    with pytest.raises(RecordNotFound) as info:
        await erp.create_sales_order(request)
    assert (info.value.kind, info.value.key) == ("customer", "C-999999")


async def test_cancel_sales_order_transitions(erp: InMemoryERP) -> None:
    assert await erp.cancel_sales_order("nope") is None
    order = await erp.create_sales_order(so_request("R-a"))
    cancelled = await erp.cancel_sales_order("R-a")
    assert cancelled is not None and cancelled.status is SalesOrderStatus.CANCELLED
    assert await erp.cancel_sales_order("R-a") == cancelled
    with pytest.raises(InvalidState):
        await erp.ship(order.number)
    shipped = await erp.create_sales_order(so_request("R-b"))
    await erp.ship(shipped.number)
    with pytest.raises(InvalidState) as info:
        await erp.cancel_sales_order("R-b")
    assert info.value.state == "shipped"


async def test_invoice_lifecycle_and_credit(erp: InMemoryERP) -> None:
    order = await erp.create_sales_order(so_request())
    with pytest.raises(InvalidState):  # not shipped yet
        await erp.create_invoice(InvoiceRequest(reference="I-1", sales_order_number=order.number))
    await erp.ship(order.number)
    request = InvoiceRequest(
        reference="I-1",
        sales_order_number=order.number,
        payment_terms_days=14,
        invoice_date=date(2025, 2, 20),
    )
    invoice = await erp.create_invoice(request)
    assert invoice.number == "INV-000001"
    assert (invoice.issued_on, invoice.due_date) == (date(2025, 2, 20), date(2025, 3, 6))
    assert (invoice.net, invoice.tax, invoice.total) == (order.net, order.tax, order.total)
    assert await erp.create_invoice(request) == invoice
    so = await erp.get_sales_order("R-so")
    assert so is not None and so.status is SalesOrderStatus.INVOICED
    with pytest.raises(InvalidState):  # a second invoice under another reference
        await erp.create_invoice(request.model_copy(update={"reference": "I-2"}))

    credit = await erp.get_credit_status("C-000001")
    assert credit.open_receivables == D(100) + invoice.total

    partly = await erp.record_payment(invoice.number, D(100), "P-1")
    assert partly.status is InvoiceStatus.OPEN and partly.outstanding == D("13.06")
    assert await erp.record_payment(invoice.number, D(100), "P-1") == partly
    with pytest.raises(InvalidRecord):
        await erp.record_payment(invoice.number, D(0), "P-2")
    paid = await erp.record_payment(invoice.number, D("13.06"), "P-3")
    assert paid.status is InvoiceStatus.PAID and paid.amount_paid == paid.total
    assert (await erp.get_credit_status("C-000001")).open_receivables == D(100)
    assert await erp.count_documents("P-") == {
        "reservations": 0,
        "sales_orders": 0,
        "invoices": 0,
        "payments": 2,
    }
    with pytest.raises(RecordNotFound) as info:
        await erp.get_invoice("INV-999999")
    assert info.value.kind == "invoice"


# --- idempotency conflicts on documents -------------------------------------------------------


async def test_sales_order_reference_reused_for_another_order_conflicts(
    erp: InMemoryERP,
) -> None:
    order = await erp.create_sales_order(so_request())
    # Only the business content counts: the date and reservations may differ on a retry.
    same = so_request(refs=["R-x"]).model_copy(update={"order_date": None})
    assert await erp.create_sales_order(same) == order
    changed_line = so_request()
    changed_line.lines[0].quantity = D(4)
    for other in (
        so_request().model_copy(update={"tax_pct": D(20)}),
        so_request().model_copy(update={"currency": "USD"}),
        changed_line,
    ):
        with pytest.raises(IdempotencyConflict) as info:
            await erp.create_sales_order(other)
        assert info.value.reference == "R-so"
    assert (await erp.count_documents("R-"))["sales_orders"] == 1


async def test_invoice_and_payment_references_reused_elsewhere_conflict(
    erp: InMemoryERP,
) -> None:
    first = await erp.create_sales_order(so_request("R-a"))
    second = await erp.create_sales_order(so_request("R-b"))
    for order in (first, second):
        await erp.ship(order.number)
    invoice = await erp.create_invoice(
        InvoiceRequest(reference="I-1", sales_order_number=first.number)
    )
    with pytest.raises(IdempotencyConflict):
        await erp.create_invoice(InvoiceRequest(reference="I-1", sales_order_number=second.number))
    await erp.record_payment(invoice.number, D(10), "P-1")
    with pytest.raises(IdempotencyConflict):
        await erp.record_payment(invoice.number, D(11), "P-1")
    paid = await erp.get_invoice(invoice.number)
    assert paid.amount_paid == D(10)


@pytest.mark.parametrize(
    ("change", "error", "detail"),
    [
        ({"lines": []}, InvalidRecord, "lines: a sales order needs at least one line"),
        (
            {"lines": [SalesOrderLine(line_no=1, sku="SKU-1", quantity=D(0), unit_price=D(1))]},
            InvalidRecord,
            "lines[1].quantity: must be positive, got 0",
        ),
        (
            {"lines": [SalesOrderLine(line_no=1, sku="SKU-9", quantity=D(1), unit_price=D(1))]},
            RecordNotFound,
            "SKU-9",
        ),
    ],
    ids=["no-lines", "zero-quantity", "unknown-product"],
)
async def test_sales_order_request_is_checked(
    erp: InMemoryERP, change: dict[str, object], error: type[Exception], detail: str
) -> None:
    with pytest.raises(error) as info:
        await erp.create_sales_order(so_request().model_copy(update=change))
    assert detail in str(info.value.details())  # type: ignore[attr-defined]
    assert await erp.get_sales_order("R-so") is None
