"""Direct tests of the in-memory fakes' trickier semantics.

The shared contract suite checks the port semantics against every adapter; these tests pin down
what only the fakes have (fault injection, the call log) and the corners that are easy to get
subtly wrong (idempotency, atomic reservation, copies).
"""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

import pytest

from domain.errors import (
    IdempotencyConflict,
    InsufficientStock,
    InvalidRecord,
    InvalidState,
    RecordNotFound,
    SystemUnavailable,
)
from domain.models import (
    CrmAccount,
    CrmNote,
    CrmOrder,
    CrmOrderLine,
    CrmOrderStatus,
    CrmStatusUpdate,
    CrmTask,
    CrmUser,
    CustomerData,
    ErpCustomer,
    ErpProduct,
    InvoiceRequest,
    InvoiceStatus,
    ReservationRequest,
    ReservationStatus,
    SalesOrderLine,
    SalesOrderRequest,
    SalesOrderStatus,
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


# --- fault injection -------------------------------------------------------------------------


async def test_fail_next_raises_before_doing_anything(erp: InMemoryERP) -> None:
    boom = SystemUnavailable("down", system="erp")
    erp.fail_next["reserve"] = [boom, InvalidRecord("bad")]
    request = ReservationRequest(reference="R-1", sku="SKU-1", quantity=D(4))
    with pytest.raises(SystemUnavailable) as info:
        await erp.reserve(request)
    assert info.value is boom
    assert (await erp.stock_snapshot())[("SKU-1", "WH-A")] == (D(5), D(0))
    assert (await erp.count_documents("R-"))["reservations"] == 0
    with pytest.raises(InvalidRecord):
        await erp.reserve(request)
    assert erp.fail_next["reserve"] == []
    reservation = await erp.reserve(request)  # the list is used up: the call goes through
    assert reservation.status is ReservationStatus.ACTIVE
    assert erp.calls == ["reserve", "reserve", "reserve"]


async def test_fail_next_only_hits_the_named_method(erp: InMemoryERP) -> None:
    erp.fail_next["release"] = [SystemUnavailable("down")]
    await erp.reserve(ReservationRequest(reference="R-1", sku="SKU-1", quantity=D(1)))
    with pytest.raises(SystemUnavailable):
        await erp.release("R-1")
    assert (await erp.stock_snapshot())[("SKU-1", "WH-A")] == (D(5), D(1))


async def test_fail_after_commit_writes_then_raises(erp: InMemoryERP) -> None:
    erp.fail_after_commit["reserve"] = 2
    request = ReservationRequest(reference="R-1", sku="SKU-1", quantity=D(4))
    for _ in range(2):
        with pytest.raises(SystemUnavailable) as info:
            await erp.reserve(request)
        assert info.value.system == "erp"
        assert info.value.transient
    # The write committed once; the retries were absorbed by idempotency.
    assert (await erp.stock_snapshot())[("SKU-1", "WH-A")] == (D(5), D(4))
    assert erp.fail_after_commit["reserve"] == 0
    reservation = await erp.reserve(request)
    assert [(line.warehouse, line.quantity) for line in reservation.lines] == [("WH-A", D(4))]
    assert (await erp.stock_snapshot())[("SKU-1", "WH-A")] == (D(5), D(4))
    assert (await erp.count_documents("R-1"))["reservations"] == 1


async def test_fail_after_commit_then_retry_returns_the_same_sales_order(
    erp: InMemoryERP,
) -> None:
    erp.fail_after_commit["create_sales_order"] = 1
    with pytest.raises(SystemUnavailable):
        await erp.create_sales_order(so_request())
    order = await erp.create_sales_order(so_request())
    assert order.number == "SO-000001"
    assert (await erp.count_documents("R-so"))["sales_orders"] == 1


async def test_fail_after_commit_does_not_fire_when_the_call_itself_fails(
    erp: InMemoryERP,
) -> None:
    erp.fail_after_commit["reserve"] = 1
    with pytest.raises(InsufficientStock):
        await erp.reserve(ReservationRequest(reference="R-1", sku="SKU-1", quantity=D(99)))
    assert erp.fail_after_commit["reserve"] == 1


async def test_crm_fault_injection_and_call_log(crm: InMemoryCRM) -> None:
    crm.fail_after_commit["update_order_status"] = 1
    update = CrmStatusUpdate(key="k1", order_id="O-1", status=CrmOrderStatus.CONFIRMED)
    with pytest.raises(SystemUnavailable) as info:
        await crm.update_order_status(update)
    assert info.value.system == "crm"
    await crm.update_order_status(update)
    assert len(await crm.status_history("O-1")) == 1
    crm.fail_next["get_order"] = [RecordNotFound("gone", kind="order", key="O-1")]
    with pytest.raises(RecordNotFound):
        await crm.get_order("O-1")
    await crm.status_history("O-1")  # admin methods are not logged
    assert crm.calls == ["update_order_status", "update_order_status", "get_order"]


# --- ERP: reservations -----------------------------------------------------------------------


async def test_reserve_same_reference_different_payload_conflicts(erp: InMemoryERP) -> None:
    await erp.reserve(ReservationRequest(reference="R-1", sku="SKU-1", quantity=D(4)))
    for other in (
        ReservationRequest(reference="R-1", sku="SKU-1", quantity=D(5)),
        ReservationRequest(reference="R-1", sku="SKU-2", quantity=D(4)),
    ):
        with pytest.raises(IdempotencyConflict) as info:
            await erp.reserve(other)
        assert info.value.reference == "R-1"
    assert (await erp.stock_snapshot())[("SKU-1", "WH-A")] == (D(5), D(4))


async def test_reserve_repeat_returns_released_reservation_without_reserving(
    erp: InMemoryERP,
) -> None:
    request = ReservationRequest(reference="R-1", sku="SKU-1", quantity=D(4))
    await erp.reserve(request)
    released = await erp.release("R-1")
    assert released is not None and released.status is ReservationStatus.RELEASED
    again = await erp.reserve(request.model_copy(update={"quantity": D("4.00")}))
    assert again.status is ReservationStatus.RELEASED
    assert (await erp.stock_snapshot())[("SKU-1", "WH-A")] == (D(5), D(0))


async def test_reserve_prefers_then_spills_in_warehouse_order(erp: InMemoryERP) -> None:
    reservation = await erp.reserve(
        ReservationRequest(
            reference="R-1", sku="SKU-1", quantity=D(12), warehouses=["WH-B", "WH-B", "WH-X"]
        )
    )
    assert [(ln.warehouse, ln.quantity) for ln in reservation.lines] == [
        ("WH-B", D(10)),
        ("WH-A", D(2)),
    ]
    snapshot = await erp.stock_snapshot()
    assert snapshot[("SKU-1", "WH-A")] == (D(5), D(2))
    assert snapshot[("SKU-1", "WH-B")] == (D(10), D(10))


async def test_reserve_short_raises_and_changes_nothing(erp: InMemoryERP) -> None:
    await erp.reserve(ReservationRequest(reference="R-1", sku="SKU-1", quantity=D(4)))
    before = await erp.stock_snapshot()
    with pytest.raises(InsufficientStock) as info:
        await erp.reserve(ReservationRequest(reference="R-2", sku="SKU-1", quantity=D(12)))
    assert (info.value.sku, info.value.requested, info.value.available) == ("SKU-1", "12", "11")
    assert await erp.stock_snapshot() == before
    assert await erp.release("R-2") is None  # nothing was recorded under R-2


async def test_concurrent_reservations_never_oversell(erp: InMemoryERP) -> None:
    async def one(n: int) -> bool:
        try:
            await erp.reserve(ReservationRequest(reference=f"R-{n}", sku="SKU-1", quantity=D(2)))
        except InsufficientStock:
            return False
        return True

    results = await asyncio.gather(*(one(n) for n in range(20)))
    assert sum(results) == 7  # 15 on hand, 2 each
    snapshot = await erp.stock_snapshot()
    reserved = sum((r for (sku, _), (_, r) in snapshot.items() if sku == "SKU-1"), D(0))
    assert reserved == D(14)
    assert all(on_hand >= r for on_hand, r in snapshot.values())


async def test_release_consumed_reservation_is_invalid_state(erp: InMemoryERP) -> None:
    await erp.reserve(ReservationRequest(reference="R-1", sku="SKU-1", quantity=D(7)))
    order = await erp.create_sales_order(so_request(refs=["R-1"]))
    shipped = await erp.ship(order.number)
    assert shipped.status is SalesOrderStatus.SHIPPED and shipped.shipped_at is not None
    snapshot = await erp.stock_snapshot()
    assert snapshot[("SKU-1", "WH-A")] == (D(0), D(0))
    assert snapshot[("SKU-1", "WH-B")] == (D(8), D(0))
    with pytest.raises(InvalidState) as info:
        await erp.release("R-1")
    assert info.value.state == "consumed"
    assert await erp.ship(order.number) == shipped  # idempotent: consumes nothing more
    assert await erp.stock_snapshot() == snapshot


async def test_set_stock_below_reserved_is_invalid_state(erp: InMemoryERP) -> None:
    await erp.reserve(ReservationRequest(reference="R-1", sku="SKU-1", quantity=D(4)))
    with pytest.raises(InvalidState):
        await erp.set_stock("SKU-1", "WH-A", D(3))
    await erp.set_stock("SKU-1", "WH-A", D(4))
    assert (await erp.stock_snapshot())[("SKU-1", "WH-A")] == (D(4), D(4))


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


# --- ERP: customers --------------------------------------------------------------------------


async def test_find_customer_precedence(erp: InMemoryERP) -> None:
    await erp.upsert_customer(
        ErpCustomer(
            customer_id="C-000002",
            name="Other",
            tax_id="TX-2",
            email="x@y.test",
            currency="EUR",
            credit_limit=D(0),
        )
    )
    by_ref = await erp.find_customer(external_ref="A-1", tax_id="TX-2", email="x@y.test")
    assert by_ref is not None and by_ref.customer_id == "C-000001"
    by_tax = await erp.find_customer(external_ref="A-9", tax_id="TX-2", email="buy@acme.test")
    assert by_tax is not None and by_tax.customer_id == "C-000002"
    by_mail = await erp.find_customer(external_ref=None, tax_id=None, email="BUY@ACME.TEST")
    assert by_mail is not None and by_mail.customer_id == "C-000001"
    assert await erp.find_customer(external_ref="A-9", tax_id="TX-9", email=None) is None


async def test_create_customer_is_idempotent_and_numbered(erp: InMemoryERP) -> None:
    data = CustomerData(external_ref="A-7", name="New", currency="USD")
    created = await erp.create_customer(data)
    # C-000001 is taken by the seeded customer.
    assert (created.customer_id, created.credit_limit, created.currency) == (
        "C-000002",
        D(0),
        "USD",
    )
    assert await erp.create_customer(data) == created
    assert await erp.customers_count() == 2
    credit = await erp.get_credit_status(created.customer_id)
    assert credit.open_receivables == D(0)
    with pytest.raises(RecordNotFound) as info:
        await erp.get_credit_status("C-404")
    assert (info.value.kind, info.value.key) == ("customer", "C-404")


# --- CRM -------------------------------------------------------------------------------------


async def test_crm_status_update_applies_once_and_keeps_fields(crm: InMemoryCRM) -> None:
    first = CrmStatusUpdate(
        key="k1",
        order_id="O-1",
        status=CrmOrderStatus.CONFIRMED,
        erp_order_number="SO-000001",
        promised_date=date(2025, 2, 1),
    )
    await crm.update_order_status(first)
    await crm.update_order_status(
        CrmStatusUpdate(key="k2", order_id="O-1", status=CrmOrderStatus.SHIPPED)
    )
    # Replaying k1 must not move the status back to confirmed.
    await crm.update_order_status(first)
    order = await crm.get_order("O-1")
    assert order.status is CrmOrderStatus.SHIPPED
    assert order.erp_order_number == "SO-000001"  # a None field does not erase it
    assert order.promised_date == date(2025, 2, 1)
    assert [u.key for u in await crm.status_history("O-1")] == ["k1", "k2"]
    with pytest.raises(RecordNotFound) as info:
        await crm.update_order_status(
            CrmStatusUpdate(key="k3", order_id="O-404", status=CrmOrderStatus.SHIPPED)
        )
    assert (info.value.kind, info.value.key) == ("order", "O-404")


async def test_crm_returns_copies(crm: InMemoryCRM) -> None:
    order = await crm.get_order("O-1")
    order.lines[0].quantity = D(999)
    order.status = CrmOrderStatus.CLOSED
    fresh = await crm.get_order("O-1")
    assert fresh.lines[0].quantity == D(2) and fresh.status is CrmOrderStatus.NEW
    assert not await crm.create_order(order)  # existing id: refused, unchanged
    assert (await crm.get_order("O-1")).status is CrmOrderStatus.NEW


async def test_crm_notes_tasks_and_users(crm: InMemoryCRM) -> None:
    note = CrmNote(key="n1", order_id="O-1", subject="hello")
    note_id = await crm.add_note(note)
    assert await crm.add_note(note.model_copy(update={"body": "changed"})) == note_id
    assert await crm.add_note(CrmNote(key="n2", order_id="O-1", subject="x")) != note_id
    assert [n.key for n in await crm.notes("O-1")] == ["n1", "n2"]
    task = CrmTask(key="t1", order_id="O-1", subject="approve", assignee="u-1")
    task_id = await crm.create_task(task)
    assert await crm.create_task(task) == task_id
    assert await crm.tasks("O-1") == [task]
    managers = await crm.list_users("manager")
    assert [u.user_id for u in managers] == ["u-1", "u-2"]  # by id; u-3 is inactive
    assert managers[1].roles == ["manager", "sales"]  # de-duplicated and sorted
    assert await crm.list_users("nobody") == []
    await crm.link_account("A-1", "C-000001")
    await crm.link_account("A-1", "C-000001")
    assert (await crm.get_account("A-1")).erp_customer_id == "C-000001"
    with pytest.raises(RecordNotFound) as info:
        await crm.get_account("A-404")
    assert info.value.kind == "account"


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
