"""What every CRM adapter must do (``CRMPort``), run against each implementation.

The last section covers what only the sandbox (a real database) can show.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.sandbox import SandboxCRM
from domain.errors import InvalidRecord, PermanentError, RecordNotFound, TransientError
from domain.models import (
    CrmAccount,
    CrmNote,
    CrmOrder,
    CrmOrderLine,
    CrmOrderStatus,
    CrmStatusUpdate,
    CrmTask,
    CrmUser,
)
from tests.conftest import DbFactory

D = Decimal


def order(order_id: str = "ORD-1", **changes: Any) -> CrmOrder:
    fields: dict[str, Any] = {
        "order_id": order_id,
        "account_id": "ACC-1",
        "owner": "sara.ahmadi",
        "currency": "EUR",
        "tax_pct": D("9"),
        "payment_terms_days": 45,
        "preferred_warehouse": "IFN",
        "lines": [
            CrmOrderLine(
                line_no=10, sku="SKU-B", quantity=D("2.5"), unit_price=D("19.99"), currency="EUR"
            ),
            CrmOrderLine(
                line_no=20,
                sku="SKU-A",
                quantity=D("1"),
                unit_price=D("1000.00"),
                currency="EUR",
                discount_pct=D("12.5"),
            ),
        ],
    }
    fields.update(changes)
    return CrmOrder(**fields)


def update(key: str, status: CrmOrderStatus, **fields: Any) -> CrmStatusUpdate:
    return CrmStatusUpdate(key=key, order_id="ORD-1", status=status, **fields)


def assert_not_found(error: RecordNotFound, kind: str, key: str) -> None:
    assert (error.kind, error.key, error.system) == (kind, key, "crm")
    assert isinstance(error, PermanentError) and not isinstance(error, TransientError)


# --- orders ----------------------------------------------------------------------------------


async def test_create_order_then_get_order_returns_it_as_entered(crm: Any) -> None:
    entered = order()

    assert await crm.create_order(entered) is True
    read = await crm.get_order("ORD-1")

    assert read == entered
    assert [ln.line_no for ln in read.lines] == [10, 20]  # the order of entry is kept
    assert read.status is CrmOrderStatus.NEW


async def test_create_order_again_changes_nothing(crm: Any) -> None:
    await crm.create_order(order())

    assert await crm.create_order(order(owner="someone.else", lines=[])) is False
    assert await crm.get_order("ORD-1") == order()


async def test_orders_are_loose_as_crms_are(crm: Any) -> None:
    """Rejecting such orders is a domain rule; the CRM stores and returns them as they are."""
    loose = order(
        account_id=None,
        currency="euro",
        lines=[
            CrmOrderLine(line_no=1, sku="X", quantity=D("-3"), unit_price=D("1"), currency="USD"),
            CrmOrderLine(line_no=1, sku="X", quantity=D("0"), unit_price=D("1"), currency="EUR"),
        ],
    )
    await crm.create_order(loose)
    assert await crm.get_order("ORD-1") == loose


async def test_get_order_unknown_is_record_not_found(crm: Any) -> None:
    with pytest.raises(RecordNotFound) as caught:
        await crm.get_order("ORD-404")
    assert_not_found(caught.value, "order", "ORD-404")


# --- accounts and users ----------------------------------------------------------------------


async def test_accounts_and_the_erp_cross_reference(crm: Any) -> None:
    account = CrmAccount(
        account_id="ACC-1",
        name="شرکت فولاد سپاهان",
        tax_id="10260011223",
        email="buy@sepahan.example",
        segment="industrial",
    )
    await crm.upsert_account(account)
    assert await crm.get_account("ACC-1") == account

    await crm.link_account("ACC-1", "C-000042")
    await crm.link_account("ACC-1", "C-000042")

    assert await crm.get_account("ACC-1") == account.model_copy(
        update={"erp_customer_id": "C-000042"}
    )
    with pytest.raises(RecordNotFound) as unknown:
        await crm.get_account("ACC-404")
    assert_not_found(unknown.value, "account", "ACC-404")
    with pytest.raises(RecordNotFound):
        await crm.link_account("ACC-404", "C-000042")


async def test_list_users_gives_the_active_holders_of_a_role(crm: Any) -> None:
    await crm.upsert_user(CrmUser(user_id="reza", name="Reza", roles=["approver", "sales"]))
    await crm.upsert_user(CrmUser(user_id="maryam", name="Maryam", roles=["approver"]))
    await crm.upsert_user(CrmUser(user_id="sara", name="Sara", roles=["sales"]))
    await crm.upsert_user(CrmUser(user_id="hamid", name="Hamid", roles=["approver"], active=False))

    approvers = await crm.list_users("approver")

    assert [u.user_id for u in approvers] == ["maryam", "reza"]
    assert sorted(approvers[1].roles) == ["approver", "sales"]
    assert [u.user_id for u in await crm.list_users("sales")] == ["reza", "sara"]
    assert await crm.list_users("finance") == []

    await crm.upsert_user(CrmUser(user_id="sara", name="Sara", roles=["sales", "approver"]))
    assert [u.user_id for u in await crm.list_users("approver")] == ["maryam", "reza", "sara"]


# --- status updates, notes, tasks ------------------------------------------------------------


async def test_update_order_status_sets_the_given_fields(crm: Any) -> None:
    await crm.create_order(order())

    await crm.update_order_status(
        update(
            "k1",
            CrmOrderStatus.CONFIRMED,
            erp_order_number="SO-000001",
            promised_date=date(2025, 3, 12),
        )
    )
    await crm.update_order_status(
        update("k2", CrmOrderStatus.INVOICED, invoice_number="INV-000007", reason="shipped")
    )

    read = await crm.get_order("ORD-1")
    assert read.status is CrmOrderStatus.INVOICED
    # Fields left None by an update keep their earlier values.
    assert (read.erp_order_number, read.invoice_number, read.promised_date) == (
        "SO-000001",
        "INV-000007",
        date(2025, 3, 12),
    )
    assert read.lines == order().lines
    history = await crm.status_history("ORD-1")
    assert [(h.key, h.status, h.reason) for h in history] == [
        ("k1", CrmOrderStatus.CONFIRMED, None),
        ("k2", CrmOrderStatus.INVOICED, "shipped"),
    ]


async def test_update_order_status_applies_each_key_once(crm: Any) -> None:
    await crm.create_order(order())
    await crm.update_order_status(update("k1", CrmOrderStatus.CONFIRMED))
    await crm.update_order_status(update("k2", CrmOrderStatus.SHIPPED))

    # A late retry of k1 must not put the order back to "confirmed", nor add history.
    await crm.update_order_status(update("k1", CrmOrderStatus.CONFIRMED))
    await crm.update_order_status(
        update("k1", CrmOrderStatus.REJECTED, erp_order_number="SO-999999")
    )

    read = await crm.get_order("ORD-1")
    assert (read.status, read.erp_order_number) == (CrmOrderStatus.SHIPPED, None)
    assert [h.key for h in await crm.status_history("ORD-1")] == ["k1", "k2"]


async def test_update_status_of_an_unknown_order_is_record_not_found(crm: Any) -> None:
    with pytest.raises(RecordNotFound) as caught:
        await crm.update_order_status(
            CrmStatusUpdate(key="k1", order_id="ORD-404", status=CrmOrderStatus.CONFIRMED)
        )
    assert_not_found(caught.value, "order", "ORD-404")


async def test_update_order_statuses_applies_them_in_turn_each_key_once(crm: Any) -> None:
    await crm.create_order(order())
    await crm.update_order_status(update("k1", CrmOrderStatus.IN_PROGRESS))

    await crm.update_order_statuses(
        [
            update("k1", CrmOrderStatus.REJECTED),  # applied already: nothing
            update("k2", CrmOrderStatus.CONFIRMED, erp_order_number="SO-000001"),
            update("k3", CrmOrderStatus.SHIPPED),
            update("k4", CrmOrderStatus.INVOICED, invoice_number="INV-000002"),
            update("k2", CrmOrderStatus.CANCELLED),  # twice in the batch: the first counts
        ]
    )

    read = await crm.get_order("ORD-1")
    assert read.status is CrmOrderStatus.INVOICED
    assert (read.erp_order_number, read.invoice_number) == ("SO-000001", "INV-000002")
    history = await crm.status_history("ORD-1")
    assert [(h.key, h.status) for h in history] == [
        ("k1", CrmOrderStatus.IN_PROGRESS),
        ("k2", CrmOrderStatus.CONFIRMED),
        ("k3", CrmOrderStatus.SHIPPED),
        ("k4", CrmOrderStatus.INVOICED),
    ]
    # The same batch again (a retried activity) changes nothing.
    await crm.update_order_statuses([update("k3", CrmOrderStatus.SHIPPED)])
    assert len(await crm.status_history("ORD-1")) == 4
    assert (await crm.get_order("ORD-1")).status is CrmOrderStatus.INVOICED
    await crm.update_order_statuses([])


async def test_update_order_statuses_of_an_unknown_order_is_record_not_found(crm: Any) -> None:
    with pytest.raises(RecordNotFound) as caught:
        await crm.update_order_statuses(
            [CrmStatusUpdate(key="k1", order_id="ORD-404", status=CrmOrderStatus.CONFIRMED)]
        )
    assert_not_found(caught.value, "order", "ORD-404")
    assert await crm.status_history("ORD-404") == []


async def test_add_note_once_per_key(crm: Any) -> None:
    await crm.create_order(order())
    note = CrmNote(key="ORD-1/credit", order_id="ORD-1", subject="Credit checked", body="ok")

    first = await crm.add_note(note)
    again = await crm.add_note(note)
    other = await crm.add_note(CrmNote(key="ORD-1/stock", order_id="ORD-1", subject="Reserved"))

    assert re.fullmatch(r"N-\d{6}", first)
    assert again == first and other != first
    assert [n.key for n in await crm.notes("ORD-1")] == ["ORD-1/credit", "ORD-1/stock"]
    assert (await crm.notes("ORD-1"))[0] == note
    with pytest.raises(RecordNotFound):
        await crm.add_note(CrmNote(key="x", order_id="ORD-404", subject="s"))


async def test_create_task_once_per_key(crm: Any) -> None:
    await crm.create_order(order())
    task = CrmTask(
        key="ORD-1/approve",
        order_id="ORD-1",
        subject="Approve order ORD-1",
        body="total over 10000 EUR",
        assignee="reza.karimi",
        due=date(2025, 3, 13),
    )

    first = await crm.create_task(task)
    again = await crm.create_task(task)

    assert re.fullmatch(r"T-\d{6}", first)
    assert again == first
    assert await crm.tasks("ORD-1") == [task]
    assert await crm.tasks("ORD-404") == []
    with pytest.raises(RecordNotFound):
        await crm.create_task(task.model_copy(update={"key": "y", "order_id": "ORD-404"}))


async def test_complete_task_closes_once_and_keeps_the_first_outcome(crm: Any) -> None:
    await crm.create_order(order())
    for key in ("ORD-1/approve/a", "ORD-1/approve/b"):
        await crm.create_task(
            CrmTask(key=key, order_id="ORD-1", subject="Approve", assignee="reza.karimi")
        )

    assert await crm.complete_task("ORD-1/approve/a", "approved") is True
    assert await crm.complete_task("ORD-1/approve/a", "cancelled") is False

    assert await crm.task_statuses("ORD-1") == {
        "ORD-1/approve/a": "approved",
        "ORD-1/approve/b": "open",
    }
    with pytest.raises(RecordNotFound) as unknown:
        await crm.complete_task("ORD-1/no-such-task", "approved")
    assert (unknown.value.kind, unknown.value.key) == ("task", "ORD-1/no-such-task")
    for outcome in ("", "open", "x" * 33):
        with pytest.raises(InvalidRecord):
            await crm.complete_task("ORD-1/approve/b", outcome)
    assert (await crm.task_statuses("ORD-1"))["ORD-1/approve/b"] == "open"


# --- sandbox only ----------------------------------------------------------------------------


async def _corrupt(crm: SandboxCRM, statement: str) -> None:
    """Change the CRM's database behind its back, as another program writing to it would."""
    engine = create_async_engine(crm._db.engine.url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def test_sandbox_reports_an_unreadable_order_as_invalid_record(
    sandbox_crm: SandboxCRM,
) -> None:
    await sandbox_crm.create_order(order())
    await _corrupt(sandbox_crm, "UPDATE orders SET status = 'lost_in_space'")

    with pytest.raises(InvalidRecord) as caught:
        await sandbox_crm.get_order("ORD-1")

    assert [p.split(":")[0] for p in caught.value.problems] == ["status"]
    assert caught.value.system == "crm"


async def test_sandbox_reports_an_unreadable_quantity_as_invalid_record(
    make_db_url: DbFactory,
) -> None:
    crm = SandboxCRM(await make_db_url("sqlite"))  # only SQLite lets a number column hold text
    try:
        await crm.create_schema()
        await crm.create_order(order())
        await _corrupt(crm, "UPDATE order_lines SET quantity = 'two' WHERE line_no = 20")
        with pytest.raises(InvalidRecord) as caught:
            await crm.get_order("ORD-1")
    finally:
        await crm.close()
    assert [p.split(":")[0] for p in caught.value.problems] == ["lines.1.quantity"]


async def test_sandbox_applies_concurrent_duplicates_once(sandbox_crm: SandboxCRM) -> None:
    """Retried activities may race each other: the unique keys settle who wins."""
    await sandbox_crm.create_order(order())
    note = CrmNote(key="n1", order_id="ORD-1", subject="s")

    note_ids = await asyncio.gather(*(sandbox_crm.add_note(note) for _ in range(10)))
    await asyncio.gather(
        *(
            sandbox_crm.update_order_status(update("k1", CrmOrderStatus.CONFIRMED))
            for _ in range(10)
        )
    )
    batch = [update("k2", CrmOrderStatus.SHIPPED), update("k3", CrmOrderStatus.INVOICED)]
    await asyncio.gather(*(sandbox_crm.update_order_statuses(batch) for _ in range(10)))
    created = await asyncio.gather(*(sandbox_crm.create_order(order("ORD-2")) for _ in range(5)))

    assert len(set(note_ids)) == 1
    assert len(await sandbox_crm.notes("ORD-1")) == 1
    assert [h.key for h in await sandbox_crm.status_history("ORD-1")] == ["k1", "k2", "k3"]
    assert sorted(created) == [False, False, False, False, True]
    assert await sandbox_crm.get_order("ORD-2") == order("ORD-2")


async def test_sandbox_applies_a_batch_whole_or_not_at_all(sandbox_crm: SandboxCRM) -> None:
    await sandbox_crm.create_order(order())
    batch = [
        update("k1", CrmOrderStatus.CONFIRMED),
        CrmStatusUpdate(key="k2", order_id="ORD-404", status=CrmOrderStatus.CONFIRMED),
    ]
    with pytest.raises(RecordNotFound):
        await sandbox_crm.update_order_statuses(batch)
    assert await sandbox_crm.status_history("ORD-1") == []
    assert (await sandbox_crm.get_order("ORD-1")).status is order().status
