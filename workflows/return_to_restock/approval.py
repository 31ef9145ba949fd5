"""The approval step of a return: the policy's rules for returns, and the approval chain as a
child workflow when they name levels."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError, is_cancelled_exception
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from domain.approvals import ApprovalFacts
    from domain.returns import CreditAmounts, CrmCase, ReturnableOrder
    from workflows.approval_chain.calls import ApprovalCalls
    from workflows.approval_chain.models import ApprovalChainInput, chain_id
    from workflows.approval_chain.workflow import ApprovalChainWorkflow
    from workflows.return_to_restock.base import ReturnBase


class ReturnApproval(ReturnBase):
    """The approval step: one call site, the chain does the rest."""

    async def _approval_chain(
        self, case: CrmCase, order: ReturnableOrder, value: CreditAmounts
    ) -> str:
        """ "approved", or why not ("rejected", "expired", "cancelled").

        A policy without rules for returns of this kind approves.
        """
        s = self._s
        categories = sorted({ln.category for ln in order.lines if ln.category is not None})
        plan = await ApprovalCalls(self._in.crm_task_queue).plan(
            ApprovalFacts(
                kind="return", amount=value.total, currency=value.currency, categories=categories
            )
        )
        if not plan.levels:
            self._event(
                "approval", f"policy {plan.policy_version} names no approver for this return"
            )
            return "approved"
        cid = chain_id(self._key)
        s.approval_chain_id = cid
        groups = ", ".join(level.group for level in plan.levels)
        requester = self._in.requested_by or case.owner
        try:
            result = await workflow.execute_child_workflow(
                ApprovalChainWorkflow.run,
                ApprovalChainInput(
                    request_kind="return",
                    record_id=case.order_id,
                    case_id=case.case_id,
                    business_key=self._key,
                    requester=requester,
                    owner=case.owner,
                    amount=plan.base_amount,
                    currency=plan.base_currency,
                    reasons=plan.reasons or [f"return worth {value.total} {value.currency}"],
                    policy_version=plan.policy_version,
                    levels=plan.levels,
                    crm_task_queue=self._in.crm_task_queue,
                ),
                id=cid,
                # The return's end ends its chain: nothing stays pending for approvers.
                parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                static_summary=f"Approval of return {case.case_id}: {groups}",
            )
        except ChildWorkflowError as err:
            if is_cancelled_exception(err):
                return "cancelled"
            raise
        verdict = result.status.value.lower()
        self._event("approval", f"{verdict} ({cid})", actor=result.decided_by)
        return verdict
