"""Return-to-restock on the time-skipping server, with the sandbox CRM and ERP on SQLite.

Every path asserts the inventory numbers: each warehouse's on-hand stock ends at its earlier level
plus exactly what was restocked, and the credit notes add up to the accepted value.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from domain.errors import InvalidRecord
from domain.return_rules import InspectionLine, InspectionResult
from domain.returns import CrmCaseOutcome, CrmCaseStatus, ReceiptLine
from tests.workflows.returns_world import ReturnHandle, Returns, returns_world
from workflows.approval_chain.models import DecideInput as ChainDecision
from workflows.approval_chain.workflow import ApprovalChainWorkflow
from workflows.return_to_restock.models import (
    GoodsReceivedNotice,
    InspectInput,
    ReturnStatus,
)
from workflows.return_to_restock.workflow import ReturnToRestockWorkflow

D = Decimal


@pytest.fixture
async def ret(env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Returns]:
    async for world in returns_world(env, tmp_path):
        yield world


def inspection(*lines: InspectionLine) -> InspectInput:
    return InspectInput(inspection=InspectionResult(lines=list(lines), inspector="wh1"))


async def _received(ret: Returns, handle: ReturnHandle, lines: list[ReceiptLine]) -> None:
    await ret.wait_for(handle, ReturnStatus.AWAITING_GOODS)
    await handle.signal(ReturnToRestockWorkflow.goods_received, GoodsReceivedNotice(lines=lines))
    await ret.wait_for(handle, ReturnStatus.AWAITING_INSPECTION)


async def _case_closed(ret: Returns, case_id: str) -> tuple[CrmCaseStatus, CrmCaseOutcome | None]:
    case = await ret.crm.get_case(case_id)
    return case.status, case.outcome


async def test_restocked_and_credited_pro_rata(ret: Returns) -> None:
    before = await ret.on_hand()
    handle = await ret.start(await ret.case("K1", [(1, "P1", 2)]))
    state = await ret.wait_for(handle, ReturnStatus.AWAITING_GOODS)
    assert state.rma_number is not None
    case = await ret.crm.get_case("K1")
    assert case.status is CrmCaseStatus.AUTHORIZED and case.rma_number == state.rma_number
    assert case.instructions is not None and state.rma_number in case.instructions

    await handle.signal(
        ReturnToRestockWorkflow.goods_received,
        GoodsReceivedNotice(lines=[ReceiptLine(line_no=1, quantity=D(2))]),
    )
    await ret.wait_for(handle, ReturnStatus.AWAITING_INSPECTION)
    accepted = await handle.execute_update(
        ReturnToRestockWorkflow.inspect,
        inspection(InspectionLine(line_no=1, restock_quantity=D(2), warehouse="IFN")),
    )
    assert accepted.restock_quantity == D(2) and accepted.scrap_quantity == 0
    result = await handle.result()

    assert result.status is ReturnStatus.RESOLVED
    after = await ret.on_hand()
    assert after[("P1", "IFN")] == before[("P1", "IFN")] + 2
    assert {k: v for k, v in after.items() if k != ("P1", "IFN")} == {
        k: v for k, v in before.items() if k != ("P1", "IFN")
    }
    # 2 x (100 less 10 %) = 180 net, 9 % tax = 16.20: as the invoice priced it.
    notes = await ret.erp.credit_notes(ret.so_number)
    assert [(n.net, n.tax, n.total) for n in notes] == [(D("180.00"), D("16.20"), D("196.20"))]
    assert result.credit_note_number == notes[0].number and result.credited_total == D("196.20")
    assert result.refund_number is None  # the invoice was not paid: the credit stays open
    case = await ret.crm.get_case("K1")
    assert (case.status, case.outcome) == (CrmCaseStatus.RESOLVED, CrmCaseOutcome.RESOLVED)
    assert case.credit_note_number == notes[0].number
    subjects = [n.subject for n in await ret.crm.notes("R-1")]
    assert "Customer notified of the return's outcome" in subjects


async def test_partly_scrapped_restocks_only_the_good_part(ret: Returns) -> None:
    before = await ret.on_hand()
    handle = await ret.start(await ret.case("K2", [(1, "P1", 3)]))
    await _received(ret, handle, [ReceiptLine(line_no=1, quantity=D(3))])
    await handle.execute_update(
        ReturnToRestockWorkflow.inspect,
        inspection(
            InspectionLine(
                line_no=1,
                restock_quantity=D(1),
                warehouse="THR",
                scrap_quantity=D(2),
                scrap_reason="housing cracked",
            )
        ),
    )
    result = await handle.result()

    assert result.status is ReturnStatus.RESOLVED
    after = await ret.on_hand()
    assert after[("P1", "THR")] == before[("P1", "THR")] + 1
    assert after[("P1", "IFN")] == before[("P1", "IFN")]
    docs = await ret.erp.count_return_documents("return-K2/")
    assert docs["write_offs"] == 1 and docs["restocks"] == 1
    # The policy credits scrap too (it arrived; the defect is the goods'): 3 x 90 + 9 %.
    notes = await ret.erp.credit_notes(ret.so_number)
    assert sum(n.total for n in notes) == D("294.30")


async def test_goods_never_arrive_cancels_the_authorization(ret: Returns) -> None:
    before = await ret.on_hand()
    handle = await ret.start(await ret.case("K3", [(2, "P2", 4)]))
    await ret.wait_for(handle, ReturnStatus.AWAITING_GOODS)

    await ret.env.sleep(timedelta(days=13))
    assert (await ret.state(handle)).status is ReturnStatus.AWAITING_GOODS
    await ret.env.sleep(timedelta(days=2))
    result = await handle.result()

    assert result.status is ReturnStatus.NOT_RECEIVED
    assert await ret.on_hand() == before
    assert await ret.erp.credit_notes(ret.so_number) == []
    rma = await ret.erp.get_return_authorization("return-K3/rma")
    assert rma is not None and rma.status.value == "cancelled"
    assert await _case_closed(ret, "K3") == (CrmCaseStatus.CLOSED, CrmCaseOutcome.NOT_RECEIVED)
    # The quantities are free again: a new case may return them.
    returnable = await ret.erp.get_returnable(ret.so_number)
    assert next(ln for ln in returnable.lines if ln.line_no == 2).returnable == D(10)


async def test_ineligible_case_is_answered_and_changes_nothing(ret: Returns) -> None:
    before = await ret.on_hand()
    handle = await ret.start(await ret.case("K4", [(1, "P1", 5), (3, "P9", 1)]))
    result = await handle.result()

    assert result.status is ReturnStatus.INELIGIBLE
    assert result.reason is not None
    assert "lines[1].quantity: 5 P1 asked back, but only 4 can be" in result.reason
    assert "lines[3]: the order has no line 3" in result.reason
    case = await ret.crm.get_case("K4")
    assert (case.status, case.outcome) == (CrmCaseStatus.CLOSED, CrmCaseOutcome.INELIGIBLE)
    assert case.answer == result.reason
    assert await ret.on_hand() == before
    assert sum((await ret.erp.count_return_documents("return-K4/")).values()) == 0


async def test_outside_the_category_window_is_ineligible(ret: Returns) -> None:
    today = (await ret.env.get_current_time()).date()
    handle = await ret.start(
        await ret.case("K5", [(2, "P2", 1)], requested_on=today + timedelta(days=8))
    )
    result = await handle.result()
    assert result.status is ReturnStatus.INELIGIBLE
    assert result.reason is not None and "return window of 7 days" in result.reason


async def test_second_return_beyond_what_shipped_is_refused(ret: Returns) -> None:
    first = await ret.start(await ret.case("K6", [(1, "P1", 3)]))
    await ret.wait_for(first, ReturnStatus.AWAITING_GOODS)
    second = await ret.start(await ret.case("K7", [(1, "P1", 2)]))
    result = await second.result()

    assert result.status is ReturnStatus.INELIGIBLE
    assert result.reason is not None and "only 1 can be" in result.reason
    assert sum((await ret.erp.count_return_documents("return-K7/")).values()) == 0
    assert (await ret.state(first)).status is ReturnStatus.AWAITING_GOODS


async def test_inspection_that_does_not_add_up_is_refused_before_history(ret: Returns) -> None:
    handle = await ret.start(await ret.case("K8", [(1, "P1", 2)]))
    await _received(ret, handle, [ReceiptLine(line_no=1, quantity=D(2))])

    with pytest.raises(WorkflowUpdateFailedError) as info:
        await handle.execute_update(
            ReturnToRestockWorkflow.inspect,
            inspection(InspectionLine(line_no=1, restock_quantity=D(1), warehouse="THR")),
        )
    assert "restock 1 + scrap 0 = 1, but 2 were received" in str(info.value.cause)
    history = await handle.fetch_history()
    kinds = {e.event_type for e in history.events}
    assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED not in kinds
    assert (await ret.state(handle)).inspection is None

    await handle.execute_update(
        ReturnToRestockWorkflow.inspect,
        inspection(InspectionLine(line_no=1, restock_quantity=D(2), warehouse="THR")),
    )
    assert (await handle.result()).status is ReturnStatus.RESOLVED


async def test_warehouse_booking_found_by_polling_without_a_signal(ret: Returns) -> None:
    before = await ret.on_hand()
    handle = await ret.start(await ret.case("K9", [(2, "P2", 3)]))
    state = await ret.wait_for(handle, ReturnStatus.AWAITING_GOODS)
    assert state.rma_number is not None
    await ret.erp.receive_return(state.rma_number, {2: D(3)}, "WH-RCPT-1")

    await ret.env.sleep(timedelta(hours=7))  # past one poll
    state = await ret.wait_for(handle, ReturnStatus.AWAITING_INSPECTION)
    assert state.received == [ReceiptLine(line_no=2, quantity=D(3))]
    await handle.execute_update(
        ReturnToRestockWorkflow.inspect,
        inspection(InspectionLine(line_no=2, restock_quantity=D(3), warehouse="THR")),
    )
    assert (await handle.result()).status is ReturnStatus.RESOLVED
    assert (await ret.on_hand())[("P2", "THR")] == before[("P2", "THR")] + 3


async def test_paid_invoice_is_refunded(ret: Returns) -> None:
    invoice = await ret.erp.get_invoice(ret.invoice_number)
    await ret.erp.record_payment(invoice.number, invoice.total, "bank-1")
    handle = await ret.start(await ret.case("K10", [(2, "P2", 2)]))
    await _received(ret, handle, [ReceiptLine(line_no=2, quantity=D(2))])
    await handle.execute_update(
        ReturnToRestockWorkflow.inspect,
        inspection(InspectionLine(line_no=2, restock_quantity=D(2), warehouse="IFN")),
    )
    result = await handle.result()
    assert result.status is ReturnStatus.RESOLVED and result.refund_number is not None
    notes = await ret.erp.credit_notes(ret.so_number)
    assert [(n.total, n.status.value) for n in notes] == [(D("109.00"), "refunded")]


async def test_writes_retried_after_commit_make_one_document_each(ret: Returns) -> None:
    before = await ret.on_hand()
    ret.faulty.lose = {"authorize", "restock", "write_off", "credit_note"}
    handle = await ret.start(await ret.case("K11", [(1, "P1", 4)]))
    await _received(ret, handle, [ReceiptLine(line_no=1, quantity=D(4))])
    await handle.execute_update(
        ReturnToRestockWorkflow.inspect,
        inspection(
            InspectionLine(
                line_no=1,
                restock_quantity=D(3),
                warehouse="THR",
                scrap_quantity=D(1),
                scrap_reason="wet",
            )
        ),
    )
    result = await handle.result()

    assert result.status is ReturnStatus.RESOLVED
    assert sorted(ret.faulty.lost) == ["authorize", "credit_note", "restock", "write_off"]
    docs = await ret.erp.count_return_documents("return-K11/")
    assert (
        docs["return_authorizations"],
        docs["restocks"],
        docs["write_offs"],
        docs["credit_notes"],
    ) == (
        1,
        1,
        1,
        1,
    )
    assert (await ret.on_hand())[("P1", "THR")] == before[("P1", "THR")] + 3
    assert sum(n.total for n in await ret.erp.credit_notes(ret.so_number)) == D("392.40")


async def test_permanent_failure_after_receipt_reverses_the_restock(ret: Returns) -> None:
    before = await ret.on_hand()
    ret.faulty.fail["credit_note"] = InvalidRecord("period closed", system="erp")
    handle = await ret.start(await ret.case("K12", [(1, "P1", 2)]))
    await _received(ret, handle, [ReceiptLine(line_no=1, quantity=D(2))])
    await handle.execute_update(
        ReturnToRestockWorkflow.inspect,
        inspection(InspectionLine(line_no=1, restock_quantity=D(2), warehouse="THR")),
    )
    result = await handle.result()

    assert result.status is ReturnStatus.NEEDS_ATTENTION
    assert result.reason is not None and "period closed" in result.reason
    assert await ret.on_hand() == before  # restocked, then reversed
    assert (
        sum(
            n.total
            for n in await ret.erp.credit_notes(ret.so_number)
            if n.status.value != "cancelled"
        )
        == 0
    )
    case = await ret.crm.get_case("K12")
    assert case.status is CrmCaseStatus.NEEDS_ATTENTION and case.answer == result.reason
    state = await ret.state(handle)
    assert [e.detail for e in state.events if e.kind == "compensated"] == [
        "cancel the credit note: none made",
        "reverse the restock",
    ]


async def test_reported_receipt_that_does_not_fit_is_refused_and_loses_nothing(
    ret: Returns,
) -> None:
    handle = await ret.start(await ret.case("K13", [(1, "P1", 2)]))
    await ret.wait_for(handle, ReturnStatus.AWAITING_GOODS)
    await handle.signal(
        ReturnToRestockWorkflow.goods_received,
        GoodsReceivedNotice(lines=[ReceiptLine(line_no=1, quantity=D(5))], source="dock-scanner"),
    )
    for _ in range(50):
        state = await ret.state(handle)
        if any(e.kind == "receipt-refused" for e in state.events):
            break
        await ret.env.sleep(timedelta(seconds=1))
    assert state.status is ReturnStatus.AWAITING_GOODS
    refused = [e for e in state.events if e.kind == "receipt-refused"]
    assert refused and refused[0].actor == "dock-scanner"
    subjects = [n.subject for n in await ret.crm.notes("R-1")]
    assert "Goods receipt refused" in subjects

    await handle.signal(
        ReturnToRestockWorkflow.goods_received,
        GoodsReceivedNotice(lines=[ReceiptLine(line_no=1, quantity=D(2))]),
    )
    state = await ret.wait_for(handle, ReturnStatus.AWAITING_INSPECTION)
    assert state.received == [ReceiptLine(line_no=1, quantity=D(2))]


async def test_cancelled_from_temporal_cancels_the_authorization(ret: Returns) -> None:
    handle = await ret.start(await ret.case("K14", [(1, "P1", 1)]))
    await ret.wait_for(handle, ReturnStatus.AWAITING_GOODS)
    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()

    rma = await ret.erp.get_return_authorization("return-K14/rma")
    assert rma is not None and rma.status.value == "cancelled"
    case = await ret.crm.get_case("K14")
    assert case.status is CrmCaseStatus.NEEDS_ATTENTION
    assert case.answer == "cancelled from Temporal"


async def _chain_open(ret: Returns, handle: ReturnHandle) -> str:
    state = await ret.wait_for(handle, ReturnStatus.AWAITING_APPROVAL)
    assert state.approval_chain_id is not None
    chain = ret.env.client.get_workflow_handle_for(
        ApprovalChainWorkflow.run, state.approval_chain_id
    )
    for _ in range(100):
        try:
            if (await chain.query(ApprovalChainWorkflow.state)).levels:
                return state.approval_chain_id
        except RPCError:
            pass  # being started
        await ret.env.sleep(timedelta(seconds=1))
    raise AssertionError("the chain never opened a level")


async def test_return_over_the_threshold_waits_for_its_approval_chain(ret: Returns) -> None:
    handle = await ret.start(await ret.case("K20", [(1, "P3", 2)], order_id="R-2"))
    chain_id = await _chain_open(ret, handle)
    assert chain_id == "approval-return-K20"
    assert (await ret.crm.get_case("K20")).status is CrmCaseStatus.AWAITING_APPROVAL
    chain = ret.env.client.get_workflow_handle_for(ApprovalChainWorkflow.run, chain_id)
    with pytest.raises(WorkflowUpdateFailedError):  # the case's owner may not approve it
        await chain.execute_update(
            ApprovalChainWorkflow.decide, ChainDecision(approver="agent", approve=True)
        )
    await chain.execute_update(
        ApprovalChainWorkflow.decide, ChainDecision(approver="boss", approve=True, comment="ok")
    )
    state = await ret.wait_for(handle, ReturnStatus.AWAITING_GOODS)
    assert state.rma_number is not None
    # The chain's notes and tasks are on the case, not on the order's own timeline.
    notes = [n for n in await ret.crm.notes("R-2") if n.key.startswith(chain_id)]
    assert notes and {n.case_id for n in notes} == {"K20"}


async def test_rejected_return_closes_the_case_and_writes_nothing(ret: Returns) -> None:
    before = await ret.on_hand()
    handle = await ret.start(await ret.case("K21", [(1, "P3", 2)], order_id="R-2"))
    chain_id = await _chain_open(ret, handle)
    chain = ret.env.client.get_workflow_handle_for(ApprovalChainWorkflow.run, chain_id)
    await chain.execute_update(
        ApprovalChainWorkflow.decide,
        ChainDecision(approver="boss", approve=False, comment="used for months"),
    )
    result = await handle.result()

    assert result.status is ReturnStatus.REJECTED
    assert await _case_closed(ret, "K21") == (CrmCaseStatus.CLOSED, CrmCaseOutcome.REJECTED)
    assert sum((await ret.erp.count_return_documents("return-K21/")).values()) == 0
    assert await ret.on_hand() == before
