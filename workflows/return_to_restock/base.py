"""State and shared mechanics of one return: status and UI details, events, CRM case writes,
waits and compensation. The business steps live in ``workflow.py``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.models import CrmNote
    from domain.returns import CrmCaseClosure, CrmCaseOutcome, CrmCaseStatus, CrmCaseUpdate
    from workflows import search_attributes as sa
    from workflows.order_to_cash.base import failure_of
    from workflows.return_to_restock.calls import ReturnCalls
    from workflows.return_to_restock.models import (
        ReturnEvent,
        ReturnState,
        ReturnStatus,
        ReturnToRestockInput,
        ReturnToRestockResult,
        workflow_id,
    )

# Compensation steps, registered before the step they undo, run in reverse.
CANCEL_RMA = "cancel the return authorization"
REVERSE_RESTOCK = "reverse the restock"
CANCEL_CREDIT_NOTE = "cancel the credit note"


class ReturnEnded(Exception):
    """Ends the return early with a final status (ineligible, rejected, not received)."""

    def __init__(self, status: ReturnStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class ReturnBase:
    """State and mechanics of one return-to-restock run."""

    def _setup(self, input: ReturnToRestockInput) -> None:
        self._in = input
        self._s = ReturnState(case_id=input.case_id)
        self._key = workflow_id(input.case_id)
        self._calls = ReturnCalls(input.case_id, input.crm_task_queue, input.erp_task_queue)
        self._owner: str | None = None
        self._case_known = False  # True once the CRM answered for the case
        self._goods_nudges = 0

    def _set(self, status: ReturnStatus, detail: str) -> None:
        s = self._s
        if s.status is not status:
            workflow.upsert_search_attributes([sa.RETURN_STATUS.value_set(status.value)])
        s.status, s.detail = status, detail
        self._event("status", f"{status.value}: {detail}")
        # The SDK's logger is silent while a history replays, so each change is logged once.
        workflow.logger.info("return %s: %s", status.value, detail)
        lines = [f"**{status.value}** — {detail}"]
        if s.rma_number:
            lines.append(f"RMA {s.rma_number}")
        if s.credit_note_number:
            lines.append(f"credit note {s.credit_note_number}: {s.credited_total} {s.currency}")
        if s.needs_attention:
            lines.append("needs attention: " + "; ".join(s.needs_attention))
        workflow.set_current_details("\n\n".join(lines))

    def _event(self, kind: str, detail: str, actor: str | None = None) -> None:
        self._s.events.append(ReturnEvent(at=workflow.now(), kind=kind, detail=detail, actor=actor))

    async def _wait(self, done: Callable[[], bool], timeout: timedelta, summary: str) -> bool:
        """Wait until ``done()``; False when the timeout passed first."""
        try:
            await workflow.wait_condition(
                done, timeout=max(timeout, timedelta(seconds=1)), timeout_summary=summary
            )
            return True
        except TimeoutError:
            return False

    # --- the CRM case ------------------------------------------------------------------------

    async def _case_status(self, status: CrmCaseStatus, step: str, **fields: str | None) -> None:
        await self._calls.update_case(
            CrmCaseUpdate(
                key=f"{self._key}/{step}", case_id=self._s.case_id, status=status, **fields
            )
        )

    async def _note(self, step: str, subject: str, body: str = "") -> None:
        assert self._s.order_id is not None
        await self._calls.add_note(
            CrmNote(
                key=f"{self._key}/{step}",
                order_id=self._s.order_id,
                case_id=self._s.case_id,
                subject=subject,
                body=body,
            )
        )

    async def _close_case(self, outcome: CrmCaseOutcome, answer: str) -> None:
        await self._calls.close_case(
            CrmCaseClosure(
                key=f"{self._key}/closed",
                case_id=self._s.case_id,
                outcome=outcome,
                answer=answer,
                credit_note_number=self._s.credit_note_number,
            )
        )

    # --- compensation ------------------------------------------------------------------------

    def _register(self, step: str) -> None:
        self._s.compensations.append(step)

    def _done_with(self, step: str) -> None:
        if step in self._s.compensations:
            self._s.compensations.remove(step)

    async def _unwind(self) -> None:
        """Undo what was done, in reverse; a step that fails is left for a person."""
        s = self._s
        if s.compensations:
            self._set(ReturnStatus.COMPENSATING, s.reason or "undoing")
        for step in reversed(list(s.compensations)):
            try:
                undone: object
                if step == REVERSE_RESTOCK:
                    undone = await self._calls.reverse_restock()
                    s.restock_number = None
                elif step == CANCEL_CREDIT_NOTE:
                    undone = await self._calls.cancel_credit_note()
                    s.credit_note_number, s.credited_total = None, None
                else:
                    undone = await self._calls.cancel_authorization()
                # A step registered before it ran may have written nothing: say so.
                self._event("compensated", step if undone is not None else f"{step}: none made")
            except ActivityError as err:
                kind, message = failure_of(err)
                s.needs_attention.append(f"{step} failed: {kind}: {message}")
                self._event("compensation-failed", f"{step}: {message}")
            s.compensations.remove(step)

    async def _leave_for_a_person(self, reason: str) -> None:
        """Undo, then keep the case open for a person, with the reason in the CRM and the UI."""
        s = self._s
        s.reason = reason
        await asyncio.shield(asyncio.ensure_future(self._unwind()))
        s.needs_attention.insert(0, reason)
        if self._case_known:
            try:
                await self._case_status(
                    CrmCaseStatus.NEEDS_ATTENTION, "needs-attention", answer=reason
                )
                await self._note("attention", "Return needs attention", reason)
            except ActivityError as err:
                s.needs_attention.append(f"CRM case not updated: {failure_of(err)[1]}")
        self._set(ReturnStatus.NEEDS_ATTENTION, reason)

    def _result(self) -> ReturnToRestockResult:
        s = self._s
        return ReturnToRestockResult(
            case_id=s.case_id,
            status=s.status,
            reason=s.reason,
            rma_number=s.rma_number,
            credit_note_number=s.credit_note_number,
            credited_total=s.credited_total,
            refund_number=s.refund_number,
            needs_attention=s.needs_attention,
            events=s.events,
        )
