"""What every CRM adapter must do for return cases, run against each implementation."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.sandbox import SandboxCRM
from domain.errors import InvalidRecord, InvalidState, PermanentError, RecordNotFound
from domain.models import CrmNote, CrmTask
from domain.returns import (
    CrmCase,
    CrmCaseClosure,
    CrmCaseLine,
    CrmCaseOutcome,
    CrmCaseStatus,
    CrmCaseUpdate,
)
from tests.contract.test_crm_contract import order

D = Decimal


def case(case_id: str = "CASE-1", order_id: str = "ORD-1", **changes: Any) -> CrmCase:
    fields: dict[str, Any] = {
        "case_id": case_id,
        "order_id": order_id,
        "account_id": "ACC-1",
        "owner": "ali.rezaei",
        "subject": "مرجوعی — two PLCs arrived damaged",
        "description": "Packaging crushed",
        "requested_on": date(2025, 3, 20),
        "lines": [
            CrmCaseLine(line_no=20, sku="SKU-A", quantity=D("1"), reason="damaged"),
            CrmCaseLine(line_no=10, sku="SKU-B", quantity=D("0.5")),
        ],
    }
    fields.update(changes)
    return CrmCase(**fields)


def update(key: str, status: CrmCaseStatus, **fields: Any) -> CrmCaseUpdate:
    return CrmCaseUpdate(key=key, case_id="CASE-1", status=status, **fields)


def closure(key: str, outcome: CrmCaseOutcome, **fields: Any) -> CrmCaseClosure:
    return CrmCaseClosure(
        key=key, case_id="CASE-1", outcome=outcome, answer=fields.pop("answer", "done"), **fields
    )


@pytest.fixture
async def crm_with_case(crm: Any) -> Any:
    await crm.create_order(order())
    assert await crm.create_case(case()) is True
    return crm


async def test_create_case_then_get_case_returns_it_as_entered(crm_with_case: Any) -> None:
    read = await crm_with_case.get_case("CASE-1")

    assert read == case()
    assert [line.line_no for line in read.lines] == [20, 10]  # the order of entry is kept
    assert (read.status, read.outcome, read.rma_number) == (CrmCaseStatus.NEW, None, None)
    # Entering it again changes nothing.
    assert await crm_with_case.create_case(case(owner="someone.else", lines=[])) is False
    assert await crm_with_case.get_case("CASE-1") == case()


async def test_unknown_cases_and_orders_are_record_not_found(crm_with_case: Any) -> None:
    crm = crm_with_case
    with pytest.raises(RecordNotFound) as unknown:
        await crm.get_case("CASE-404")
    with pytest.raises(RecordNotFound) as no_order:
        await crm.create_case(case("CASE-2", order_id="ORD-404"))
    with pytest.raises(RecordNotFound) as update_unknown:
        await crm.update_case(
            CrmCaseUpdate(key="k", case_id="CASE-404", status=CrmCaseStatus.IN_REVIEW)
        )
    with pytest.raises(RecordNotFound):
        await crm.close_case(
            CrmCaseClosure(
                key="k", case_id="CASE-404", outcome=CrmCaseOutcome.INELIGIBLE, answer="no"
            )
        )

    assert (unknown.value.kind, unknown.value.key, unknown.value.system) == (
        "case",
        "CASE-404",
        "crm",
    )
    assert isinstance(unknown.value, PermanentError)
    assert (no_order.value.kind, no_order.value.key) == ("order", "ORD-404")
    assert update_unknown.value.kind == "case"


async def test_update_case_sets_the_given_fields_once_per_key(crm_with_case: Any) -> None:
    crm = crm_with_case
    await crm.update_case(update("k1", CrmCaseStatus.IN_REVIEW, answer="We are checking"))
    await crm.update_case(
        update(
            "k2",
            CrmCaseStatus.AUTHORIZED,
            rma_number="RMA-000007",
            instructions="Send to Tehran central, RMA on the parcel",
        )
    )
    # A late retry of k1 changes nothing, whatever it says.
    await crm.update_case(update("k1", CrmCaseStatus.NEEDS_ATTENTION, answer="other"))

    read = await crm.get_case("CASE-1")
    assert read.status is CrmCaseStatus.AUTHORIZED
    assert (read.answer, read.rma_number, read.instructions) == (
        "We are checking",  # left None by k2: kept
        "RMA-000007",
        "Send to Tehran central, RMA on the parcel",
    )
    assert read.lines == case().lines
    history = await crm.case_history("CASE-1")
    assert [(h.key, h.status) for h in history] == [
        ("k1", CrmCaseStatus.IN_REVIEW),
        ("k2", CrmCaseStatus.AUTHORIZED),
    ]


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (CrmCaseOutcome.RESOLVED, CrmCaseStatus.RESOLVED),
        (CrmCaseOutcome.INELIGIBLE, CrmCaseStatus.CLOSED),
        (CrmCaseOutcome.REJECTED, CrmCaseStatus.CLOSED),
        (CrmCaseOutcome.NOT_RECEIVED, CrmCaseStatus.CLOSED),
    ],
)
async def test_close_case_ends_it_with_its_outcome(
    crm_with_case: Any, outcome: CrmCaseOutcome, status: CrmCaseStatus
) -> None:
    crm = crm_with_case
    await crm.update_case(update("k1", CrmCaseStatus.AUTHORIZED, rma_number="RMA-000001"))
    credit = "CN-000003" if outcome is CrmCaseOutcome.RESOLVED else None
    ended = closure("k2", outcome, answer="Outcome explained", credit_note_number=credit)

    await crm.close_case(ended)
    await crm.close_case(ended)  # a retry of the same closure changes nothing

    read = await crm.get_case("CASE-1")
    assert (read.status, read.outcome, read.answer) == (status, outcome, "Outcome explained")
    assert (read.rma_number, read.credit_note_number) == ("RMA-000001", credit)
    assert [h.key for h in await crm.case_history("CASE-1")] == ["k1", "k2"]
    assert (await crm.case_history("CASE-1"))[1] == ended


async def test_a_closed_case_no_longer_changes(crm_with_case: Any) -> None:
    crm = crm_with_case
    await crm.close_case(closure("k1", CrmCaseOutcome.INELIGIBLE, answer="window ended"))
    before = await crm.get_case("CASE-1")

    with pytest.raises(InvalidState) as updated:
        await crm.update_case(update("k2", CrmCaseStatus.AUTHORIZED))
    with pytest.raises(InvalidState) as closed_again:
        await crm.close_case(closure("k3", CrmCaseOutcome.RESOLVED))

    assert (updated.value.kind, updated.value.key, updated.value.state) == (
        "case",
        "CASE-1",
        "closed",
    )
    assert closed_again.value.state == "closed"
    assert await crm.get_case("CASE-1") == before
    assert [h.key for h in await crm.case_history("CASE-1")] == ["k1"]


def test_an_update_cannot_resolve_or_close_a_case() -> None:
    for status in (CrmCaseStatus.RESOLVED, CrmCaseStatus.CLOSED):
        with pytest.raises(ValueError, match="CrmCaseClosure"):
            update("k", status)


async def test_notes_and_tasks_on_a_case(crm_with_case: Any) -> None:
    crm = crm_with_case
    await crm.create_order(order("ORD-2"))
    await crm.create_case(case("CASE-2", order_id="ORD-2"))
    note = CrmNote(
        key="return-CASE-1/note", order_id="ORD-1", subject="RMA issued", case_id="CASE-1"
    )
    task = CrmTask(
        key="return-CASE-1/task",
        order_id="ORD-1",
        subject="Return needs attention",
        assignee="ali.rezaei",
        case_id="CASE-1",
    )

    note_id = await crm.add_note(note)
    assert await crm.add_note(note) == note_id
    task_id = await crm.create_task(task)
    assert await crm.create_task(task) == task_id

    assert await crm.notes("ORD-1") == [note]
    assert await crm.tasks("ORD-1") == [task]
    # A case of another order, or no case at all, is not the order's case.
    for case_id in ("CASE-2", "CASE-404"):
        with pytest.raises(RecordNotFound) as wrong_note:
            await crm.add_note(note.model_copy(update={"key": f"n-{case_id}", "case_id": case_id}))
        with pytest.raises(RecordNotFound) as wrong_task:
            await crm.create_task(
                task.model_copy(update={"key": f"t-{case_id}", "case_id": case_id})
            )
        assert (wrong_note.value.kind, wrong_note.value.key) == ("case", case_id)
        assert wrong_task.value.kind == "case"
    assert [n.key for n in await crm.notes("ORD-1")] == ["return-CASE-1/note"]


# --- sandbox only ----------------------------------------------------------------------------


async def test_sandbox_applies_concurrent_updates_of_one_key_once(
    sandbox_crm: SandboxCRM,
) -> None:
    await sandbox_crm.create_order(order())
    await sandbox_crm.create_case(case())
    same = update("k1", CrmCaseStatus.AUTHORIZED, rma_number="RMA-000001")

    await asyncio.gather(*(sandbox_crm.update_case(same) for _ in range(5)))

    assert [h.key for h in await sandbox_crm.case_history("CASE-1")] == ["k1"]


async def test_sandbox_reports_an_unreadable_case_as_invalid_record(
    sandbox_crm: SandboxCRM,
) -> None:
    await sandbox_crm.create_order(order())
    await sandbox_crm.create_case(case())
    engine = create_async_engine(sandbox_crm._db.engine.url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE cases SET status = 'lost_in_space'"))
    finally:
        await engine.dispose()

    with pytest.raises(InvalidRecord) as caught:
        await sandbox_crm.get_case("CASE-1")
    assert [p.split(":")[0] for p in caught.value.problems] == ["status"]


async def test_sandbox_adds_the_case_columns_to_a_database_of_before_cases(
    sandbox_crm: SandboxCRM,
) -> None:
    engine = create_async_engine(sandbox_crm._db.engine.url)
    try:
        async with engine.begin() as conn:
            for table in ("notes", "tasks"):
                await conn.execute(text(f"DROP INDEX ix_{table}_case_id"))
                await conn.execute(text(f"ALTER TABLE {table} DROP COLUMN case_id"))
    finally:
        await engine.dispose()
    await sandbox_crm.create_order(order())
    await sandbox_crm.create_case(case())
    note = CrmNote(key="n1", order_id="ORD-1", subject="RMA issued", case_id="CASE-1")

    await asyncio.gather(sandbox_crm.create_schema(), sandbox_crm.create_schema())
    await sandbox_crm.create_schema()

    await sandbox_crm.add_note(note)
    assert await sandbox_crm.notes("ORD-1") == [note]
