"""The approval step of order-to-cash: ask the policy, and when it names levels, run the
approval chain as a child workflow and wait for its outcome."""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError, is_cancelled_exception
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from domain.approvals import ApprovalFacts, ApprovalPlan
    from domain.models import CrmOrder, CrmOrderStatus
    from domain.orders import ApprovalState, OrderStatus
    from domain.rules import CreditCheck, OrderTotals
    from workflows.approval_chain.calls import ApprovalCalls
    from workflows.approval_chain.models import (
        ApprovalChainInput,
        ApprovalChainResult,
        chain_id,
    )
    from workflows.approval_chain.workflow import ApprovalChainWorkflow
    from workflows.order_to_cash.base import OrderBase


class Approval(OrderBase):
    """The approval step: one call site, the chain does the rest."""

    async def _approval_plan(
        self,
        totals: OrderTotals,
        check: CreditCheck,
        segment: str | None,
        categories: list[str],
    ) -> ApprovalPlan:
        """The levels the policy in force asks for (none: no approval)."""
        return await ApprovalCalls(self._in.crm_task_queue).plan(
            ApprovalFacts(
                kind="order",
                amount=totals.total,
                currency=totals.currency,
                max_discount_pct=totals.max_discount_pct,
                credit_exceeded=not check.within_limit,
                segment=segment,
                categories=categories,
            )
        )

    async def _approval(self, order: CrmOrder, plan: ApprovalPlan) -> str:
        """ "approved", "not needed", or why not ("rejected", "expired", "cancelled" …)."""
        s = self._s
        if not plan.levels:
            return "not needed"
        cid = chain_id(self._key)
        s.approval = ApprovalState(
            reasons=plan.reasons,
            requester=s.requester or order.owner,
            chain_id=cid,
            levels=[level.group for level in plan.levels],
            policy_version=plan.policy_version,
        )
        self._set(OrderStatus.AWAITING_APPROVAL, "; ".join(plan.reasons))
        self._crm_later(CrmOrderStatus.AWAITING_APPROVAL, "approval-requested")
        chain = await workflow.start_child_workflow(
            ApprovalChainWorkflow.run,
            ApprovalChainInput(
                request_kind="order",
                record_id=s.order_id,
                business_key=self._key,
                requester=s.requester or order.owner,
                owner=order.owner,
                amount=plan.base_amount,
                currency=plan.base_currency,
                reasons=plan.reasons,
                policy_version=plan.policy_version,
                levels=plan.levels,
                crm_task_queue=self._in.crm_task_queue,
            ),
            id=cid,
            # The order's end ends its chain: a cancelled order leaves no approval pending.
            parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
            static_summary=f"Approval of order {s.order_id}: " + ", ".join(s.approval.levels),
        )
        self._event("approval", f"chain {cid}: {', '.join(s.approval.levels)}")
        self._rest(chain.done)
        try:
            await workflow.wait_condition(lambda: chain.done() or self._cancel is not None)
        except asyncio.CancelledError:
            chain.cancel()  # cancelled from Temporal: the chain closes its CRM tasks too
            raise
        if not chain.done():
            chain.cancel()  # the order is being cancelled: its chain closes its CRM tasks
        try:
            result: ApprovalChainResult | None = await chain
        except ChildWorkflowError as err:
            result = None
            if not is_cancelled_exception(err):
                s.approval.decision = "failed"
                self._event("approval", f"chain {cid} failed: {err.cause or err}")
                return f"chain failed ({err.cause or err})"
        if result is None:
            s.approval.decision = "cancelled"
            self._event("approval", f"chain {cid} was cancelled")
            self._stop_if_cancelled()
            return "cancelled"
        verdict = result.status.value.lower()
        s.approval.decision, s.approval.decided_by = verdict, result.decided_by
        s.approval.comment = result.comment
        self._event("approval", f"{verdict} ({cid})", actor=result.decided_by)
        return verdict
