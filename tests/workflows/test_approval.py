"""Order-to-cash with its approval chain: the policy decides, the chain is a child workflow,
rejection and expiry compensate, cancelling the order cancels the chain and closes its tasks."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.service import RPCError

from domain.models import CrmOrderStatus
from domain.orders import OrderStatus
from tests.workflows.conftest import O2C, POLICY, Handle
from workflows.approval_chain.models import ChainStatus, DecideInput
from workflows.approval_chain.workflow import ApprovalChainWorkflow
from workflows.order_to_cash.models import CancelInput
from workflows.order_to_cash.workflow import OrderToCashWorkflow

BIG = [("P1", 12, 1000)]  # 12,000 EUR: over 10,000; 5 from THR, 7 from IFN


async def _awaiting_approval(
    o2c: O2C, lines: list[tuple[str, int, int]] = BIG
) -> tuple[str, Handle]:
    order_id = await o2c.order(lines)
    handle = await o2c.start(order_id)
    state = await o2c.wait_for(handle, OrderStatus.AWAITING_APPROVAL)
    assert state.reservations and state.approval is not None
    await o2c.settle(handle, lambda s: any(e.kind == "approval" for e in s.events))
    await o2c.chain_ready(order_id)
    return order_id, handle


async def test_order_over_threshold_runs_its_chain_and_goes_on_when_approved(o2c: O2C) -> None:
    order_id, handle = await _awaiting_approval(o2c)
    state = await o2c.state(handle)
    approval = state.approval
    assert approval is not None
    assert approval.chain_id == f"approval-order-{order_id}"
    assert approval.levels == ["sales_manager"]
    assert approval.policy_version == POLICY.version
    assert approval.reasons == ["order total over 10,000 EUR"]
    chain = await o2c.chain_state(order_id)
    assert chain.requester == "rep" and chain.owner == "rep"
    assert chain.levels[0].seats == {"boss": "boss"}  # rep owns the order: four-eyes
    assert chain.amount == Decimal("12000.00") and chain.currency == "EUR"

    view = await o2c.chain(order_id).execute_update(
        ApprovalChainWorkflow.decide, DecideInput(approver="boss", approve=True, comment="fine")
    )
    assert view.status is ChainStatus.APPROVED

    state = await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)
    assert state.approval is not None
    assert (state.approval.decision, state.approval.decided_by) == ("approved", "boss")
    assert state.approval.comment == "fine"
    assert state.erp_order_number is not None
    assert await o2c.crm_statuses(order_id) == [
        CrmOrderStatus.IN_PROGRESS,
        CrmOrderStatus.AWAITING_APPROVAL,
        CrmOrderStatus.CONFIRMED,
    ]
    notes = [n.subject for n in await o2c.crm.notes(order_id)]
    assert notes == [
        "Approval requested (level 1)",
        "Approval decided (level 1) by boss",
        "Approval finished",
    ]
    tasks = await o2c.crm.task_statuses(order_id)
    assert tasks == {f"approval-order-{order_id}/L1/request/boss": "approved"}
    result = await o2c.chain(order_id).result()
    assert result.status is ChainStatus.APPROVED and result.policy_version == POLICY.version


async def test_rejection_releases_reservations_exactly(o2c: O2C) -> None:
    stock_before = await o2c.erp.stock_snapshot()
    order_id, handle = await _awaiting_approval(o2c)

    await o2c.chain(order_id).execute_update(
        ApprovalChainWorkflow.decide, DecideInput(approver="boss", approve=False, comment="no")
    )
    result = await handle.result()

    assert result.status is OrderStatus.REJECTED
    assert result.reason == "approval rejected: order total over 10,000 EUR"
    assert await o2c.erp.stock_snapshot() == stock_before
    docs = await o2c.erp.count_documents(f"order-{order_id}/")
    assert docs["sales_orders"] == 0 and docs["reservations"] == 1  # one, now released
    history = await o2c.crm.status_history(order_id)
    assert history[-1].status is CrmOrderStatus.REJECTED and history[-1].reason == result.reason
    state = await o2c.state(handle)
    assert state.approval is not None and state.approval.decision == "rejected"
    assert [e.detail for e in state.events if e.kind == "compensated"] == ["release P1"]


async def test_no_decision_before_the_deadline_expires_and_releases(o2c: O2C) -> None:
    stock_before = await o2c.erp.stock_snapshot()
    order_id, handle = await _awaiting_approval(o2c)

    await o2c.env.sleep(timedelta(days=2, hours=23))  # sales_manager: SLA 1 day, deadline 3
    assert (await o2c.state(handle)).status is OrderStatus.AWAITING_APPROVAL
    await o2c.env.sleep(timedelta(hours=2))

    state = await o2c.wait_for(handle, OrderStatus.REJECTED)
    assert state.reason == "approval expired: order total over 10,000 EUR"
    assert state.approval is not None and state.approval.decision == "expired"
    assert await o2c.erp.stock_snapshot() == stock_before
    assert (await o2c.crm_statuses(order_id))[-1] is CrmOrderStatus.REJECTED
    chain = await o2c.chain(order_id).result()
    kinds = [e.kind for e in chain.events]
    assert kinds == ["requested", "reminded", "escalated", "expired", "finished"]
    with pytest.raises((WorkflowUpdateFailedError, RPCError)):
        await o2c.chain(order_id).execute_update(
            ApprovalChainWorkflow.decide, DecideInput(approver="boss", approve=True)
        )


async def test_cancelling_the_order_cancels_its_chain_and_closes_its_tasks(o2c: O2C) -> None:
    stock_before = await o2c.erp.stock_snapshot()
    order_id, handle = await _awaiting_approval(o2c)
    await o2c.env.sleep(timedelta(hours=13))  # a reminder task too
    assert set((await o2c.crm.task_statuses(order_id)).values()) == {"open"}

    accepted = await handle.execute_update(
        OrderToCashWorkflow.cancel, CancelInput(requested_by="rep", reason="customer withdrew")
    )
    assert accepted.accepted
    result = await handle.result()

    assert result.status is OrderStatus.CANCELLED
    assert await o2c.erp.stock_snapshot() == stock_before
    with pytest.raises(WorkflowFailureError):
        await o2c.chain(order_id).result()  # ended cancelled
    tasks = await o2c.crm.task_statuses(order_id)
    assert tasks == {
        f"approval-order-{order_id}/L1/request/boss": "cancelled",
        f"approval-order-{order_id}/L1/reminder/boss": "cancelled",
    }
    chain = await o2c.chain_state(order_id)
    assert chain.status is ChainStatus.CANCELLED
    assert chain.events[-1].kind == "finished" and chain.events[-1].detail == "cancelled"
    state = await o2c.state(handle)
    assert state.approval is not None and state.approval.decision == "cancelled"


async def test_cancelling_the_order_run_from_temporal_cancels_the_chain(o2c: O2C) -> None:
    stock_before = await o2c.erp.stock_snapshot()
    order_id, handle = await _awaiting_approval(o2c)

    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()

    assert await o2c.erp.stock_snapshot() == stock_before
    with pytest.raises(WorkflowFailureError):
        await o2c.chain(order_id).result()
    assert (await o2c.chain_state(order_id)).status is ChainStatus.CANCELLED
    assert set((await o2c.crm.task_statuses(order_id)).values()) == {"cancelled"}


async def test_discount_and_credit_add_their_levels_in_policy_order(o2c: O2C) -> None:
    # A new account has no credit line: credit exceeded → finance; 12,000 → sales_manager.
    order_id = await o2c.order(BIG, account_id="A-NEW")
    handle = await o2c.start(order_id)
    state = await o2c.wait_for(handle, OrderStatus.AWAITING_APPROVAL)
    assert state.approval is not None
    assert state.approval.levels == ["sales_manager", "finance"]

    chain = o2c.chain(order_id)
    await o2c.chain_ready(order_id)
    await chain.execute_update(
        ApprovalChainWorkflow.decide, DecideInput(approver="boss", approve=True)
    )
    for _ in range(30):
        if (await o2c.chain_state(order_id)).current == 1:
            break
        await o2c.env.sleep(1)
    view = await chain.execute_update(
        ApprovalChainWorkflow.decide, DecideInput(approver="fin", approve=True)
    )
    assert view.status is ChainStatus.APPROVED
    state = await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)
    assert state.approval is not None and state.approval.decided_by == "fin"
