"""Activities of return-to-restock, on the CRM and the ERP task queues.

Every ERP write is keyed by the return's reference and the step (``return-<case id>/restock``
…, see ``domain.return_rules.return_reference``), which the activity derives from the case id:
a retry after the write committed finds the document instead of creating a second one, and a
compensation finds exactly the document to undo. Notes and tasks on a case go through the CRM
activities ``crm_add_note`` / ``crm_create_task`` with ``case_id`` set.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.base import Activities
from activities.errors import guarded
from adapters.ports import CRMPort, ERPPort
from domain.errors import RecordNotFound
from domain.models import CrmOrder
from domain.return_rules import ReturnStep, return_reference
from domain.returns import (
    CreditNote,
    CreditNoteRequest,
    CreditQuantity,
    CrmCase,
    CrmCaseClosure,
    CrmCaseUpdate,
    ReceiptLine,
    Refund,
    RefundRequest,
    Restock,
    RestockLine,
    RestockRequest,
    ReturnableOrder,
    ReturnAuthorization,
    ReturnAuthorizationRequest,
    ReturnLineRequest,
    ReturnReceiptRequest,
    ScrapLine,
    WriteOff,
    WriteOffRequest,
)

# --- CRM -------------------------------------------------------------------------------------


class FetchCaseInput(BaseModel):
    case_id: str


class FetchCaseResult(BaseModel):
    case: CrmCase
    order: CrmOrder | None = None  # the case's order (its erp_order_number), read in the same call
    order_problem: str | None = None  # why the order could not be read, if it could not


class UpdateCaseInput(BaseModel):
    update: CrmCaseUpdate


class UpdateCaseResult(BaseModel):
    applied: bool = True


class CloseCaseInput(BaseModel):
    closure: CrmCaseClosure


class CloseCaseResult(BaseModel):
    closed: bool = True


class CrmReturnActivities(Activities):
    """Return-case activities on the CRM task queue.

    Args:
        crm: The CRM to talk to, chosen by the composition root.
    """

    def __init__(self, crm: CRMPort) -> None:
        self._crm = crm

    @activity.defn(name="crm_fetch_case")
    async def fetch_case(self, input: FetchCaseInput) -> FetchCaseResult:
        """Read a return case and the order it is about, in one round trip.

        An order the CRM does not know is not a failure of this call: it is reported in
        ``order_problem``, so the workflow can answer the case with the reason.
        """
        case = await guarded(self._crm.get_case(input.case_id))
        try:
            order = await guarded(self._crm.get_order(case.order_id))
        except ApplicationError as err:
            if err.type != RecordNotFound.__name__:
                raise
            return FetchCaseResult(case=case, order_problem=f"order_id: {err.message}")
        return FetchCaseResult(case=case, order=order)

    @activity.defn(name="crm_update_case")
    async def update_case(self, input: UpdateCaseInput) -> UpdateCaseResult:
        """Set an open case's status, answer, RMA number or instructions (once per key)."""
        await guarded(self._crm.update_case(input.update))
        return UpdateCaseResult()

    @activity.defn(name="crm_close_case")
    async def close_case(self, input: CloseCaseInput) -> CloseCaseResult:
        """Resolve or close the case with its outcome and answer (once per key)."""
        await guarded(self._crm.close_case(input.closure))
        return CloseCaseResult()


# --- ERP -------------------------------------------------------------------------------------


class GetReturnableInput(BaseModel):
    sales_order_number: str


class GetReturnableResult(BaseModel):
    order: ReturnableOrder


class AuthorizeReturnInput(BaseModel):
    case_id: str
    sales_order_number: str
    lines: list[ReturnLineRequest]
    reason: str = ""
    authorized_on: date | None = None


class AuthorizeReturnResult(BaseModel):
    authorization: ReturnAuthorization


class GetReturnAuthorizationInput(BaseModel):
    case_id: str


class GetReturnAuthorizationResult(BaseModel):
    authorization: ReturnAuthorization | None


class CancelReturnAuthorizationInput(BaseModel):
    case_id: str


class CancelReturnAuthorizationResult(BaseModel):
    authorization: ReturnAuthorization | None  # None when the return had no RMA


class RecordReceiptInput(BaseModel):
    case_id: str
    rma_number: str
    lines: list[ReceiptLine]


class RecordReceiptResult(BaseModel):
    authorization: ReturnAuthorization


class RestockInput(BaseModel):
    case_id: str
    rma_number: str
    lines: list[RestockLine]


class RestockResult(BaseModel):
    restock: Restock


class ReverseRestockInput(BaseModel):
    case_id: str


class ReverseRestockResult(BaseModel):
    restock: Restock | None  # None when the return had no restock


class WriteOffInput(BaseModel):
    case_id: str
    rma_number: str
    lines: list[ScrapLine]


class WriteOffResult(BaseModel):
    write_off: WriteOff


class CreditNoteInput(BaseModel):
    case_id: str
    rma_number: str
    lines: list[CreditQuantity]
    credit_date: date | None = None


class CreditNoteResult(BaseModel):
    credit_note: CreditNote


class CancelCreditNoteInput(BaseModel):
    case_id: str


class CancelCreditNoteResult(BaseModel):
    credit_note: CreditNote | None  # None when the return had no credit note


class RefundInput(BaseModel):
    case_id: str
    credit_note_number: str


class RefundResult(BaseModel):
    refund: Refund


