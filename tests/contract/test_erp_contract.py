"""What every ERP adapter must do (``ERPPort``) for products, stock, customers, credit and
reservations, run against each implementation; sales orders, invoices and payments are in
``test_erp_documents_contract.py``.

What only the sandbox (a real database) can show is in ``test_sandbox_erp.py``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from domain.errors import (
    IdempotencyConflict,
    InsufficientStock,
    InvalidRecord,
    InvalidState,
    RecordNotFound,
)
from domain.models import (
    CustomerData,
    ErpCustomer,
    ReservationLine,
    ReservationRequest,
    ReservationStatus,
)
from tests.contract.conftest import (
    CREDIT_LIMIT,
    CUSTOMER,
    OPENING,
    SKU_A,
    SKU_B,
    STOCK_A,
)
from tests.contract.erp_orders import (
    D,
    assert_permanent,
    invoiced_order,
    levels,
    shipped_order,
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
