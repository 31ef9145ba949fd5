"""Direct tests of the in-memory fakes' trickier semantics.

The shared contract suite checks the port semantics against every adapter; these tests pin down
what only the fakes have (fault injection, the call log) and the corners that are easy to get
subtly wrong (idempotency, atomic reservation, copies). Sales orders, invoices and their
references are in ``test_fake_documents.py``.
"""

from __future__ import annotations

import asyncio
from datetime import date

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
    CrmNote,
    CrmOrderStatus,
    CrmStatusUpdate,
    CrmTask,
    CustomerData,
    ErpCustomer,
    ReservationRequest,
    ReservationStatus,
    SalesOrderStatus,
)
from tests.fakes import InMemoryCRM, InMemoryERP
from tests.unit.fakes.conftest import D, so_request

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
