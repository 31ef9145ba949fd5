"""Approval: four-eyes, eligible approvers, refusals kept out of history, deadline, signal form."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from domain.models import CrmOrderStatus
from domain.orders import OrderStatus
from tests.workflows.conftest import O2C, Handle, update_events
from workflows.order_to_cash.models import DecideInput
from workflows.order_to_cash.workflow import OrderToCashWorkflow

BIG = [("P1", 12, 1000)]  # 12,000 EUR: over the 10,000 threshold; 5 from THR, 7 from IFN


async def _awaiting_approval(o2c: O2C, requested_by: str | None = None) -> tuple[str, Handle]:
    order_id = await o2c.order(BIG)
    handle = await o2c.start(order_id, requested_by=requested_by)
    state = await o2c.wait_for(handle, OrderStatus.AWAITING_APPROVAL)
    assert state.reservations and state.approval is not None
    snap = await o2c.erp.stock_snapshot()
    assert snap[("P1", "THR")] == (Decimal(5), Decimal(5))
    assert snap[("P1", "IFN")] == (Decimal(10), Decimal(7))
    return order_id, handle


async def _refused(handle: Handle, approver: str, approve: bool = True) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await handle.execute_update(
            OrderToCashWorkflow.decide, DecideInput(approver=approver, approve=approve)
        )
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    return cause.message


async def test_refused_decisions_leave_no_trace_and_approval_continues(o2c: O2C) -> None:
    order_id, handle = await _awaiting_approval(o2c)
    assert "four-eyes" in await _refused(handle, "rep")  # the owner, although an approver
    assert "clerk is not an approver" in await _refused(handle, "clerk")
    assert "not an approver" in await _refused(handle, "nobody", approve=False)

    assert await update_events(handle) == {
        "admitted": 0,
        "accepted": 0,
        "rejected": 0,
        "completed": 0,
    }
    state = await o2c.state(handle)
    assert state.status is OrderStatus.AWAITING_APPROVAL
    assert state.approval is not None and state.approval.decision is None
    assert not [e for e in state.events if e.kind.startswith("decision")]

    result = await handle.execute_update(
        OrderToCashWorkflow.decide, DecideInput(approver="boss", approve=True, comment="fine")
    )
    assert result.decision == "approved"
    assert "already made" in await _refused(handle, "cfo", approve=False)
    counts = await update_events(handle)
    assert (counts["accepted"], counts["completed"], counts["rejected"]) == (1, 1, 0)

    state = await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)
    assert state.approval is not None
    assert (state.approval.decision, state.approval.decided_by) == ("approved", "boss")
    assert await o2c.erp.count_documents(f"order-{order_id}/sales-order") == {
        "reservations": 0,
        "sales_orders": 1,
        "invoices": 0,
        "payments": 0,
    }
    notes = await o2c.crm.notes(order_id)
    assert [(n.subject, n.body) for n in notes] == [("Order approved by boss", "fine")]
    assert await o2c.crm_statuses(order_id) == [
        CrmOrderStatus.IN_PROGRESS,
        CrmOrderStatus.AWAITING_APPROVAL,
        CrmOrderStatus.CONFIRMED,
    ]


async def test_requested_by_cannot_approve_their_own_start(o2c: O2C) -> None:
    _, handle = await _awaiting_approval(o2c, requested_by="boss")
    state = await o2c.state(handle)
    assert state.approval is not None and state.approval.requester == "boss"
    assert "four-eyes" in await _refused(handle, "boss")
    await handle.execute_update(
        OrderToCashWorkflow.decide, DecideInput(approver="rep", approve=True)
    )
    await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)


async def test_rejection_releases_reservations_exactly(o2c: O2C) -> None:
    stock_before = await o2c.erp.stock_snapshot()
    order_id, handle = await _awaiting_approval(o2c)

    await handle.execute_update(
        OrderToCashWorkflow.decide, DecideInput(approver="cfo", approve=False, comment="too big")
    )
    result = await handle.result()

    assert result.status is OrderStatus.REJECTED
    assert result.reason is not None and result.reason.startswith("approval rejected: ")
    assert await o2c.erp.stock_snapshot() == stock_before
    docs = await o2c.erp.count_documents(f"order-{order_id}/")
    assert docs["sales_orders"] == 0 and docs["reservations"] == 1  # one, now released
    assert o2c.erp.calls.count("release") == 1
    history = await o2c.crm.status_history(order_id)
    assert history[-1].status is CrmOrderStatus.REJECTED
    assert history[-1].reason == result.reason
    assert [n.subject for n in await o2c.crm.notes(order_id)] == ["Order rejected by cfo"]
    state = await o2c.state(handle)
    assert state.reservations == [] and state.compensations == []
    assert [e.detail for e in state.events if e.kind == "compensated"] == ["release P1"]


async def test_no_decision_before_deadline_expires_and_releases(o2c: O2C) -> None:
    stock_before = await o2c.erp.stock_snapshot()
    order_id, handle = await _awaiting_approval(o2c)

    await o2c.env.sleep(timedelta(days=2, hours=23))
    assert (await o2c.state(handle)).status is OrderStatus.AWAITING_APPROVAL
    await o2c.env.sleep(timedelta(hours=2))  # past the 3-day approval timeout

    state = await o2c.wait_for(handle, OrderStatus.REJECTED)
    assert state.reason is not None and "expired" in state.reason
    assert state.approval is not None and state.approval.decision == "expired"
    result = await handle.result()
    assert result.status is OrderStatus.REJECTED
    assert await o2c.erp.stock_snapshot() == stock_before
    assert (await o2c.crm_statuses(order_id))[-1] is CrmOrderStatus.REJECTED
    # Too late now. (The test server answers an Update on a closed run with an RPC error.)
    with pytest.raises((WorkflowUpdateFailedError, RPCError)):
        await handle.execute_update(
            OrderToCashWorkflow.decide, DecideInput(approver="boss", approve=True)
        )


async def test_signal_decisions_refused_are_recorded_valid_one_applied(o2c: O2C) -> None:
    order_id, handle = await _awaiting_approval(o2c)

    await handle.signal(
        OrderToCashWorkflow.decide_signal, DecideInput(approver="clerk", approve=True)
    )
    await handle.signal(
        OrderToCashWorkflow.decide_signal, DecideInput(approver="rep", approve=True)
    )
    state = await o2c.settle(
        handle, lambda s: sum(e.kind == "decision-refused" for e in s.events) == 2
    )
    refused = [e for e in state.events if e.kind == "decision-refused"]
    assert [e.actor for e in refused] == ["clerk", "rep"]
    assert "not an approver" in refused[0].detail and "four-eyes" in refused[1].detail
    assert state.status is OrderStatus.AWAITING_APPROVAL
    assert state.approval is not None and state.approval.decision is None
    await o2c.env.sleep(timedelta(hours=1))
    assert (await o2c.state(handle)).status is OrderStatus.AWAITING_APPROVAL

    await handle.signal(
        OrderToCashWorkflow.decide_signal,
        DecideInput(approver="cfo", approve=True, comment="by mail"),
    )
    state = await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)
    assert state.approval is not None
    assert (state.approval.decision, state.approval.decided_by) == ("approved", "cfo")
    assert state.erp_order_number is not None
    assert [n.subject for n in await o2c.crm.notes(order_id)] == ["Order approved by cfo"]


async def test_signal_rejection_is_applied(o2c: O2C) -> None:
    stock_before = await o2c.erp.stock_snapshot()
    _, handle = await _awaiting_approval(o2c)
    await handle.signal(
        OrderToCashWorkflow.decide_signal, DecideInput(approver="boss", approve=False)
    )
    result = await handle.result()
    assert result.status is OrderStatus.REJECTED
    assert result.reason is not None and result.reason.startswith("approval rejected")
    assert await o2c.erp.stock_snapshot() == stock_before
