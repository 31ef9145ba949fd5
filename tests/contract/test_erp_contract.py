"""What every ERP adapter must do (``ERPPort``), run against each implementation.

The last section covers what only the sandbox (a real database) can show.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.sandbox import SandboxERP
from domain.errors import (
    IdempotencyConflict,
    InsufficientStock,
    InvalidRecord,
    InvalidState,
    NotShipped,
    PermanentError,
    PeyvandError,
    RecordNotFound,
    SystemUnavailable,
    TransientError,
)
from domain.models import (
    CustomerData,
    ErpCustomer,
    ErpProduct,
    Invoice,
    InvoiceRequest,
    InvoiceStatus,
    ReservationLine,
    ReservationRequest,
    ReservationStatus,
    SalesOrder,
    SalesOrderLine,
    SalesOrderRequest,
    SalesOrderStatus,
)
from tests.conftest import DbFactory
from tests.contract.conftest import (
    CREDIT_LIMIT,
    CUSTOMER,
    OPENING,
    SKU_A,
    SKU_B,
    STOCK_A,
    STOCK_B,
    stock_up,
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


# --- products and stock ----------------------------------------------------------------------


async def test_get_products_returns_known_products_and_leaves_unknown_out(stocked_erp: Any) -> None:
    products = await stocked_erp.get_products([SKU_B, "NOPE", SKU_A])

    assert sorted(p.sku for p in products) == [SKU_A, SKU_B]
    assert {p.sku: p.list_price for p in products} == {SKU_A: D("19.99"), SKU_B: D("5.00")}
    assert await stocked_erp.get_products(["NOPE"]) == []


async def test_get_stock_lists_every_warehouse_of_the_product(stocked_erp: Any) -> None:
    stock = await stocked_erp.get_stock([SKU_A])

    assert [s.warehouse for s in stock] == ["W1", "W2", "W3"]  # the ERP's own order
    assert {s.warehouse: s.available for s in stock} == STOCK_A
    assert await levels(stocked_erp, SKU_B) == {"W1": (D(100), D(0))}


async def test_set_stock_refuses_to_go_below_reserved(stocked_erp: Any) -> None:
    await stocked_erp.reserve(ReservationRequest(reference="r1", sku=SKU_A, quantity=D(4)))

    with pytest.raises(InvalidState) as caught:
        await stocked_erp.set_stock(SKU_A, "W1", D(3))
    assert_permanent(caught.value)

    await stocked_erp.set_stock(SKU_A, "W1", D(4))  # down to exactly what is reserved is fine
    assert (await levels(stocked_erp, SKU_A))["W1"] == (D(4), D(4))


# --- customers and credit --------------------------------------------------------------------


async def test_find_customer_tries_external_ref_then_tax_id_then_email(erp: Any) -> None:
    def customer(customer_id: str, ref: str | None, tax: str | None, mail: str) -> ErpCustomer:
        return ErpCustomer(
            customer_id=customer_id,
            external_ref=ref,
            name=customer_id,
            tax_id=tax,
            email=mail,
            currency="EUR",
            credit_limit=D(0),
        )

    await erp.upsert_customer(customer("C-000101", "ACC-1", "T-1", "one@x.example"))
    await erp.upsert_customer(customer("C-000102", None, "T-2", "two@x.example"))
    await erp.upsert_customer(customer("C-000103", None, None, "Three@X.example"))

    async def find(ref: str | None, tax: str | None, mail: str | None) -> str | None:
        found = await erp.find_customer(external_ref=ref, tax_id=tax, email=mail)
        return None if found is None else found.customer_id

    assert await find("ACC-1", "T-2", "three@x.example") == "C-000101"
    assert await find("ACC-unknown", "T-2", "one@x.example") == "C-000102"
    assert await find(None, "T-unknown", "one@x.example") == "C-000101"
    assert await find(None, None, "THREE@x.EXAMPLE") == "C-000103"  # e-mail ignores case
    assert await find("ACC-unknown", "T-unknown", "nobody@x.example") is None
    assert await find(None, None, None) is None


async def test_create_customer_is_idempotent_on_external_ref(stocked_erp: Any) -> None:
    data = CustomerData(
        external_ref="ACC-NEW",
        name="شرکت نمونه",
        tax_id="T-NEW",
        email="new@x.example",
        currency="EUR",
    )
    before = await stocked_erp.customers_count()

    first = await stocked_erp.create_customer(data)
    again = await stocked_erp.create_customer(data)

    assert again == first
    assert re.fullmatch(r"C-\d{6}", first.customer_id)
    assert first.customer_id != CUSTOMER
    assert (first.external_ref, first.name, first.tax_id) == ("ACC-NEW", "شرکت نمونه", "T-NEW")
    assert await stocked_erp.customers_count() == before + 1
    found = await stocked_erp.find_customer(external_ref="ACC-NEW", tax_id=None, email=None)
    assert found == first


async def test_credit_status_of_an_unknown_customer_is_record_not_found(erp: Any) -> None:
    with pytest.raises(RecordNotFound) as caught:
        await erp.get_credit_status("C-404404")
    assert caught.value.kind == "customer"
    assert_permanent(caught.value)


async def test_credit_status_adds_what_open_invoices_still_owe(stocked_erp: Any) -> None:
    erp = stocked_erp
    assert (await erp.get_credit_status(CUSTOMER)).open_receivables == OPENING

    invoice = await invoiced_order(erp)
    credit = await erp.get_credit_status(CUSTOMER)
    assert (credit.credit_limit, credit.currency, credit.blocked) == (CREDIT_LIMIT, "EUR", False)
    assert credit.open_receivables == OPENING + invoice.total

    await erp.record_payment(invoice.number, D("20.00"), "pay-1")
    credit = await erp.get_credit_status(CUSTOMER)
    assert credit.open_receivables == OPENING + invoice.total - D("20.00")

    await erp.record_payment(invoice.number, invoice.total - D("20.00"), "pay-2")
    assert (await erp.get_credit_status(CUSTOMER)).open_receivables == OPENING


# --- reservations ----------------------------------------------------------------------------


async def test_reserve_draws_on_the_preferred_warehouse_first(stocked_erp: Any) -> None:
    reservation = await stocked_erp.reserve(
        ReservationRequest(reference="r1", sku=SKU_A, quantity=D(12), warehouses=["W2"])
    )

    assert reservation.status is ReservationStatus.ACTIVE
    assert reservation.lines == [
        ReservationLine(warehouse="W2", quantity=D(10)),
        ReservationLine(warehouse="W1", quantity=D(2)),
    ]
    assert await levels(stocked_erp, SKU_A) == {
        "W1": (D(5), D(2)),
        "W2": (D(10), D(10)),
        "W3": (D(3), D(0)),
    }


async def test_reserve_without_preference_follows_the_erp_order(stocked_erp: Any) -> None:
    first = await stocked_erp.reserve(ReservationRequest(reference="r1", sku=SKU_A, quantity=D(7)))
    second = await stocked_erp.reserve(
        ReservationRequest(reference="r2", sku=SKU_A, quantity=D(9), warehouses=["W9"])
    )

    assert first.lines == [
        ReservationLine(warehouse="W1", quantity=D(5)),
        ReservationLine(warehouse="W2", quantity=D(2)),
    ]
    # An unknown preferred warehouse is ignored; W1 is empty by now.
    assert second.lines == [
        ReservationLine(warehouse="W2", quantity=D(8)),
        ReservationLine(warehouse="W3", quantity=D(1)),
    ]


async def test_reserve_is_idempotent_on_its_reference(stocked_erp: Any) -> None:
    request = ReservationRequest(reference="ord-7/line-1", sku=SKU_A, quantity=D(4))

    first = await stocked_erp.reserve(request)
    again = await stocked_erp.reserve(request)

    assert again == first
    assert await levels(stocked_erp, SKU_A) == {
        "W1": (D(5), D(4)),
        "W2": (D(10), D(0)),
        "W3": (D(3), D(0)),
    }
    counts = await stocked_erp.count_documents("ord-7/")
    assert counts == {"reservations": 1, "sales_orders": 0, "invoices": 0, "payments": 0}

    await stocked_erp.release(request.reference)
    after_release = await stocked_erp.reserve(request)  # a late retry must not reserve again
    assert after_release.status is ReservationStatus.RELEASED
    assert (await levels(stocked_erp, SKU_A))["W1"] == (D(5), D(0))


@pytest.mark.parametrize(
    ("sku", "quantity"), [(SKU_A, "5"), (SKU_B, "4")], ids=["other-quantity", "other-sku"]
)
async def test_reserve_with_a_reused_reference_and_another_payload_conflicts(
    stocked_erp: Any, sku: str, quantity: str
) -> None:
    await stocked_erp.reserve(ReservationRequest(reference="r1", sku=SKU_A, quantity=D(4)))
    snapshot = await stocked_erp.stock_snapshot()

    with pytest.raises(IdempotencyConflict) as caught:
        await stocked_erp.reserve(ReservationRequest(reference="r1", sku=sku, quantity=D(quantity)))

    assert caught.value.reference == "r1"
    assert_permanent(caught.value)
    assert await stocked_erp.stock_snapshot() == snapshot


async def test_reserving_more_than_all_warehouses_hold_is_insufficient_stock(
    stocked_erp: Any,
) -> None:
    await stocked_erp.reserve(ReservationRequest(reference="r1", sku=SKU_A, quantity=D(6)))
    snapshot = await stocked_erp.stock_snapshot()

    with pytest.raises(InsufficientStock) as caught:
        await stocked_erp.reserve(ReservationRequest(reference="r2", sku=SKU_A, quantity=D(13)))

    error = caught.value
    assert (error.sku, D(error.requested), D(error.available)) == (SKU_A, D(13), D(12))
    assert_permanent(error)
    assert await stocked_erp.stock_snapshot() == snapshot
    assert (await stocked_erp.count_documents("r2"))["reservations"] == 0
    # Exactly what is left can still be reserved.
    await stocked_erp.reserve(ReservationRequest(reference="r3", sku=SKU_A, quantity=D(12)))


@pytest.mark.parametrize("quantity", ["0", "-1"])
async def test_reserving_a_non_positive_quantity_is_invalid(
    stocked_erp: Any, quantity: str
) -> None:
    with pytest.raises(InvalidRecord) as caught:
        await stocked_erp.reserve(
            ReservationRequest(reference="r1", sku=SKU_A, quantity=D(quantity))
        )
    assert_permanent(caught.value)
    assert (await stocked_erp.count_documents("r1"))["reservations"] == 0


async def test_release_restores_stock_exactly_and_is_idempotent(stocked_erp: Any) -> None:
    before = await stocked_erp.stock_snapshot()
    await stocked_erp.reserve(
        ReservationRequest(reference="r1", sku=SKU_A, quantity=D("12.5"), warehouses=["W3"])
    )

    released = await stocked_erp.release("r1")
    again = await stocked_erp.release("r1")

    assert released is not None and released.status is ReservationStatus.RELEASED
    assert released.quantity == D("12.5")
    assert again == released
    assert await stocked_erp.stock_snapshot() == before
    assert await stocked_erp.release("never-made") is None


async def test_releasing_a_consumed_reservation_is_invalid_state(stocked_erp: Any) -> None:
    await shipped_order(stocked_erp)

    with pytest.raises(InvalidState) as caught:
        await stocked_erp.release("o1-a")
    assert caught.value.state == "consumed"
    assert_permanent(caught.value)


async def test_count_documents_matches_the_reference_prefix_exactly(stocked_erp: Any) -> None:
    for reference in ["ord-1/a", "Ord-1/a", "ord_1/a", "ord%1/a"]:
        await stocked_erp.reserve(ReservationRequest(reference=reference, sku=SKU_A, quantity=D(1)))

    async def reservations(prefix: str) -> int:
        return int((await stocked_erp.count_documents(prefix))["reservations"])

    assert await reservations("ord-1/") == 1  # references are case-sensitive
    assert await reservations("ord_") == 1  # no wildcards either
    assert await reservations("ord%") == 1
    assert await reservations("") == 4
    assert await reservations("ord-1/a/") == 0


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


# --- sandbox only ----------------------------------------------------------------------------


async def test_sandbox_refuses_a_reused_reference_for_other_documents(
    stocked_sandbox_erp: SandboxERP,
) -> None:
    erp = stocked_sandbox_erp
    invoice = await invoiced_order(erp)
    await erp.record_payment(invoice.number, D("10"), "pay-1")
    other = await shipped_order(erp, "o2")

    with pytest.raises(IdempotencyConflict):
        await erp.create_sales_order(order_request("o1-so", tax_pct=D("19")))
    with pytest.raises(IdempotencyConflict):
        await erp.create_invoice(
            InvoiceRequest(reference="o1-inv", sales_order_number=other.number)
        )
    with pytest.raises(IdempotencyConflict):
        await erp.record_payment(invoice.number, D("11"), "pay-1")
    assert (await erp.get_invoice(invoice.number)).amount_paid == D("10")


async def test_sandbox_validates_sales_order_lines(stocked_sandbox_erp: SandboxERP) -> None:
    with pytest.raises(RecordNotFound) as unknown:
        await stocked_sandbox_erp.create_sales_order(
            order_request("so-1", lines=[line(1, "NOPE", "1", "1")])
        )
    with pytest.raises(InvalidRecord) as invalid:
        await stocked_sandbox_erp.create_sales_order(
            order_request("so-1", lines=[line(1, SKU_A, "-1", "1"), line(2, SKU_B, "1", "-2")])
        )

    assert (unknown.value.kind, unknown.value.key) == ("product", "NOPE")
    assert [p.split(":")[0] for p in invalid.value.problems] == [
        "lines[1].quantity",
        "lines[2].unit_price",
    ]
    assert await stocked_sandbox_erp.get_sales_order("so-1") is None


async def test_sandbox_keeps_decimals_exactly_and_survives_a_restart(
    sandbox_erp: SandboxERP,
) -> None:
    url = sandbox_erp._db.engine.url.render_as_string(hide_password=False)
    huge = D("123456789012345678.123456789")
    await stock_up(sandbox_erp)
    await sandbox_erp.set_stock(SKU_B, "W2", huge)
    await sandbox_erp.reserve(
        ReservationRequest(reference="r1", sku=SKU_A, quantity=D("0.125"), warehouses=["W3"])
    )
    await sandbox_erp.close()

    reopened = SandboxERP(url)
    try:
        await reopened.create_schema()  # idempotent on an existing database
        snapshot = await reopened.stock_snapshot()
        assert snapshot[(SKU_B, "W2")] == (huge, D(0))
        assert str(snapshot[(SKU_B, "W2")][0]) == str(huge)
        assert snapshot[(SKU_A, "W3")] == (D(3), D("0.125"))
        released = await reopened.release("r1")
        assert released is not None and released.lines[0].quantity == D("0.125")
    finally:
        await reopened.close()


async def test_sandbox_waits_its_latency_on_port_calls(make_db_url: DbFactory) -> None:
    erp = SandboxERP(await make_db_url("sqlite"), latency=0.2)
    try:
        await erp.create_schema()
        started = time.perf_counter()
        await erp.get_products(["X"])
        assert time.perf_counter() - started >= 0.2
    finally:
        await erp.close()


def test_sandbox_refuses_an_unusable_url_at_construction() -> None:
    with pytest.raises(ValueError, match="unusable database URL"):
        SandboxERP("not a url")
    with pytest.raises(ValueError, match="unusable database URL"):
        SandboxERP("postgresql+psycopg2://postgres@127.0.0.1/x")  # not an asyncio driver


async def test_sandbox_translates_an_unreachable_database_to_system_unavailable(
    tmp_path: Any,
) -> None:
    unreachable = [
        "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere",
        f"sqlite+aiosqlite:///{tmp_path}/missing-dir/erp.db",
    ]
    for url in unreachable:
        erp = SandboxERP(url)
        try:
            with pytest.raises(SystemUnavailable) as caught:
                await erp.get_products([SKU_A])
            assert caught.value.transient is True
            assert caught.value.system == "erp"
        finally:
            await erp.close()


async def test_sandbox_without_its_schema_is_unavailable_not_a_crash(
    make_db_url: DbFactory, db_kind: str
) -> None:
    erp = SandboxERP(await make_db_url(db_kind))
    try:
        with pytest.raises(SystemUnavailable):
            await erp.reserve(ReservationRequest(reference="r1", sku=SKU_A, quantity=D(1)))
    finally:
        await erp.close()


async def test_sandbox_stores_decimals_as_text_on_sqlite(make_db_url: DbFactory) -> None:
    """SQLite's NUMERIC affinity would round through binary floats; text keeps every digit."""
    url = await make_db_url("sqlite")
    erp = SandboxERP(url)
    try:
        await erp.create_schema()
        await erp.upsert_warehouse("W1", "W1")
        await erp.upsert_product(ErpProduct(sku="P", name="P", list_price=D("0.1"), currency="EUR"))
        await erp.set_stock("P", "W1", D("0.30000000000000000001"))
    finally:
        await erp.close()
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            stored = (await conn.execute(text("SELECT on_hand, typeof(on_hand) FROM stock"))).one()
    finally:
        await engine.dispose()
    assert tuple(stored) == ("0.30000000000000000001", "text")


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
