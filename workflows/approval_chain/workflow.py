"""The approval chain: the levels of a request, one after the other, each decided by people.

Its workflow id is ``approval-<business key>``. Each level resolves its group in the directory,
asks its approvers (a CRM task each), reminds them at a share of its SLA, escalates to the
escalation group at the SLA and ends at its final deadline, rejected (or approved where the rule
says so). Decisions come as Update ``decide`` (refused by its validator before anything is
written to history) or signal ``decide_signal`` (refused ones recorded, never applied). Every
event becomes a note on the CRM record; the chain's tasks are closed when it ends, also when it
is cancelled (as its order is).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from domain.approval_chain import (
        LevelOutcome,
        LevelState,
        apply_decision,
        apply_delegation,
        decision_problem,
        delegation_problem,
        open_level,
        short_of_seats,
    )
    from domain.approvals import ExpiryOutcome
    from domain.models import CrmNote, CrmTask
    from workflows import metrics
    from workflows import search_attributes as sa
    from workflows.approval_chain.calls import ApprovalCalls
    from workflows.approval_chain.models import (
        ApprovalChainInput,
        ApprovalChainResult,
        ChainEvent,
        ChainState,
        ChainStatus,
        ChainView,
        DecideInput,
        DelegateInput,
    )

_FINAL = {
    LevelOutcome.APPROVED: ChainStatus.APPROVED,
    LevelOutcome.REJECTED: ChainStatus.REJECTED,
    LevelOutcome.EXPIRED: ChainStatus.EXPIRED,
}


@workflow.defn
class ApprovalChainWorkflow:
    """The approval levels of one request (an order now, a return later)."""

    @workflow.init
    def __init__(self, input: ApprovalChainInput) -> None:
        self._in = input
        self._calls = ApprovalCalls(input.crm_task_queue)
        self._s = ChainState(
            chain_id=workflow.info().workflow_id,
            request_kind=input.request_kind,
            record_id=input.record_id,
            requester=input.requester,
            owner=input.owner,
            amount=input.amount,
            currency=input.currency,
            reasons=input.reasons,
            policy_version=input.policy_version,
            planned_groups=[level.group for level in input.levels],
        )
        self._excluded: dict[str, str] = {}
        if input.owner:
            self._excluded[input.owner] = "record's owner"
        self._excluded[input.requester] = "requester"
        self._outbox: list[tuple[str, Any]] = []  # CRM writes, in the order of the events
        self._published: dict[str, Any] = {}
        self._last: DecideInput | None = None

    # --- the process -------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: ApprovalChainInput) -> ApprovalChainResult:
        # The search attributes go out with the first level, in the same workflow task.
        try:
            status = await self._levels()
            await self._finish(status)
        except (asyncio.CancelledError, ActivityError) as err:
            if not is_cancelled_exception(err):
                raise
            # The order was cancelled (or the chain, from the UI): close its tasks, then end.
            await asyncio.shield(asyncio.ensure_future(self._finish(ChainStatus.CANCELLED)))
            raise
        await workflow.wait_condition(workflow.all_handlers_finished)
        return ApprovalChainResult(
            chain_id=self._s.chain_id,
            status=self._s.status,
            policy_version=self._s.policy_version,
            decided_by=self._last.approver if self._last else None,
            comment=self._last.comment if self._last else None,
            levels=self._s.levels,
            events=self._s.events,
        )

    async def _levels(self) -> ChainStatus:
        for index, spec in enumerate(self._in.levels):
            resolved = await self._calls.resolve_group(spec.group, workflow.now())
            level = open_level(index, spec, resolved, set(self._excluded), workflow.now())
            del resolved  # a waiting chain keeps only what it needs
            self._s.levels.append(level)
            self._s.current = index
            seats = len(level.seats)
            self._event(
                "requested",
                f"{spec.group}: {spec.mode.value}, {level.needed} of {seats} "
                f"({', '.join(level.pending()) or 'nobody eligible'}); "
                + "; ".join(self._s.reasons),
                level=level,
            )
            self._ask(level, "request", level.pending())
            if short_of_seats(level):
                self._escalate(level, f"only {seats} eligible, {level.needed} needed")
            self._publish()
            outcome = await self._run_level(level)
            if outcome is not LevelOutcome.APPROVED:
                return _FINAL[outcome]
        return ChainStatus.APPROVED

    async def _run_level(self, level: LevelState) -> LevelOutcome:
        spec, start = level.spec, level.started_at
        remind_at = start + spec.sla * spec.reminder_share
        escalate_at = start + spec.sla
        deadline = start + spec.final_deadline
        while level.outcome is None:
            await self._flush()
            if level.outcome is not None:
                break
            due = [(deadline, "expire")]
            if not level.escalated:
                due.append((escalate_at, "escalate"))
            if not level.reminded:
                due.append((remind_at, "remind"))
            at, what = min(due)
            wait = at - workflow.now()
            if wait > timedelta(0):
                try:
                    await workflow.wait_condition(
                        lambda: level.outcome is not None or bool(self._outbox),
                        timeout=wait,
                        timeout_summary=f"{what} level {level.index + 1} ({spec.group})",
                    )
                    continue
                except TimeoutError:
                    pass
            if what == "remind":
                level.reminded = True
                self._event("reminded", ", ".join(level.pending()), level=level)
                self._ask(level, "reminder", level.pending())
            elif what == "escalate":
                self._escalate(level, f"SLA of {spec.sla} passed")
            else:
                self._expire(level)
            self._publish()
        # What the last decision queued goes out with the next level's request, or the end.
        return level.outcome

    def _escalate(self, level: LevelState, why: str) -> None:
        level.escalated = True
        upper = level.escalation_group
        if upper is None or not level.escalation_members:
            self._event("escalated", f"{why}; no escalation group to ask", level=level)
            return
        self._event("escalated", f"{why}; to {upper}", level=level)
        self._ask(level, "escalation", level.escalation_members)

    def _expire(self, level: LevelState) -> None:
        approve = level.spec.on_expiry is ExpiryOutcome.APPROVE
        level.expired_as = level.spec.on_expiry
        level.outcome = LevelOutcome.APPROVED if approve else LevelOutcome.EXPIRED
        verdict = "approved as the rule allows" if approve else "rejected"
        self._event("expired", f"no decision by the deadline: {verdict}", level=level)
        self._close_level_tasks(level, "expired")

    async def _finish(self, status: ChainStatus) -> None:
        s = self._s
        s.status = status
        level = s.level
        if level is not None and level.outcome is None:
            self._close_level_tasks(level, status.value.lower())
        for key in list(s.open_tasks):
            self._close(key, status.value.lower())
        s.current = None
        self._event("finished", status.value.lower())
        if s.levels:
            waited = workflow.now() - s.levels[0].started_at
            metrics.approval_waited(self._in.request_kind, status.value.lower(), waited)
        self._publish()
        await self._flush()

    # --- CRM writes --------------------------------------------------------------------------

    def _ask(self, level: LevelState, kind: str, people: list[str]) -> None:
        """A CRM task for each person who must act now."""
        s = self._s
        due = (level.started_at + level.spec.sla).date()
        for person in people:
            key = f"{s.chain_id}/L{level.index + 1}/{kind}/{person}"
            if key in s.open_tasks:
                continue
            s.open_tasks[key] = level.index
            task = CrmTask(
                key=key,
                order_id=s.record_id,
                subject=f"{kind.capitalize()}: approve {s.request_kind} {s.record_id} "
                f"(level {level.index + 1}, {level.spec.group})",
                body="; ".join(s.reasons),
                assignee=person,
                due=due,
                case_id=self._in.case_id,
            )
            self._outbox.append(("task", task))

    def _close(self, key: str, outcome: str) -> None:
        if self._s.open_tasks.pop(key, None) is not None:
            self._outbox.append(("close", (key, outcome)))

    def _close_level_tasks(
        self, level: LevelState, outcome: str, person: str | None = None
    ) -> None:
        for key, index in list(self._s.open_tasks.items()):
            if index == level.index and (person is None or key.endswith(f"/{person}")):
                self._close(key, outcome)

    async def _flush(self) -> None:
        """Write what the events queued, one batch per round trip; a CRM that stays down is
        recorded, not fatal."""
        while self._outbox:
            batch, self._outbox = self._outbox, []
            tasks = [item for kind, item in batch if kind == "task"]
            closures = [item for kind, item in batch if kind == "close"]
            notes = [item for kind, item in batch if kind == "note"]
            try:
                await self._calls.write(tasks, closures, notes)
            except ActivityError as err:
                if is_cancelled_exception(err):
                    raise
                self._s.events.append(
                    ChainEvent(
                        at=workflow.now(),
                        kind="crm-write-failed",
                        detail=f"{len(batch)} writes: {err.cause or err}",
                    )
                )

    # --- decisions ---------------------------------------------------------------------------

    def _decision_problem(self, approver: str) -> str | None:
        finished = self._s.status is not ChainStatus.PENDING
        return decision_problem(self._s.level, approver, self._excluded, finished)

    @workflow.update
    def decide(self, input: DecideInput) -> ChainView:
        """Approve or reject at the current level; refused by the validator before history."""
        self._apply(input)
        return self._view()

    @decide.validator
    def _validate_decide(self, input: DecideInput) -> None:
        problem = self._decision_problem(input.approver)
        if problem:
            raise ValueError(problem)

    @workflow.signal
    def decide_signal(self, input: DecideInput) -> None:
        """The same decision, for tools that can only signal; invalid ones are only recorded."""
        problem = self._decision_problem(input.approver)
        if problem:
            self._event("refused", problem, actor=input.approver, level=self._s.level)
            return
        self._apply(input)

    def _apply(self, input: DecideInput) -> None:
        level = self._s.level
        assert level is not None
        verdict = "approved" if input.approve else "rejected"
        outcome = apply_decision(level, input.approver, input.approve)
        self._last = input
        detail = f"{verdict}: {input.comment}" if input.comment else verdict
        self._event("decided", detail, actor=input.approver, level=level)
        self._close_level_tasks(level, verdict, person=input.approver)
        if outcome is not None:
            self._close_level_tasks(level, outcome.value)
            last = level.index == len(self._in.levels) - 1
            if outcome is not LevelOutcome.APPROVED or last:
                # The Update answers with the chain's new state, before the run loop wakes.
                self._s.status = _FINAL[outcome]
        self._publish()

    @workflow.update
    async def delegate(self, input: DelegateInput) -> ChainView:
        """Hand a pending decision to another person, who then decides in the holder's place."""
        problem = await self._calls.check_user(input.delegate)
        # The chain may have moved on while the directory answered: check everything again.
        problem = problem or self._delegation_problem(input)
        if problem:
            raise ApplicationError(problem, type="DelegationRefused", non_retryable=True)
        level = self._s.level
        assert level is not None
        apply_delegation(level, input.holder, input.delegate)
        detail = f"to {input.delegate}" + (f": {input.comment}" if input.comment else "")
        self._event("delegated", detail, actor=input.holder, level=level)
        self._close_level_tasks(level, "delegated", person=input.holder)
        self._ask(level, "delegated", [input.delegate])
        self._publish()
        return self._view()

    @delegate.validator
    def _validate_delegate(self, input: DelegateInput) -> None:
        problem = self._delegation_problem(input)
        if problem:
            raise ValueError(problem)

    def _delegation_problem(self, input: DelegateInput) -> str | None:
        finished = self._s.status is not ChainStatus.PENDING
        return delegation_problem(
            self._s.level, input.holder, input.delegate, self._excluded, finished
        )

    @workflow.query
    def state(self) -> ChainState:
        """Everything the chain knows: levels, seats, decisions, events."""
        return self._s

    # --- helpers -----------------------------------------------------------------------------

    def _view(self) -> ChainView:
        level = self._s.level
        return ChainView(
            status=self._s.status,
            level=level.index + 1 if level else None,
            group=level.spec.group if level else None,
            pending=level.pending() if level else [],
            approved_by=level.approved_by if level else [],
            rejected_by=level.rejected_by if level else [],
        )

    def _event(
        self, kind: str, detail: str, *, actor: str | None = None, level: LevelState | None = None
    ) -> None:
        s = self._s
        number = level.index + 1 if level is not None else None
        s.events.append(
            ChainEvent(at=workflow.now(), kind=kind, level=number, actor=actor, detail=detail)
        )
        where = f" (level {number})" if number else ""
        by = f" by {actor}" if actor else ""
        # The SDK's logger is silent while a history replays, so each event is logged once.
        workflow.logger.info("approval %s%s%s: %s", kind, where, by, detail)
        self._outbox.append(
            (
                "note",
                CrmNote(
                    key=f"{s.chain_id}/event/{len(s.events)}",
                    order_id=s.record_id,
                    subject=f"Approval {kind}{where}{by}"[:200],
                    body=detail,
                    case_id=self._in.case_id,
                ),
            )
        )

    def _publish(self) -> None:
        """Upsert the search attributes that changed, and the UI's current details."""
        s = self._s
        level = s.level
        groups = []
        if level is not None:
            groups.append(level.spec.group)
            if level.escalated and level.escalation_group:
                groups.append(level.escalation_group)
        values: dict[str, Any] = {
            "status": s.status.value,
            "groups": groups,
            "pending": level.pending() if level else [],
        }
        updates: list[SearchAttributeUpdate[Any]] = []
        if values["status"] != self._published.get("status"):
            updates.append(sa.APPROVAL_STATUS.value_set(values["status"]))
        if values["groups"] != self._published.get("groups"):
            updates.append(sa.APPROVER_GROUP.value_set(values["groups"]))
        if values["pending"] != self._published.get("pending"):
            updates.append(sa.PENDING_APPROVERS.value_set(values["pending"]))
        if not self._published:
            updates.append(sa.REQUEST_KIND.value_set(s.request_kind))
            updates.append(sa.REQUEST_AMOUNT.value_set(float(s.amount)))
        if updates:
            workflow.upsert_search_attributes(updates)
        self._published = values
        where = f"level {level.index + 1} of {len(s.planned_groups)}: " if level else ""
        pending = ", ".join(values["pending"]) or "-"
        workflow.set_current_details(f"**{s.status.value}** — {where}pending {pending}")
