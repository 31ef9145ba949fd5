"""What every ERP adapter must do (``ERPPort``) with sales orders, shipments, invoices and
payments, run against each implementation."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import pytest

from domain.errors import (
    InvalidRecord,
    InvalidState,
    NotShipped,
    RecordNotFound,
)
from domain.models import (
    InvoiceRequest,
    InvoiceStatus,
    ReservationRequest,
    ReservationStatus,
    SalesOrderStatus,
)
from tests.contract.conftest import (
    CUSTOMER,
    SKU_A,
    SKU_B,
    STOCK_B,
)
from tests.contract.erp_orders import (
    ORDER_DATE,
    D,
    assert_permanent,
    invoiced_order,
    levels,
    order_request,
    shipped_order,
)

# --- sales orders ----------------------------------------------------------------------------


async def test_sales_order_totals_and_promised_date(stocked_erp: Any) -> None:
    await stocked_erp.reserve(
        ReservationRequest(reference="r-a", sku=SKU_A, quantity=D(3), warehouses=["W3"])
    )
    await stocked_erp.reserve(ReservationRequest(reference="r-b", sku=SKU_B, quantity=D(2)))

    order = await stocked_erp.create_sales_order(order_request("so-1", "r-a", "r-b"))

    assert re.fullmatch(r"SO-\d{6}", order.number)
    assert (order.reference, order.customer_id, order.currency) == ("so-1", CUSTOMER, "EUR")
    assert order.status is SalesOrderStatus.OPEN
    assert (order.net, order.tax, order.total) == (D("63.97"), D("5.76"), D("69.73"))
    # W3 (2 days) holds all of SKU-A, W1 (1 day) SKU-B: the slowest warehouse decides.
    assert order.promised_date == ORDER_DATE + timedelta(days=2)
    assert order.shipped_at is None
    assert await stocked_erp.get_sales_order("so-1") == order


async def test_sales_order_is_idempotent_on_its_reference(stocked_erp: Any) -> None:
    first = await stocked_erp.create_sales_order(order_request("ord-9/so"))
    again = await stocked_erp.create_sales_order(order_request("ord-9/so"))
    other = await stocked_erp.create_sales_order(order_request("ord-10/so"))

    assert again == first
    assert other.number != first.number
    assert (await stocked_erp.count_documents("ord-9/"))["sales_orders"] == 1


async def test_sales_order_for_an_unknown_customer_is_record_not_found(stocked_erp: Any) -> None:
    with pytest.raises(RecordNotFound) as caught:
        await stocked_erp.create_sales_order(order_request("so-1", customer_id="C-404404"))
    assert (caught.value.kind, caught.value.key) == ("customer", "C-404404")
    assert_permanent(caught.value)
    assert await stocked_erp.get_sales_order("so-1") is None


async def test_ship_consumes_the_orders_reservations_once(stocked_erp: Any) -> None:
    before_a = await levels(stocked_erp, SKU_A)
    await stocked_erp.reserve(ReservationRequest(reference="unrelated", sku=SKU_A, quantity=D(1)))

    order = await shipped_order(stocked_erp)
    again = await stocked_erp.ship(order.number)

    assert order.status is SalesOrderStatus.SHIPPED and order.shipped_at is not None
    assert again == order
    # SKU-A: 1 (unrelated, still reserved) + 3 (shipped) drawn from W1 in ERP order.
    assert await levels(stocked_erp, SKU_A) == {
        "W1": (before_a["W1"][0] - 3, D(1)),
        "W2": before_a["W2"],
        "W3": before_a["W3"],
    }
    assert await levels(stocked_erp, SKU_B) == {"W1": (STOCK_B["W1"] - 2, D(0))}
    consumed = await stocked_erp.reserve(
        ReservationRequest(reference="o1-a", sku=SKU_A, quantity=D(3))
    )
    assert consumed.status is ReservationStatus.CONSUMED
    assert await stocked_erp.get_sales_order("o1-so") == order


async def test_ship_an_unknown_sales_order_is_record_not_found(erp: Any) -> None:
    with pytest.raises(RecordNotFound) as caught:
        await erp.ship("SO-404404")
    assert caught.value.kind == "sales_order"


async def test_cancel_sales_order_only_before_shipment(stocked_erp: Any) -> None:
    erp = stocked_erp
    open_order = await erp.create_sales_order(order_request("so-1"))
    assert await erp.cancel_sales_order("never-made") is None

    cancelled = await erp.cancel_sales_order("so-1")
    assert cancelled is not None and cancelled.status is SalesOrderStatus.CANCELLED
    assert cancelled.number == open_order.number
    assert await erp.cancel_sales_order("so-1") == cancelled
    with pytest.raises(InvalidState) as cannot_ship:
        await erp.ship(open_order.number)
    assert_permanent(cannot_ship.value)

    await shipped_order(erp, "o2")
    with pytest.raises(InvalidState) as cannot_cancel:
        await erp.cancel_sales_order("o2-so")
    assert cannot_cancel.value.state == "shipped"
    assert (await erp.get_sales_order("o2-so")).status is SalesOrderStatus.SHIPPED


# --- invoices and payments -------------------------------------------------------------------


async def test_invoice_only_after_shipment(stocked_erp: Any) -> None:
    order = await stocked_erp.create_sales_order(order_request("so-1"))
    request = InvoiceRequest(reference="inv-1", sales_order_number=order.number)

    with pytest.raises(NotShipped) as caught:
        await stocked_erp.create_invoice(request)
    assert caught.value.state == "open"
    assert_permanent(caught.value)
    assert (await stocked_erp.count_documents("inv-1"))["invoices"] == 0

    await stocked_erp.ship(order.number)
    invoice = await stocked_erp.create_invoice(request)
    assert invoice.sales_order_number == order.number


async def test_invoice_of_a_cancelled_order_is_invalid_state_not_not_shipped(
    stocked_erp: Any,
) -> None:
    order = await stocked_erp.create_sales_order(order_request("so-c"))
    await stocked_erp.cancel_sales_order("so-c")
    request = InvoiceRequest(reference="inv-c", sales_order_number=order.number)

    with pytest.raises(InvalidState) as caught:
        await stocked_erp.create_invoice(request)
    assert not isinstance(caught.value, NotShipped)  # never: waiting would not help
    assert caught.value.state == "cancelled"


async def test_invoice_copies_the_order_and_is_idempotent(stocked_erp: Any) -> None:
    invoice = await invoiced_order(stocked_erp, "ord-3", terms=45)
    again = await stocked_erp.create_invoice(
        InvoiceRequest(
            reference="ord-3-inv",
            sales_order_number=invoice.sales_order_number,
            payment_terms_days=45,
            invoice_date=ORDER_DATE,
        )
    )

    assert again == invoice
    assert re.fullmatch(r"INV-\d{6}", invoice.number)
    assert (invoice.net, invoice.tax, invoice.total) == (D("63.97"), D("5.76"), D("69.73"))
    assert (invoice.customer_id, invoice.currency) == (CUSTOMER, "EUR")
    assert (invoice.issued_on, invoice.due_date) == (ORDER_DATE, ORDER_DATE + timedelta(days=45))
    assert (invoice.amount_paid, invoice.status) == (D(0), InvoiceStatus.OPEN)
    assert await stocked_erp.get_invoice(invoice.number) == invoice
    assert (await stocked_erp.get_sales_order("ord-3-so")).status is SalesOrderStatus.INVOICED
    assert await stocked_erp.count_documents("ord-3") == {
        "reservations": 2,
        "sales_orders": 1,
        "invoices": 1,
        "payments": 0,
    }
    with pytest.raises(InvalidState):  # an order is invoiced once, whatever the reference
        await stocked_erp.create_invoice(
            InvoiceRequest(reference="other-inv", sales_order_number=invoice.sales_order_number)
        )


async def test_get_invoice_unknown_is_record_not_found(erp: Any) -> None:
    with pytest.raises(RecordNotFound) as caught:
        await erp.get_invoice("INV-404404")
    assert (caught.value.kind, caught.value.key) == ("invoice", "INV-404404")
    assert_permanent(caught.value)


async def test_partial_payments_add_up_to_paid(stocked_erp: Any) -> None:
    invoice = await invoiced_order(stocked_erp)  # total 69.73

    first = await stocked_erp.record_payment(invoice.number, D("30.00"), "o1-pay-1")
    repeated = await stocked_erp.record_payment(invoice.number, D("30.00"), "o1-pay-1")
    assert (first.amount_paid, first.status, first.outstanding) == (
        D("30.00"),
        InvoiceStatus.OPEN,
        D("39.73"),
    )
    assert repeated == first

    paid = await stocked_erp.record_payment(invoice.number, D("39.73"), "o1-pay-2")
    assert (paid.amount_paid, paid.status) == (D("69.73"), InvoiceStatus.PAID)
    assert await stocked_erp.get_invoice(invoice.number) == paid
    assert (await stocked_erp.count_documents("o1-pay"))["payments"] == 2


async def test_payment_must_be_positive_and_for_a_known_invoice(stocked_erp: Any) -> None:
    invoice = await invoiced_order(stocked_erp)

    with pytest.raises(InvalidRecord) as not_positive:
        await stocked_erp.record_payment(invoice.number, D("0"), "pay-0")
    with pytest.raises(RecordNotFound) as unknown:
        await stocked_erp.record_payment("INV-404404", D("1"), "pay-1")

    assert_permanent(not_positive.value)
    assert unknown.value.kind == "invoice"
    assert (await stocked_erp.get_invoice(invoice.number)).amount_paid == D(0)
    assert (await stocked_erp.count_documents("pay-"))["payments"] == 0


async def test_concurrent_invoices_under_one_reference_give_the_same_invoice(
    stocked_erp: Any,
) -> None:
    # Retried activities racing each other: on PostgreSQL the losers wait for the winner's lock
    # on the sales order and must then answer with its invoice, not refuse the order as invoiced.
    order = await shipped_order(stocked_erp, "ord-race")
    request = InvoiceRequest(
        reference="ord-race-inv", sales_order_number=order.number, invoice_date=ORDER_DATE
    )
    invoices = await asyncio.gather(*(stocked_erp.create_invoice(request) for _ in range(5)))

    assert len({invoice.number for invoice in invoices}) == 1
    assert await stocked_erp.count_documents("ord-race") == {
        "reservations": 2,
        "sales_orders": 1,
        "invoices": 1,
        "payments": 0,
    }
