"""Typed activity calls of the approval chain (and of processes that plan approvals)."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import approvals as a
    from activities import crm as c
    from domain.approval_chain import ResolvedGroup
    from domain.approvals import ApprovalFacts, ApprovalPlan
    from domain.models import CrmNote, CrmTask
    from workflows.activity_calls import run_activity


class ApprovalCalls:
    """The activities of approvals, bound to the CRM task queue."""

    def __init__(self, crm_queue: str) -> None:
        self._crm = crm_queue

    async def plan(self, facts: ApprovalFacts) -> ApprovalPlan:
        out = await run_activity(
            a.ApprovalActivities.plan,
            a.PlanApprovalInput(facts=facts),
            self._crm,
            f"approval policy for {facts.kind} of {facts.amount} {facts.currency}",
            a.PlanApprovalResult,
        )
        return out.plan

    async def resolve_group(self, group: str, at: datetime) -> ResolvedGroup:
        out = await run_activity(
            a.ApprovalActivities.resolve_group,
            a.ResolveGroupInput(group=group, at=at),
            self._crm,
            f"directory: group {group}",
            a.ResolveGroupResult,
        )
        return out.group

    async def check_user(self, user_id: str) -> str | None:
        out = await run_activity(
            a.ApprovalActivities.check_user,
            a.CheckUserInput(user_id=user_id),
            self._crm,
            f"directory: user {user_id}",
            a.CheckUserResult,
        )
        return out.problem

    async def write(
        self, tasks: list[CrmTask], closures: list[tuple[str, str]], notes: list[CrmNote]
    ) -> None:
        """One round trip for what the chain has to tell the CRM (each write idempotent)."""
        await run_activity(
            c.CrmActivities.write_batch,
            c.WriteBatchInput(
                tasks=tasks,
                closures=[c.TaskClosure(key=k, outcome=o) for k, o in closures],
                notes=notes,
            ),
            self._crm,
            f"CRM: {len(notes)} notes, {len(tasks)} tasks, {len(closures)} closed",
            c.WriteBatchResult,
        )
