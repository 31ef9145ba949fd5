"""Typed activity calls of return-to-restock: which queue, which timeouts, which retries."""

from __future__ import annotations

from datetime import date

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import crm as c
    from activities import returns as r
    from domain.models import CrmNote, CrmTask
    from domain.returns import (
        CreditNote,
        CreditQuantity,
        CrmCaseClosure,
        CrmCaseUpdate,
        ReceiptLine,
        Refund,
        Restock,
        RestockLine,
        ReturnableOrder,
        ReturnAuthorization,
        ReturnLineRequest,
        ScrapLine,
        WriteOff,
    )
    from workflows.activity_calls import run_activity


class ReturnCalls:
    """The activities one return uses, bound to its case and task queues."""

    def __init__(self, case_id: str, crm_queue: str, erp_queue: str) -> None:
        self._case = case_id
        self._crm = crm_queue
        self._erp = erp_queue

    async def fetch_case(self) -> r.FetchCaseResult:
        return await run_activity(
            r.CrmReturnActivities.fetch_case,
            r.FetchCaseInput(case_id=self._case),
            self._crm,
            f"read CRM case {self._case} and its order",
            r.FetchCaseResult,
        )

    async def update_case(self, update: CrmCaseUpdate) -> None:
        await run_activity(
            r.CrmReturnActivities.update_case,
            r.UpdateCaseInput(update=update),
            self._crm,
            f"CRM case {update.status.value}",
            r.UpdateCaseResult,
        )

    async def close_case(self, closure: CrmCaseClosure) -> None:
        await run_activity(
            r.CrmReturnActivities.close_case,
            r.CloseCaseInput(closure=closure),
            self._crm,
            f"close CRM case: {closure.outcome.value}",
            r.CloseCaseResult,
        )

    async def add_note(self, note: CrmNote) -> None:
        await run_activity(
            c.CrmActivities.add_note,
            c.AddNoteInput(note=note),
            self._crm,
            f"CRM note: {note.subject}",
            c.AddNoteResult,
        )

    async def create_task(self, task: CrmTask) -> None:
        await run_activity(
            c.CrmActivities.create_task,
            c.CreateTaskInput(task=task),
            self._crm,
            f"CRM task for {task.assignee}: {task.subject}",
            c.CreateTaskResult,
        )

    # --- ERP ---------------------------------------------------------------------------------

    async def returnable(self, sales_order_number: str) -> ReturnableOrder:
        out = await run_activity(
            r.ErpReturnActivities.get_returnable,
            r.GetReturnableInput(sales_order_number=sales_order_number),
            self._erp,
            f"what of {sales_order_number} shipped, was invoiced and came back",
            r.GetReturnableResult,
        )
        return out.order

    async def authorize(
        self, sales_order_number: str, lines: list[ReturnLineRequest], reason: str, on: date
    ) -> ReturnAuthorization:
        out = await run_activity(
            r.ErpReturnActivities.authorize_return,
            r.AuthorizeReturnInput(
                case_id=self._case,
                sales_order_number=sales_order_number,
                lines=lines,
                reason=reason,
                authorized_on=on,
            ),
            self._erp,
            f"return authorization for {sales_order_number}",
            r.AuthorizeReturnResult,
        )
        return out.authorization

    async def authorization(self) -> ReturnAuthorization | None:
        out = await run_activity(
            r.ErpReturnActivities.get_return_authorization,
            r.GetReturnAuthorizationInput(case_id=self._case),
            self._erp,
            "have the returned goods arrived?",
            r.GetReturnAuthorizationResult,
        )
        return out.authorization

    async def cancel_authorization(self) -> ReturnAuthorization | None:
        out = await run_activity(
            r.ErpReturnActivities.cancel_return_authorization,
            r.CancelReturnAuthorizationInput(case_id=self._case),
            self._erp,
            "cancel the return authorization",
            r.CancelReturnAuthorizationResult,
        )
        return out.authorization

    async def record_receipt(
        self, rma_number: str, lines: list[ReceiptLine]
    ) -> ReturnAuthorization:
        out = await run_activity(
            r.ErpReturnActivities.record_receipt,
            r.RecordReceiptInput(case_id=self._case, rma_number=rma_number, lines=lines),
            self._erp,
            f"goods received for {rma_number}",
            r.RecordReceiptResult,
        )
        return out.authorization

    async def restock(self, rma_number: str, lines: list[RestockLine]) -> Restock:
        out = await run_activity(
            r.ErpReturnActivities.restock,
            r.RestockInput(case_id=self._case, rma_number=rma_number, lines=lines),
            self._erp,
            f"restock {rma_number}: "
            + ", ".join(f"{ln.quantity} to {ln.warehouse}" for ln in lines),
            r.RestockResult,
        )
        return out.restock

    async def reverse_restock(self) -> Restock | None:
        out = await run_activity(
            r.ErpReturnActivities.reverse_restock,
            r.ReverseRestockInput(case_id=self._case),
            self._erp,
            "reverse the restock",
            r.ReverseRestockResult,
        )
        return out.restock

    async def write_off(self, rma_number: str, lines: list[ScrapLine]) -> WriteOff:
        out = await run_activity(
            r.ErpReturnActivities.write_off,
            r.WriteOffInput(case_id=self._case, rma_number=rma_number, lines=lines),
            self._erp,
            f"write off scrap of {rma_number}",
            r.WriteOffResult,
        )
        return out.write_off

    async def credit_note(
        self, rma_number: str, lines: list[CreditQuantity], on: date
    ) -> CreditNote:
        out = await run_activity(
            r.ErpReturnActivities.create_credit_note,
            r.CreditNoteInput(
                case_id=self._case, rma_number=rma_number, lines=lines, credit_date=on
            ),
            self._erp,
            f"credit note for {rma_number}",
            r.CreditNoteResult,
        )
        return out.credit_note

    async def cancel_credit_note(self) -> CreditNote | None:
        out = await run_activity(
            r.ErpReturnActivities.cancel_credit_note,
            r.CancelCreditNoteInput(case_id=self._case),
            self._erp,
            "cancel the credit note",
            r.CancelCreditNoteResult,
        )
        return out.credit_note

    async def refund(self, credit_note_number: str) -> Refund:
        out = await run_activity(
            r.ErpReturnActivities.refund,
            r.RefundInput(case_id=self._case, credit_note_number=credit_note_number),
            self._erp,
            f"refund {credit_note_number}",
            r.RefundResult,
        )
        return out.refund
