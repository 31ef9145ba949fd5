"""The return activities against the sandbox ERP (SQLite) and the fakes.

Every path ends with the inventory numbers the issue asks for: each warehouse's on-hand stock is
its earlier level plus exactly what was restocked, and the credit notes add up to the accepted
value, also when an activity's reply was lost after its ERP write committed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.returns import (
    AuthorizeReturnInput,
    CancelCreditNoteInput,
    CancelReturnAuthorizationInput,
    CloseCaseInput,
    CreditNoteInput,
    CrmReturnActivities,
    ErpReturnActivities,
    FetchCaseInput,
    GetReturnableInput,
    GetReturnAuthorizationInput,
    RecordReceiptInput,
    RefundInput,
    RestockInput,
    ReverseRestockInput,
    UpdateCaseInput,
    WriteOffInput,
)
from adapters.delegating import DelegatingERP
from adapters.ports import ERPPort
from adapters.sandbox import SandboxERP
from domain.errors import RecordNotFound, SystemUnavailable
from domain.return_rules import (
    InspectionLine,
    InspectionResult,
    ReturnPolicy,
    accepted_quantities,
    credit_amounts,
    restock_lines,
    scrap_lines,
)
from domain.returns import (
    CreditNoteStatus,
    CrmCase,
    CrmCaseClosure,
    CrmCaseLine,
    CrmCaseOutcome,
    CrmCaseStatus,
    CrmCaseUpdate,
    ReceiptLine,
    RestockStatus,
    ReturnAuthorizationStatus,
    ReturnLineRequest,
)
from tests.conftest import DbFactory
from tests.contract.conftest import SKU_A, SKU_B, stock_up
from tests.contract.erp_orders import invoiced_order
from tests.contract.test_crm_contract import order
from tests.fakes import InMemoryCRM, InMemoryERP

D = Decimal
CASE = "CASE-1"


class LostReplies(DelegatingERP):
    """An ERP whose first reply to each return write is lost after the write committed."""

    WRITES = (
        "create_return_authorization",
        "record_return_receipt",
        "restock_return",
        "write_off_return",
        "create_credit_note",
        "reverse_restock",
        "cancel_credit_note",
    )

    def __init__(self, inner: ERPPort) -> None:
        super().__init__(inner)
        self.lost: list[str] = []

    def __getattribute__(self, name: str) -> Any:
        attribute = super().__getattribute__(name)
        if name not in LostReplies.WRITES:
            return attribute

        async def once(*args: Any) -> Any:
            result = await attribute(*args)
            if name not in self.lost:
                self.lost.append(name)
                raise SystemUnavailable(f"reply of {name} lost", system="erp")
            return result

        return once


@pytest.fixture(params=["sqlite", "memory"])
async def erp(request: pytest.FixtureRequest, make_db_url: DbFactory) -> AsyncIterator[Any]:
    impl: Any = (
        InMemoryERP() if request.param == "memory" else SandboxERP(await make_db_url("sqlite"))
    )
    await impl.create_schema()
    await stock_up(impl)
    yield impl
    await impl.close()


async def run(activity: Any, input: Any, *, retries: int = 3) -> Any:
    """Run an activity as Temporal would: again after a retryable failure."""
    env = ActivityEnvironment()
    for attempt in range(retries):
        try:
            return await env.run(activity, input)
        except ApplicationError as err:
            if err.non_retryable or attempt == retries - 1:
                raise
    raise AssertionError("unreachable")


async def authorized(acts: ErpReturnActivities, so: str) -> str:
    result = await run(
        acts.authorize_return,
        AuthorizeReturnInput(
            case_id=CASE,
            sales_order_number=so,
            lines=[
                ReturnLineRequest(line_no=1, sku=SKU_A, quantity=D(3)),
                ReturnLineRequest(line_no=2, sku=SKU_B, quantity=D(2)),
            ],
            reason="wrong items delivered",
        ),
    )
    return str(result.authorization.number)


@pytest.mark.parametrize("lossy", [False, True], ids=["replies-arrive", "replies-lost-once"])
async def test_restock_scrap_and_credit_leave_exact_stock_and_credit(erp: Any, lossy: bool) -> None:
    so = (await invoiced_order(erp)).sales_order_number
    port = LostReplies(erp) if lossy else erp
    acts = ErpReturnActivities(port)
    before = await erp.stock_snapshot()

    rma = await authorized(acts, so)
    received = await run(
        acts.record_receipt,
        RecordReceiptInput(
            case_id=CASE,
            rma_number=rma,
            lines=[ReceiptLine(line_no=1, quantity=D(3)), ReceiptLine(line_no=2, quantity=D(1))],
        ),
    )
    assert received.authorization.status is ReturnAuthorizationStatus.RECEIVED
    inspection = InspectionResult(
        lines=[
            InspectionLine(
                line_no=1,
                restock_quantity=D(2),
                warehouse="W2",
                scrap_quantity=D(1),
                scrap_reason="cracked",
            ),
            InspectionLine(line_no=2, restock_quantity=D(1), warehouse="W1"),
        ]
    )
    returnable = (await run(acts.get_returnable, GetReturnableInput(sales_order_number=so))).order
    await run(
        acts.restock,
        RestockInput(case_id=CASE, rma_number=rma, lines=restock_lines(inspection)),
    )
    await run(
        acts.write_off, WriteOffInput(case_id=CASE, rma_number=rma, lines=scrap_lines(inspection))
    )
    accepted = accepted_quantities(inspection, ReturnPolicy())
    note = (
        await run(
            acts.create_credit_note,
            CreditNoteInput(case_id=CASE, rma_number=rma, lines=accepted, credit_date=date.today()),
        )
    ).credit_note

    expected = dict(before)
    for sku, warehouse, quantity in ((SKU_A, "W2", 2), (SKU_B, "W1", 1)):
        on_hand, reserved = before[(sku, warehouse)]
        expected[(sku, warehouse)] = (on_hand + quantity, reserved)
    assert await erp.stock_snapshot() == expected
    value = credit_amounts(returnable, accepted)
    assert (note.net, note.tax, note.total) == (value.net, value.tax, value.total)
    assert (value.net, value.total) == (D("53.97") + D("5.00"), D("64.28"))
    assert sum((n.total for n in await erp.credit_notes(so)), D(0)) == value.total
    counts = await erp.count_return_documents(f"return-{CASE}/")
    assert counts == {
        "return_authorizations": 1,
        "restocks": 1,
        "write_offs": 1,
        "credit_notes": 1,
        "refunds": 0,
    }
    if lossy:
        assert port.lost == [
            "create_return_authorization",
            "record_return_receipt",
            "restock_return",
            "write_off_return",
            "create_credit_note",
        ]

    # Compensation, also with lost replies: stock back to exactly where it was, no credit left.
    reversed_ = await run(acts.reverse_restock, ReverseRestockInput(case_id=CASE))
    cancelled = await run(acts.cancel_credit_note, CancelCreditNoteInput(case_id=CASE))
    assert reversed_.restock.status is RestockStatus.REVERSED
    assert cancelled.credit_note.status is CreditNoteStatus.CANCELLED
    assert await erp.stock_snapshot() == before
    notes = await erp.credit_notes(so)
    assert sum((n.total for n in notes if n.status is not CreditNoteStatus.CANCELLED), D(0)) == 0


async def test_expired_return_cancels_the_authorization_and_changes_no_stock(erp: Any) -> None:
    so = (await invoiced_order(erp)).sales_order_number
    acts = ErpReturnActivities(erp)
    before = await erp.stock_snapshot()
    await authorized(acts, so)

    polled = await run(acts.get_return_authorization, GetReturnAuthorizationInput(case_id=CASE))
    cancelled = await run(
        acts.cancel_return_authorization, CancelReturnAuthorizationInput(case_id=CASE)
    )

    assert polled.authorization.status is ReturnAuthorizationStatus.AUTHORIZED
    assert cancelled.authorization.status is ReturnAuthorizationStatus.CANCELLED
    assert await erp.stock_snapshot() == before
    assert all(line.returnable == line.quantity for line in (await erp.get_returnable(so)).lines)
    nothing = await run(acts.reverse_restock, ReverseRestockInput(case_id="CASE-NONE"))
    assert nothing.restock is None


async def test_permanent_errors_are_non_retryable_and_typed(erp: Any) -> None:
    so = (await invoiced_order(erp)).sales_order_number
    acts = ErpReturnActivities(erp)
    await authorized(acts, so)

    with pytest.raises(ApplicationError) as beyond:
        await run(
            acts.authorize_return,
            AuthorizeReturnInput(
                case_id="CASE-2",
                sales_order_number=so,
                lines=[ReturnLineRequest(line_no=1, sku=SKU_A, quantity=D(1))],
            ),
        )
    assert (beyond.value.type, beyond.value.non_retryable) == ("InvalidRecord", True)
    with pytest.raises(ApplicationError) as unpaid:
        await run(acts.refund, RefundInput(case_id=CASE, credit_note_number="CN-404404"))
    assert unpaid.value.type == "RecordNotFound"


async def test_crm_case_activities() -> None:
    crm = InMemoryCRM()
    await crm.create_order(order())
    await crm.create_case(
        CrmCase(
            case_id=CASE,
            order_id="ORD-1",
            owner="ali.rezaei",
            requested_on=date(2025, 3, 20),
            lines=[CrmCaseLine(line_no=10, sku="SKU-B", quantity=D(1))],
        )
    )
    acts = CrmReturnActivities(crm)

    fetched = await run(acts.fetch_case, FetchCaseInput(case_id=CASE))
    assert (fetched.case.case_id, fetched.order.order_id, fetched.order_problem) == (
        CASE,
        "ORD-1",
        None,
    )
    crm.fail_next["get_order"] = [
        RecordNotFound("CRM order 'ORD-1' not found", kind="order", key="ORD-1", system="crm")
    ]
    missing = await run(acts.fetch_case, FetchCaseInput(case_id=CASE))
    assert missing.order is None and "ORD-1" in (missing.order_problem or "")

    update = CrmCaseUpdate(
        key="return-CASE-1/authorized",
        case_id=CASE,
        status=CrmCaseStatus.AUTHORIZED,
        rma_number="RMA-000001",
        instructions="Ship to Tehran central",
    )
    await run(acts.update_case, UpdateCaseInput(update=update))
    await run(
        acts.close_case,
        CloseCaseInput(
            closure=CrmCaseClosure(
                key="return-CASE-1/resolved",
                case_id=CASE,
                outcome=CrmCaseOutcome.RESOLVED,
                answer="Credited",
                credit_note_number="CN-000001",
            )
        ),
    )
    read = await crm.get_case(CASE)
    assert (read.status, read.rma_number, read.credit_note_number) == (
        CrmCaseStatus.RESOLVED,
        "RMA-000001",
        "CN-000001",
    )
    with pytest.raises(ApplicationError) as closed:
        await run(
            acts.update_case,
            UpdateCaseInput(update=update.model_copy(update={"key": "late"})),
        )
    assert (closed.value.type, closed.value.non_retryable) == ("InvalidState", True)


def test_methods_list_every_return_activity() -> None:
    erp_names = sorted(m.__name__ for m in ErpReturnActivities(InMemoryERP()).methods())
    crm_names = sorted(m.__name__ for m in CrmReturnActivities(InMemoryCRM()).methods())

    assert crm_names == ["close_case", "fetch_case", "update_case"]
    assert erp_names == [
        "authorize_return",
        "cancel_credit_note",
        "cancel_return_authorization",
        "create_credit_note",
        "get_return_authorization",
        "get_returnable",
        "record_receipt",
        "refund",
        "restock",
        "reverse_restock",
        "write_off",
    ]