class ErpReturnActivities(Activities):
    """Return activities on the ERP task queue.

    Args:
        erp: The ERP to talk to, chosen by the composition root.
    """

    def __init__(self, erp: ERPPort) -> None:
        self._erp = erp

    @activity.defn(name="erp_get_returnable")
    async def get_returnable(self, input: GetReturnableInput) -> GetReturnableResult:
        """What shipped on the sales order, its invoice and what came back (for eligibility)."""
        return GetReturnableResult(
            order=await guarded(self._erp.get_returnable(input.sales_order_number))
        )

    @activity.defn(name="erp_authorize_return")
    async def authorize_return(self, input: AuthorizeReturnInput) -> AuthorizeReturnResult:
        """Issue the return authorization (RMA) under ``return-<case>/rma``."""
        request = ReturnAuthorizationRequest(
            reference=return_reference(input.case_id, ReturnStep.RMA),
            sales_order_number=input.sales_order_number,
            lines=input.lines,
            reason=input.reason,
            crm_case_id=input.case_id,
            authorized_on=input.authorized_on,
        )
        return AuthorizeReturnResult(
            authorization=await guarded(self._erp.create_return_authorization(request))
        )

    @activity.defn(name="erp_get_return_authorization")
    async def get_return_authorization(
        self, input: GetReturnAuthorizationInput
    ) -> GetReturnAuthorizationResult:
        """The return's RMA with its status and what was received (the receipt poll)."""
        reference = return_reference(input.case_id, ReturnStep.RMA)
        return GetReturnAuthorizationResult(
            authorization=await guarded(self._erp.get_return_authorization(reference))
        )

    @activity.defn(name="erp_cancel_return_authorization")
    async def cancel_return_authorization(
        self, input: CancelReturnAuthorizationInput
    ) -> CancelReturnAuthorizationResult:
        """Cancel the return's RMA (goods not received); a no-op when there is none."""
        reference = return_reference(input.case_id, ReturnStep.RMA)
        return CancelReturnAuthorizationResult(
            authorization=await guarded(self._erp.cancel_return_authorization(reference))
        )

    @activity.defn(name="erp_record_return_receipt")
    async def record_receipt(self, input: RecordReceiptInput) -> RecordReceiptResult:
        """Record what arrived (as reported to the workflow) under ``return-<case>/receipt``.

        A receipt the warehouse already booked with the same quantities is simply returned.
        """
        request = ReturnReceiptRequest(
            reference=return_reference(input.case_id, ReturnStep.RECEIPT),
            rma_number=input.rma_number,
            lines=input.lines,
        )
        return RecordReceiptResult(
            authorization=await guarded(self._erp.record_return_receipt(request))
        )

    @activity.defn(name="erp_restock_return")
    async def restock(self, input: RestockInput) -> RestockResult:
        """Put the accepted goods back on hand under ``return-<case>/restock``."""
        request = RestockRequest(
            reference=return_reference(input.case_id, ReturnStep.RESTOCK),
            rma_number=input.rma_number,
            lines=input.lines,
        )
        return RestockResult(restock=await guarded(self._erp.restock_return(request)))

    @activity.defn(name="erp_reverse_restock")
    async def reverse_restock(self, input: ReverseRestockInput) -> ReverseRestockResult:
        """Take the return's restocked goods off hand again (compensation)."""
        reference = return_reference(input.case_id, ReturnStep.RESTOCK)
        return ReverseRestockResult(restock=await guarded(self._erp.reverse_restock(reference)))

    @activity.defn(name="erp_write_off_return")
    async def write_off(self, input: WriteOffInput) -> WriteOffResult:
        """Write off the scrapped goods with their reasons under ``return-<case>/write-off``."""
        request = WriteOffRequest(
            reference=return_reference(input.case_id, ReturnStep.WRITE_OFF),
            rma_number=input.rma_number,
            lines=input.lines,
        )
        return WriteOffResult(write_off=await guarded(self._erp.write_off_return(request)))

    @activity.defn(name="erp_create_credit_note")
    async def create_credit_note(self, input: CreditNoteInput) -> CreditNoteResult:
        """Credit the accepted goods under ``return-<case>/credit-note``, priced by the ERP."""
        request = CreditNoteRequest(
            reference=return_reference(input.case_id, ReturnStep.CREDIT_NOTE),
            rma_number=input.rma_number,
            lines=input.lines,
            credit_date=input.credit_date,
        )
        return CreditNoteResult(credit_note=await guarded(self._erp.create_credit_note(request)))

    @activity.defn(name="erp_cancel_credit_note")
    async def cancel_credit_note(self, input: CancelCreditNoteInput) -> CancelCreditNoteResult:
        """Cancel the return's credit note (compensation); a no-op when there is none."""
        reference = return_reference(input.case_id, ReturnStep.CREDIT_NOTE)
        return CancelCreditNoteResult(
            credit_note=await guarded(self._erp.cancel_credit_note(reference))
        )

    @activity.defn(name="erp_refund_credit_note")
    async def refund(self, input: RefundInput) -> RefundResult:
        """Pay the credit note back (the invoice was paid) under ``return-<case>/refund``."""
        request = RefundRequest(
            reference=return_reference(input.case_id, ReturnStep.REFUND),
            credit_note_number=input.credit_note_number,
        )
        return RefundResult(refund=await guarded(self._erp.refund_credit_note(request)))
