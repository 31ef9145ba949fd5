"""Approval activities: plan a request's levels from the policy, resolve groups in the directory.

They run on the CRM worker's queue: the directory stands for the CRM or the identity provider.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from temporalio import activity

from activities.base import Activities
from activities.errors import guarded
from adapters.ports import DirectoryPort, PolicySource
from domain.approval_chain import DirectoryUser, ResolvedGroup
from domain.approvals import ApprovalFacts, ApprovalPlan, ApprovalPolicy, plan_levels
from domain.errors import RecordNotFound


class PlanApprovalInput(BaseModel):
    facts: ApprovalFacts


class PlanApprovalResult(BaseModel):
    plan: ApprovalPlan


class ResolveGroupInput(BaseModel):
    group: str
    at: datetime  # out-of-office delegations in force at this moment count


class ResolveGroupResult(BaseModel):
    group: ResolvedGroup


class CheckUserInput(BaseModel):
    user_id: str


class CheckUserResult(BaseModel):
    problem: str | None = None  # None: an active user of the directory


class ApprovalActivities(Activities):
    """Activities over the approval policy and the directory.

    Args:
        directory: Users, groups and delegations (a file in the sandbox).
        policies: Where the approval policy comes from (a file by default).
    """

    def __init__(self, directory: DirectoryPort, policies: PolicySource) -> None:
        self._directory = directory
        self._policies = policies

    @activity.defn(name="approval_plan")
    async def plan(self, input: PlanApprovalInput) -> PlanApprovalResult:
        """The levels a request needs under the policy in force (none: no approval)."""
        policy = await guarded(self._policies.current())
        return PlanApprovalResult(plan=await guarded(_plan(policy, input.facts)))

    @activity.defn(name="approval_resolve_group")
    async def resolve_group(self, input: ResolveGroupInput) -> ResolveGroupResult:
        """A group's active members, its escalation group's, and who is away, at ``input.at``."""
        group = await guarded(self._directory.get_group(input.group))
        members = await self._active(group.members)
        escalation: list[str] = []
        if group.escalation_group is not None:
            upper = await guarded(self._directory.get_group(group.escalation_group))
            escalation = await self._active(upper.members)
        away = {
            a.user: a.delegate
            for a in await guarded(self._directory.out_of_office(input.at))
            if a.user in members
        }
        active_delegates = set(await self._active(list(away.values())))
        return ResolveGroupResult(
            group=ResolvedGroup(
                name=group.name,
                members=members,
                escalation_group=group.escalation_group,
                escalation_members=escalation,
                away={u: d for u, d in away.items() if d in active_delegates},
            )
        )

    @activity.defn(name="approval_check_user")
    async def check_user(self, input: CheckUserInput) -> CheckUserResult:
        """Whether a person may be handed a decision: an active user of the directory."""
        user = await self._user(input.user_id)
        if user is None:
            return CheckUserResult(problem=f"{input.user_id} is not in the directory")
        if not user.active:
            return CheckUserResult(problem=f"{input.user_id} is not an active user")
        return CheckUserResult()

    async def _user(self, user_id: str) -> DirectoryUser | None:
        try:
            return await self._directory.get_user(user_id)
        except RecordNotFound:
            return None

    async def _active(self, user_ids: list[str]) -> list[str]:
        active: list[str] = []
        for user_id in dict.fromkeys(user_ids):
            user = await guarded(self._user(user_id))
            if user is not None and user.active:
                active.append(user_id)
        return active


async def _plan(policy: ApprovalPolicy, facts: ApprovalFacts) -> ApprovalPlan:
    # A coroutine, so that ``guarded`` maps a missing exchange rate to a non-retryable failure.
    return plan_levels(policy, facts)
