"""The return-to-restock workflow: from a CRM return case to goods back in stock and a credit note.

check the case against the ERP → approval (automatic under the policy's threshold, otherwise the
approval chain) → return authorization (RMA) → wait for the goods (notice or ERP poll, until a
deadline) → inspection (an Update) → restock and write-off → credit note (and refund when the
invoice was paid) → case resolved. A permanent failure undoes what was done, in reverse, and
leaves the case open for a person.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    is_cancelled_exception,
)

with workflow.unsafe.imports_passed_through():
    from domain.errors import InvalidState
    from domain.money import ZERO
    from domain.return_rules import (
        accepted_quantities,
        eligibility_problems,
        inspection_problems,
        requested_credit,
        restock_lines,
        scrap_lines,
    )
    from domain.returns import (
        CrmCase,
        CrmCaseOutcome,
        CrmCaseStatus,
        ReceiptLine,
        RestockedLine,
        ReturnableOrder,
        ReturnAuthorization,
        ReturnAuthorizationStatus,
        ReturnLineRequest,
        ScrappedLine,
    )
    from workflows import metrics
    from workflows import search_attributes as sa
    from workflows.order_to_cash.base import failure_of
    from workflows.return_to_restock.approval import ReturnApproval
    from workflows.return_to_restock.base import (
        CANCEL_CREDIT_NOTE,
        CANCEL_RMA,
        REVERSE_RESTOCK,
        ReturnEnded,
    )
    from workflows.return_to_restock.models import (
        GoodsReceivedNotice,
        InspectInput,
        InspectResult,
        ReturnState,
        ReturnStatus,
        ReturnToRestockInput,
        ReturnToRestockResult,
    )

_OUTCOMES = {
    ReturnStatus.INELIGIBLE: CrmCaseOutcome.INELIGIBLE,
    ReturnStatus.REJECTED: CrmCaseOutcome.REJECTED,
    ReturnStatus.NOT_RECEIVED: CrmCaseOutcome.NOT_RECEIVED,
}


@workflow.defn
class ReturnToRestockWorkflow(ReturnApproval):
    """One customer return, from its CRM case to restocked goods and a credit note."""

    @workflow.init
    def __init__(self, input: ReturnToRestockInput) -> None:
        self._setup(input)
        self._notices: list[GoodsReceivedNotice] = []
        self._rma: ReturnAuthorization | None = None

    @workflow.run
    async def run(self, input: ReturnToRestockInput) -> ReturnToRestockResult:
        metrics.return_started()
        workflow.upsert_search_attributes(
            [
                sa.RETURN_ID.value_set(input.case_id),
                sa.RETURN_STATUS.value_set(ReturnStatus.CHECKING.value),
            ]
        )
        try:
            await self._process()
        except ReturnEnded as end:
            await self._end(end.status, end.reason)
        except (ActivityError, ChildWorkflowError, asyncio.CancelledError) as err:
            if is_cancelled_exception(err):
                # Cancelled from the Temporal UI or API: undo, and tell the CRM why.
                await asyncio.shield(
                    asyncio.ensure_future(self._leave_for_a_person("cancelled from Temporal"))
                )
                metrics.return_ended(self._s.status.value)
                raise
            kind, message = (
                failure_of(err) if isinstance(err, ActivityError) else ("ChildWorkflow", str(err))
            )
            if not self._case_known:
                metrics.return_ended("FAILED")
                raise ApplicationError(
                    f"return of case {input.case_id} cannot start: {message}",
                    type=kind,
                    non_retryable=True,
                ) from err
            await self._leave_for_a_person(f"{kind}: {message}")
        metrics.return_ended(self._s.status.value)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._result()

    async def _process(self) -> None:
        case, order = await self._check()
        await self._approve(case, order)
        self._rma = await self._authorize(case, order)
        self._rma = await self._await_goods(self._rma)
        await self._await_inspection()
        await self._credit(self._rma, order)
        await self._resolve()

    async def _end(self, status: ReturnStatus, reason: str) -> None:
        """End without credit: answer and close the case (ineligible, rejected, not received)."""
        s = self._s
        s.reason = reason
        await self._close_case(_OUTCOMES[status], reason)
        self._set(status, reason)

    # --- 1. eligibility ----------------------------------------------------------------------

    async def _check(self) -> tuple[CrmCase, ReturnableOrder]:
        s = self._s
        self._set(ReturnStatus.CHECKING, "reading the case and the order")
        fetched = await self._calls.fetch_case()
        case = fetched.case
        self._case_known, self._owner = True, case.owner
        s.order_id = case.order_id
        workflow.upsert_search_attributes([sa.ORDER_ID.value_set(case.order_id)])
        if fetched.order is None:
            raise ReturnEnded(ReturnStatus.INELIGIBLE, fetched.order_problem or "unknown order")
        number = fetched.order.erp_order_number
        if number is None:
            raise ReturnEnded(
                ReturnStatus.INELIGIBLE, f"order {case.order_id} never reached the ERP"
            )
        s.sales_order_number = number
        await self._case_status(CrmCaseStatus.IN_REVIEW, "in-review")
        order = await self._calls.returnable(number)
        s.invoice_number, s.invoice_paid = order.invoice_number, order.invoice_paid
        s.currency = order.currency
        problems = eligibility_problems(case, order, self._in.policy)
        if problems:
            # A new run of a return whose earlier run failed finds its own authorization
            # counted as already used: that one is no reason to refuse.
            own = await self._calls.authorization()
            if own is None or own.status is ReturnAuthorizationStatus.CANCELLED:
                raise ReturnEnded(ReturnStatus.INELIGIBLE, "; ".join(problems))
            self._event("eligibility", f"authorized before, as {own.number}: going on")
        s.requested_value = requested_credit(case, order).total
        return case, order

    # --- 2. approval -------------------------------------------------------------------------

    async def _approve(self, case: CrmCase, order: ReturnableOrder) -> None:
        s = self._s
        value = requested_credit(case, order)
        if not self._in.policy.needs_approval(value):
            self._event("approval", f"automatic: {value.total} {value.currency} is within policy")
            return
        self._set(ReturnStatus.AWAITING_APPROVAL, f"{value.total} {value.currency} to approve")
        await self._case_status(CrmCaseStatus.AWAITING_APPROVAL, "approval-requested")
        verdict = await self._approval_chain(case, order, value)
        if verdict != "approved":
            raise ReturnEnded(ReturnStatus.REJECTED, f"approval {verdict}")
        assert s.status is ReturnStatus.AWAITING_APPROVAL

    # --- 3. authorization --------------------------------------------------------------------

    async def _authorize(self, case: CrmCase, order: ReturnableOrder) -> ReturnAuthorization:
        s = self._s
        self._register(CANCEL_RMA)
        try:
            rma = await self._calls.authorize(
                order.sales_order_number,
                [
                    ReturnLineRequest(line_no=ln.line_no, sku=ln.sku, quantity=ln.quantity)
                    for ln in case.lines
                ],
                case.subject,
                workflow.now().date(),
            )
        except ActivityError as err:
            kind, message = failure_of(err)
            if kind == "InvalidRecord":
                # Another return of the order took the quantities meanwhile: the ERP is the
                # judge, and nothing was written.
                self._done_with(CANCEL_RMA)
                raise ReturnEnded(ReturnStatus.INELIGIBLE, message) from err
            raise
        s.rma_number = rma.number
        deadline = workflow.now() + self._in.policy.receipt_deadline
        s.receipt_deadline = deadline
        instructions = (
            f"Send the goods with RMA {rma.number} written on the parcel, by "
            f"{deadline.date().isoformat()}."
        )
        await self._case_status(
            CrmCaseStatus.AUTHORIZED, "authorized", rma_number=rma.number, instructions=instructions
        )
        self._set(ReturnStatus.AWAITING_GOODS, f"RMA {rma.number}, goods due by {deadline.date()}")
        return rma

    # --- 4. the goods ------------------------------------------------------------------------

    async def _await_goods(self, rma: ReturnAuthorization) -> ReturnAuthorization:
        s = self._s
        assert s.receipt_deadline is not None
        seen = 0
        while True:
            left = s.receipt_deadline - workflow.now()
            if left.total_seconds() <= 0:
                received = await self._deadline_passed()
                if received is not None:
                    rma = received
                    break
                raise ReturnEnded(
                    ReturnStatus.NOT_RECEIVED,
                    f"goods for RMA {rma.number} did not arrive by {s.receipt_deadline.date()}",
                )

            def noticed(count: int = seen) -> bool:
                return len(self._notices) != count

            await self._wait(
                noticed,
                min(left, self._in.receipt_poll_every),
                "poll the ERP for the returned goods",
            )
            news, seen = self._notices[seen:], len(self._notices)
            reported = next((n for n in reversed(news) if n.lines), None)
            if reported is not None and reported.lines is not None:
                try:
                    rma = await self._calls.record_receipt(rma.number, reported.lines)
                except ActivityError as err:
                    kind, message = failure_of(err)
                    if kind not in ("InvalidRecord", "InvalidState", "IdempotencyConflict"):
                        raise
                    # A receipt that does not fit the RMA loses nothing: it is refused, the
                    # ERP below still tells whether the warehouse booked one.
                    self._event("receipt-refused", message, actor=reported.source)
                    await self._note(
                        f"receipt-refused/{seen}", "Goods receipt refused", f"{kind}: {message}"
                    )
            current = await self._calls.authorization()
            if current is not None and current.status is ReturnAuthorizationStatus.RECEIVED:
                rma = current
                break
            if current is not None and current.status is ReturnAuthorizationStatus.CANCELLED:
                self._done_with(CANCEL_RMA)
                raise ReturnEnded(
                    ReturnStatus.NOT_RECEIVED, f"RMA {rma.number} was cancelled in the ERP"
                )
        self._done_with(CANCEL_RMA)  # received goods cannot be un-authorized
        s.received = [ReceiptLine(line_no=ln.line_no, quantity=ln.received) for ln in rma.lines]
        arrived = sum((ln.received for ln in rma.lines), ZERO)
        await self._case_status(CrmCaseStatus.RECEIVED, "received")
        self._set(ReturnStatus.AWAITING_INSPECTION, f"{arrived} received on RMA {rma.number}")
        return rma

    async def _deadline_passed(self) -> ReturnAuthorization | None:
        """Cancel the RMA; the goods it turns out did arrive, if they did."""
        try:
            await self._calls.cancel_authorization()
        except ActivityError as err:
            if failure_of(err)[0] != InvalidState.__name__:
                raise
            # Booked by the warehouse at the last minute: go on with what arrived.
            current = await self._calls.authorization()
            if current is not None and current.status is ReturnAuthorizationStatus.RECEIVED:
                return current
            raise
        self._done_with(CANCEL_RMA)
        return None

    # --- 5. inspection -----------------------------------------------------------------------

    async def _await_inspection(self) -> None:
        await workflow.wait_condition(lambda: self._s.inspection is not None)

    # --- 6. restock, write-off, credit -------------------------------------------------------

    async def _credit(self, rma: ReturnAuthorization, order: ReturnableOrder) -> None:
        s, policy = self._s, self._in.policy
        inspection = s.inspection
        assert inspection is not None
        self._set(ReturnStatus.CREDITING, "restocking and crediting")
        restock = restock_lines(inspection)
        if restock:
            self._register(REVERSE_RESTOCK)
            done = await self._calls.restock(rma.number, restock)
            s.restock_number = done.number
            self._event("restocked", f"{done.number}: " + _describe(done.lines))
        scrap = scrap_lines(inspection)
        if scrap:
            off = await self._calls.write_off(rma.number, scrap)
            s.write_off_number = off.number
            self._event("written-off", f"{off.number}: " + _describe(off.lines))
        accepted = accepted_quantities(inspection, policy)
        if accepted:
            self._register(CANCEL_CREDIT_NOTE)
            note = await self._calls.credit_note(rma.number, accepted, workflow.now().date())
            s.credit_note_number, s.credited_total = note.number, note.total
            self._event("credited", f"{note.number}: {note.total} {note.currency}")
            if order.invoice_paid:
                refund = await self._calls.refund(note.number)
                s.refund_number = refund.number
                self._event("refunded", f"{refund.number}: {refund.amount} {refund.currency}")

    # --- 7. resolution -----------------------------------------------------------------------

    async def _resolve(self) -> None:
        s = self._s
        if s.credit_note_number is not None:
            money = f"credit note {s.credit_note_number} for {s.credited_total} {s.currency}"
            if s.refund_number is not None:
                money += f", paid back by refund {s.refund_number}"
        else:
            money = "nothing to credit"
        answer = f"Your return {s.rma_number} was received and inspected: {money}."
        await self._close_case(CrmCaseOutcome.RESOLVED, answer)
        s.compensations = []  # the case is resolved: what was credited stands
        await self._note("customer-notified", "Customer notified of the return's outcome", answer)
        self._set(ReturnStatus.RESOLVED, money)

    # --- handlers ----------------------------------------------------------------------------

    @workflow.query
    def status(self) -> ReturnState:
        """The full state: step, RMA, receipt, inspection, ERP documents, events."""
        return self._s

    @workflow.signal
    def goods_received(self, notice: GoodsReceivedNotice) -> None:
        """Goods arrived: with lines, record them; without, ask the ERP now."""
        self._notices.append(notice)
        what = _describe(notice.lines) if notice.lines else "check the ERP"
        self._event("goods-notice", what, actor=notice.source)

    @workflow.update
    def inspect(self, input: InspectInput) -> InspectResult:
        """Record the inspection: per line, what goes back on hand and what is scrap."""
        self._s.inspection = input.inspection
        self._event(
            "inspected",
            ", ".join(
                f"line {ln.line_no}: restock {ln.restock_quantity}, scrap {ln.scrap_quantity}"
                for ln in input.inspection.lines
            ),
            actor=input.inspection.inspector,
        )
        restock = sum((ln.restock_quantity for ln in input.inspection.lines), ZERO)
        scrap = sum((ln.scrap_quantity for ln in input.inspection.lines), ZERO)
        credit = accepted_quantities(input.inspection, self._in.policy)
        return InspectResult(
            restock_quantity=restock, scrap_quantity=scrap, credit_lines=len(credit)
        )

    @inspect.validator
    def _validate_inspect(self, input: InspectInput) -> None:
        s = self._s
        if s.status is not ReturnStatus.AWAITING_INSPECTION or self._rma is None:
            raise ValueError(f"return {self._key} is not awaiting inspection (it is {s.status})")
        if s.inspection is not None:
            raise ValueError(f"return {self._key} was inspected already")
        problems = inspection_problems(input.inspection, self._rma)
        if problems:
            raise ValueError("inspection refused: " + "; ".join(problems))


def _describe(lines: Iterable[ReceiptLine | RestockedLine | ScrappedLine]) -> str:
    """``line 1: 2, line 2: 1`` for events."""
    return ", ".join(f"line {line.line_no}: {line.quantity}" for line in lines)
