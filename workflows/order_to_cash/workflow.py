"""Order-to-cash: a CRM order becomes a reserved, approved, shipped, invoiced and paid ERP order.

Steps (each visible in the Temporal UI as the current details and as activity summaries):
read and validate → resolve customer → credit check → reserve stock → approval (when a rule
triggers) → ERP sales order → wait for shipment → invoice → collect payment (with dunning).

Cancellation (Update ``cancel``, or cancelling the run from the UI) and any permanent failure after
a reservation run the registered compensations in reverse order, then set the CRM status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime, time, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from domain.models import (
        CrmNote,
        CrmOrder,
        CrmOrderStatus,
        CrmStatusUpdate,
        CrmTask,
        CustomerData,
        InvoiceRequest,
        InvoiceStatus,
        ReservationRequest,
        SalesOrderLine,
        SalesOrderRequest,
        SalesOrderStatus,
    )
    from domain.orders import (
        ApprovalState,
        OrderEvent,
        OrderStatus,
        ReservationView,
        StockPolicy,
    )
    from domain.rules import approval_reasons, check_credit, order_totals, validate_order
    from workflows import search_attributes as sa
    from workflows.order_to_cash.calls import Calls
    from workflows.order_to_cash.models import (
        CancelInput,
        CancelResult,
        Compensation,
        CompensationKind,
        DecideInput,
        DecideResult,
        OrderState,
        OrderToCashInput,
        OrderToCashResult,
        PaymentNotice,
        ShipmentNotice,
        StockNotice,
        workflow_id,
    )


class _Stop(Exception):
    """Ends the order early with a final status (rejected or cancelled) and a reason."""

    def __init__(self, status: OrderStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _failure(err: ActivityError) -> tuple[str, str]:
    """(error type, readable message) of a failed activity."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        message = cause.message
        details = cause.details[0] if cause.details else None
        if isinstance(details, dict) and details.get("problems"):
            message += ": " + "; ".join(str(p) for p in details["problems"])
        return cause.type or "ApplicationError", message
    return type(cause).__name__ if cause else "ActivityError", str(cause or err)


@workflow.defn
class OrderToCashWorkflow:
    """One CRM order from receipt to payment; its workflow id is ``order-<crm order id>``."""

    @workflow.init
    def __init__(self, input: OrderToCashInput) -> None:
        self._in = input
        self._s = input.resume or OrderState(order_id=input.order_id, requester=input.requested_by)
        self._calls = Calls(input.crm_task_queue, input.erp_task_queue)
        self._key = workflow_id(input.order_id)
        self._decision: DecideInput | None = None
        self._cancel: CancelInput | None = None
        self._shipment_nudges = 0
        self._payment_nudges = 0
        self._stock_nudges = 0
        self._crm_order_known = input.resume is not None

    # --- the process -------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: OrderToCashInput) -> OrderToCashResult:
        try:
            await self._process()
        except _Stop as stop:
            await self._shielded(self._unwind(stop.status, stop.reason))
        except (ActivityError, asyncio.CancelledError) as err:
            if is_cancelled_exception(err):
                # Cancelled from the Temporal UI or API, possibly while an activity ran.
                await self._shielded(self._cancelled_from_temporal())
                raise
            assert isinstance(err, ActivityError)
            kind, message = _failure(err)
            if self._s.shipped_at is not None:
                # Goods have left: nothing can be undone, a person must look at it.
                await self._needs_attention(f"{kind}: {message}")
                raise ApplicationError(
                    f"order {input.order_id} needs attention: {message}",
                    type=kind,
                    non_retryable=True,
                ) from err
            await self._shielded(self._unwind(OrderStatus.REJECTED, f"{kind}: {message}"))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._result()

    @staticmethod
    async def _shielded(step: Coroutine[Any, Any, None]) -> None:
        """Run clean-up to its end even if the workflow is cancelled (again) meanwhile."""
        await asyncio.shield(asyncio.ensure_future(step))

    async def _cancelled_from_temporal(self) -> None:
        if self._s.shipped_at is None:
            await self._unwind(OrderStatus.CANCELLED, "cancelled from Temporal")
            return
        # After shipment there is nothing to undo and the invoice stays open: never pretend the
        # order was cancelled, flag it instead.
        await self._needs_attention(
            f"run cancelled from Temporal after shipment; invoice {self._s.invoice_number or '-'} "
            f"still open ({self._s.amount_paid} paid)"
        )

    async def _process(self) -> None:
        s = self._s
        if s.erp_order_number is None:
            await self._prepare()
        if s.shipped_at is None:
            await self._await_shipment()
        if s.invoice_number is None:
            await self._invoice()
        await self._collect_payment()

    async def _prepare(self) -> None:
        s, calls = self._s, self._calls
        self._set(OrderStatus.RECEIVED, "reading the order from the CRM")
        try:
            order = (await calls.fetch_order(s.order_id)).order
        except ActivityError as err:
            if is_cancelled_exception(err):
                raise
            kind, message = _failure(err)
            raise _Stop(OrderStatus.REJECTED, f"{kind}: {message}") from err
        self._crm_order_known = True
        s.account_id, s.currency = order.account_id, order.currency
        s.requester = s.requester or order.owner
        s.payment_terms_days = order.payment_terms_days
        skus = sorted({line.sku for line in order.lines})
        products = {p.sku: p for p in await calls.products(skus)} if skus else {}
        problems = validate_order(order, products)
        if problems:
            raise _Stop(OrderStatus.REJECTED, "invalid order: " + "; ".join(problems))
        totals = order_totals(order)
        s.total = totals.total
        workflow.upsert_search_attributes(
            [
                sa.CUSTOMER_ID.value_set(order.account_id or ""),
                sa.ORDER_TOTAL.value_set(float(totals.total)),
            ]
        )
        self._set(
            OrderStatus.VALIDATED, f"{len(order.lines)} lines, {totals.total} {totals.currency}"
        )
        await self._crm_status(CrmOrderStatus.IN_PROGRESS, "in-progress")
        self._stop_if_cancelled()

        customer_id = await self._resolve_customer(order)
        check = check_credit(totals.total, await calls.credit_status(customer_id))
        if check.blocked:
            raise _Stop(OrderStatus.REJECTED, f"customer {customer_id} is blocked in the ERP")
        rules = self._in.policy.approval
        if not check.within_limit and not rules.approve_credit_excess:
            raise _Stop(OrderStatus.REJECTED, f"credit limit exceeded by {check.exceeded_by}")
        self._set(OrderStatus.CREDIT_CHECKED, f"exposure {check.exposure} of {check.credit_limit}")
        self._stop_if_cancelled()

        await self._reserve_all(order)
        reasons = approval_reasons(totals, check, rules)
        if reasons:
            decision = await self._approval(reasons)
            if decision != "approved":
                raise _Stop(OrderStatus.REJECTED, f"approval {decision}: " + "; ".join(reasons))
        self._stop_if_cancelled()
        await self._create_sales_order(order, customer_id)

    async def _resolve_customer(self, order: CrmOrder) -> str:
        s, calls = self._s, self._calls
        assert order.account_id is not None
        account = (await calls.fetch_account(order.account_id)).account
        if account.erp_customer_id:
            s.erp_customer_id = account.erp_customer_id
            self._event("customer", f"linked ERP customer {account.erp_customer_id}")
            return account.erp_customer_id
        found = await calls.ensure_customer(
            CustomerData(
                external_ref=account.account_id,
                name=account.name,
                tax_id=account.tax_id,
                email=account.email,
                phone=account.phone,
                address=account.address,
                currency=order.currency,
            )
        )
        customer_id = found.customer.customer_id
        await calls.link_account(account.account_id, customer_id)
        s.erp_customer_id = customer_id
        how = "matched existing" if found.matched else "created"
        self._event("customer", f"{how} ERP customer {customer_id}")
        return customer_id

    async def _reserve_all(self, order: CrmOrder) -> None:
        s, policy = self._s, self._in.policy
        stock_deadline = workflow.now() + policy.stock_wait
        preferred = [order.preferred_warehouse] if order.preferred_warehouse else []
        for line in sorted(order.lines, key=lambda ln: ln.line_no):
            ref = f"{self._key}/reserve/{line.line_no}"
            self._register(CompensationKind.RELEASE_STOCK, ref, f"release {line.sku}")
            self._set(OrderStatus.RESERVING, f"reserving {line.quantity} x {line.sku}")
            request = ReservationRequest(
                reference=ref, sku=line.sku, quantity=line.quantity, warehouses=preferred
            )
            while True:
                seen = self._stock_nudges  # before the call, so a notice during it is not lost
                try:
                    reservation = await self._calls.reserve(request)
                    break
                except ActivityError as err:
                    kind, message = _failure(err)
                    if kind != "InsufficientStock":
                        raise
                    waiting = policy.stock_policy is StockPolicy.WAIT
                    if not waiting or workflow.now() >= stock_deadline:
                        raise _Stop(OrderStatus.REJECTED, message) from err
                await self._wait_for_stock(line.sku, stock_deadline, seen)
            s.reservations.append(
                ReservationView(
                    reference=ref,
                    sku=line.sku,
                    quantity=reservation.quantity,
                    warehouses={rl.warehouse: rl.quantity for rl in reservation.lines},
                )
            )
            where = ", ".join(f"{rl.quantity} in {rl.warehouse}" for rl in reservation.lines)
            self._event("reserved", f"{line.sku}: {where}")
            self._stop_if_cancelled()

    async def _wait_for_stock(self, sku: str, deadline: datetime, seen: int) -> None:
        if self._s.status is not OrderStatus.AWAITING_STOCK:
            self._set(
                OrderStatus.AWAITING_STOCK, f"waiting for {sku} until {deadline:%Y-%m-%d %H:%M}"
            )
            await self._crm_status(CrmOrderStatus.AWAITING_STOCK, "awaiting-stock")
        timeout = min(self._in.policy.stock_recheck_every, deadline - workflow.now())
        await self._wait(lambda: self._stock_nudges != seen, timeout, f"recheck stock of {sku}")
        self._stop_if_cancelled()

    async def _approval(self, reasons: list[str]) -> str:
        """The approval step: one call site, so a multi-level chain can replace it."""
        s = self._s
        approvers = await self._calls.list_approvers()
        deadline = workflow.now() + self._in.policy.approval_timeout
        s.approval = ApprovalState(
            reasons=reasons,
            requester=s.requester or "",
            eligible_approvers=approvers,
            deadline=deadline,
        )
        self._set(OrderStatus.AWAITING_APPROVAL, "; ".join(reasons))
        await self._crm_status(CrmOrderStatus.AWAITING_APPROVAL, "approval-requested")
        await self._calls.create_task(
            CrmTask(
                key=f"{self._key}/approval/task",
                order_id=s.order_id,
                subject=f"Approve order {s.order_id}",
                body="Needs approval: " + "; ".join(reasons),
                assignee="approvers",
                due=deadline.date(),
            )
        )
        await self._wait(
            lambda: self._decision is not None,
            self._in.policy.approval_timeout,
            "approval deadline",
        )
        self._stop_if_cancelled()
        decision = self._decision
        if decision is None:  # an accepted decision wins even if the deadline fired with it
            s.approval.decision = "expired"
            self._event("approval", "no decision before the deadline")
            return "expired"
        verdict = "approved" if decision.approve else "rejected"
        s.approval.decision, s.approval.decided_by = verdict, decision.approver
        s.approval.comment = decision.comment
        await self._calls.add_note(
            CrmNote(
                key=f"{self._key}/approval/decision",
                order_id=s.order_id,
                subject=f"Order {verdict} by {decision.approver}",
                body=decision.comment,
            )
        )
        return verdict

    async def _create_sales_order(self, order: CrmOrder, customer_id: str) -> None:
        s = self._s
        ref = f"{self._key}/sales-order"
        self._register(CompensationKind.CANCEL_SALES_ORDER, ref, "cancel the ERP sales order")
        so = await self._calls.create_sales_order(
            SalesOrderRequest(
                reference=ref,
                customer_id=customer_id,
                currency=order.currency,
                lines=[
                    SalesOrderLine(
                        line_no=ln.line_no,
                        sku=ln.sku,
                        quantity=ln.quantity,
                        unit_price=ln.unit_price,
                        discount_pct=ln.discount_pct,
                    )
                    for ln in order.lines
                ],
                tax_pct=order.tax_pct,
                reservation_refs=[r.reference for r in s.reservations],
                crm_order_id=order.order_id,
                order_date=workflow.now().date(),
            )
        )
        s.erp_order_number, s.promised_date = so.number, so.promised_date
        workflow.upsert_search_attributes([sa.ERP_ORDER_NUMBER.value_set(so.number)])
        self._event("erp-order", f"{so.number}, promised {so.promised_date}")
        await self._crm_status(
            CrmOrderStatus.CONFIRMED,
            "confirmed",
            erp_order_number=so.number,
            promised_date=so.promised_date,
        )
        self._set(OrderStatus.AWAITING_SHIPMENT, f"{so.number} promised for {so.promised_date}")

    async def _await_shipment(self) -> None:
        s = self._s
        ref = f"{self._key}/sales-order"
        seen = self._shipment_nudges
        while True:
            await self._wait(
                lambda seen=seen: self._shipment_nudges != seen,
                self._in.policy.shipment_poll_every,
                "poll the ERP for shipment",
            )
            self._stop_if_cancelled()
            # Read the counter before asking the ERP: a notice arriving during the call must
            # wake the next wait instead of being lost.
            seen = self._shipment_nudges
            so = await self._calls.sales_order(ref)
            if so is not None and so.status in (
                SalesOrderStatus.SHIPPED,
                SalesOrderStatus.INVOICED,
            ):
                break
            if so is not None and so.status is SalesOrderStatus.CANCELLED:
                raise _Stop(OrderStatus.CANCELLED, f"sales order {so.number} cancelled in the ERP")
            await self._maybe_continue_as_new()
        s.shipped_at = so.shipped_at or workflow.now()
        # Shipped stock is consumed and a shipped order cannot be cancelled: nothing left to undo.
        s.compensations = []
        self._set(OrderStatus.SHIPPED, f"{so.number} shipped")
        await self._crm_status(CrmOrderStatus.SHIPPED, "shipped")

    async def _invoice(self) -> None:
        s = self._s
        assert s.erp_order_number is not None
        invoice = await self._calls.create_invoice(
            InvoiceRequest(
                reference=f"{self._key}/invoice",
                sales_order_number=s.erp_order_number,
                payment_terms_days=s.payment_terms_days,
                invoice_date=workflow.now().date(),
            )
        )
        s.invoice_number, s.due_date = invoice.number, invoice.due_date
        self._event("invoiced", f"{invoice.number}: {invoice.total} {invoice.currency}")
        await self._crm_status(CrmOrderStatus.INVOICED, "invoiced", invoice_number=invoice.number)
        self._set(OrderStatus.AWAITING_PAYMENT, f"{invoice.number} due {invoice.due_date}")

    async def _collect_payment(self) -> None:
        s, policy = self._s, self._in.policy
        assert s.invoice_number is not None and s.due_date is not None
        # Payable through the whole due date; reminders start the day after.
        overdue_from = datetime.combine(s.due_date + timedelta(days=1), time.min, tzinfo=UTC)
        while True:
            seen = self._payment_nudges  # before the call, so a notice during it is not lost
            invoice = await self._calls.invoice(s.invoice_number)
            if invoice.amount_paid != s.amount_paid:
                s.amount_paid = invoice.amount_paid
                self._event("payment", f"paid {invoice.amount_paid}, open {invoice.outstanding}")
            if invoice.status is InvoiceStatus.PAID or invoice.outstanding <= 0:
                break
            now = workflow.now()
            next_reminder: datetime | None = None
            if s.reminders_sent < policy.dunning_max_reminders:
                next_reminder = overdue_from + policy.dunning_every * s.reminders_sent
                if now >= next_reminder:
                    await self._remind(invoice.outstanding, invoice.currency)
                    continue
            wake = now + policy.payment_poll_every
            if next_reminder is not None:
                wake = min(wake, next_reminder)
            await self._wait(
                lambda seen=seen: self._payment_nudges != seen, wake - now, "payment check"
            )
            await self._maybe_continue_as_new()
        await self._crm_status(CrmOrderStatus.CLOSED, "closed")
        self._set(OrderStatus.COMPLETED, f"paid {s.amount_paid} {s.currency}")

    async def _remind(self, outstanding: object, currency: str) -> None:
        s = self._s
        n = s.reminders_sent + 1
        subject = (
            f"Payment reminder {n}: invoice {s.invoice_number} overdue, "
            f"{outstanding} {currency} open"
        )
        key = f"{self._key}/dunning/{n}"
        await self._calls.add_note(CrmNote(key=key, order_id=s.order_id, subject=subject))
        await self._calls.create_task(
            CrmTask(
                key=key,
                order_id=s.order_id,
                subject=f"Call the customer about invoice {s.invoice_number}",
                body=subject,
                assignee=s.requester or "sales",
                due=workflow.now().date() + timedelta(days=2),
            )
        )
        s.reminders_sent = n
        if s.status is not OrderStatus.OVERDUE:
            await self._crm_status(CrmOrderStatus.OVERDUE, "overdue")
        self._set(OrderStatus.OVERDUE, subject)

    # --- compensation ------------------------------------------------------------------------

    def _register(self, kind: CompensationKind, reference: str, label: str) -> None:
        self._s.compensations.append(Compensation(kind=kind, reference=reference, label=label))

    async def _unwind(self, status: OrderStatus, reason: str) -> None:
        """Run the compensations in reverse, set the CRM status, end with ``status``."""
        s = self._s
        s.reason = reason
        if s.compensations:
            self._set(OrderStatus.COMPENSATING, reason)
        for comp in reversed(s.compensations):
            try:
                if comp.kind is CompensationKind.RELEASE_STOCK:
                    await self._calls.release(comp.reference)
                else:
                    await self._calls.cancel_sales_order(comp.reference)
                self._event("compensated", comp.label)
            except ActivityError as err:
                kind, message = _failure(err)
                s.needs_attention.append(f"{comp.label} failed: {kind}: {message}")
                self._event("compensation-failed", f"{comp.label}: {message}")
        s.reservations = []
        s.compensations = []
        if self._crm_order_known:
            crm_status = (
                CrmOrderStatus.CANCELLED
                if status is OrderStatus.CANCELLED
                else CrmOrderStatus.REJECTED
            )
            try:
                await self._crm_status(crm_status, status.value.lower(), reason=reason)
            except ActivityError as err:
                s.needs_attention.append(f"CRM status not set: {_failure(err)[1]}")
        self._set(status, reason)

    async def _needs_attention(self, problem: str) -> None:
        self._s.needs_attention.append(problem)
        self._event("needs-attention", problem)
        try:
            await self._calls.add_note(
                CrmNote(
                    key=f"{self._key}/attention/{len(self._s.needs_attention)}",
                    order_id=self._s.order_id,
                    subject="Order needs attention",
                    body=problem,
                )
            )
        except ActivityError:
            self._event("needs-attention", "the CRM note could not be written either")

    # --- handlers ----------------------------------------------------------------------------

    @workflow.query
    def status(self) -> OrderState:
        """The full state: step, reservations, ERP ids, approval, events."""
        return self._s

    def _decision_problem(self, input: DecideInput) -> str | None:
        approval = self._s.approval
        if self._s.status is not OrderStatus.AWAITING_APPROVAL or approval is None:
            return f"order {self._s.order_id} is not awaiting approval (it is {self._s.status})"
        if self._decision is not None:
            return "a decision was already made"
        if input.approver == approval.requester:
            return f"{input.approver} requested this order and cannot approve it (four-eyes)"
        if input.approver not in approval.eligible_approvers:
            return f"{input.approver} is not an approver"
        return None

    @workflow.update
    def decide(self, input: DecideInput) -> DecideResult:
        """An approver approves or rejects; refused by the validator before history if invalid."""
        self._accept_decision(input)
        return DecideResult(
            status=self._s.status, decision="approved" if input.approve else "rejected"
        )

    @decide.validator
    def _validate_decide(self, input: DecideInput) -> None:
        problem = self._decision_problem(input)
        if problem:
            raise ValueError(problem)

    @workflow.signal
    def decide_signal(self, input: DecideInput) -> None:
        """The same decision, for tools that can only signal; invalid ones are only recorded."""
        problem = self._decision_problem(input)
        if problem:
            self._event("decision-refused", problem, actor=input.approver)
            return
        self._accept_decision(input)

    def _accept_decision(self, input: DecideInput) -> None:
        self._decision = input
        verdict = "approved" if input.approve else "rejected"
        self._event("decision", f"{verdict}: {input.comment}".rstrip(": "), actor=input.approver)

    @workflow.update
    async def cancel(self, input: CancelInput) -> CancelResult:
        """Cancel the order; accepted until shipment."""
        s = self._s
        if s.erp_order_number is not None:
            # The ERP may have shipped before telling us: ask it before accepting.
            so = await self._calls.sales_order(f"{self._key}/sales-order")
            if so is not None and so.status in (
                SalesOrderStatus.SHIPPED,
                SalesOrderStatus.INVOICED,
            ):
                self._shipment_nudges += 1
                self._event(
                    "cancel-refused", "already shipped in the ERP", actor=input.requested_by
                )
                return CancelResult(accepted=False, status=s.status)
        if not s.status.cancellable:
            return CancelResult(accepted=False, status=s.status)
        if self._cancel is None:
            self._cancel = input
            s.cancel_requested_by = input.requested_by
            self._event("cancel-requested", input.reason, actor=input.requested_by)
        return CancelResult(accepted=True, status=s.status)

    @cancel.validator
    def _validate_cancel(self, input: CancelInput) -> None:
        if not self._s.status.cancellable:
            raise ValueError(
                f"order {self._s.order_id} is {self._s.status}: "
                "cancellation is accepted only until shipment"
            )
        if not input.requested_by.strip():
            raise ValueError("requested_by must name who cancels")

    @workflow.signal
    def shipment_notified(self, input: ShipmentNotice) -> None:
        """The goods may have shipped: check the ERP now instead of at the next poll."""
        self._shipment_nudges += 1
        self._event("shipment-notice", input.shipment_ref or "", actor=input.source)

    @workflow.signal
    def payment_notified(self, input: PaymentNotice) -> None:
        """A payment may have arrived: check the invoice now."""
        self._payment_nudges += 1
        amount = f"{input.amount}" if input.amount is not None else ""
        self._event(
            "payment-notice", f"{amount} {input.reference or ''}".strip(), actor=input.source
        )

    @workflow.signal
    def stock_replenished(self, input: StockNotice) -> None:
        """Stock arrived: retry waiting reservations now."""
        self._stock_nudges += 1
        self._event("stock-notice", input.sku or "", actor=input.source)

    # --- helpers -----------------------------------------------------------------------------

    async def _wait(self, done: object, timeout: timedelta, summary: str) -> bool:
        """Wait until ``done()`` or a cancel request; False when the timeout passed first."""
        assert callable(done)
        try:
            await workflow.wait_condition(
                lambda: bool(done()) or self._cancel is not None,
                timeout=max(timeout, timedelta(seconds=1)),
                timeout_summary=summary,
            )
            return True
        except TimeoutError:
            return False

    def _stop_if_cancelled(self) -> None:
        if self._cancel is not None:
            raise _Stop(
                OrderStatus.CANCELLED, f"{self._cancel.reason} (by {self._cancel.requested_by})"
            )

    async def _maybe_continue_as_new(self) -> None:
        if workflow.info().is_continue_as_new_suggested():
            await workflow.wait_condition(workflow.all_handlers_finished)
            workflow.continue_as_new(self._in.model_copy(update={"resume": self._s}))

    async def _crm_status(self, status: CrmOrderStatus, step: str, **fields: object) -> None:
        await self._calls.set_status(
            CrmStatusUpdate.model_validate(
                {
                    "key": f"{self._key}/{step}",
                    "order_id": self._s.order_id,
                    "status": status,
                    **fields,
                }
            )
        )

    def _set(self, status: OrderStatus, detail: str) -> None:
        s = self._s
        changed = s.status is not status
        s.status, s.detail = status, detail
        if changed:
            workflow.upsert_search_attributes([sa.ORDER_STATUS.value_set(status.value)])
        self._event("status", f"{status.value}: {detail}")
        lines = [f"**{status.value}** — {detail}"]
        if s.erp_order_number:
            lines.append(f"ERP order {s.erp_order_number}")
        if s.invoice_number:
            lines.append(f"invoice {s.invoice_number}, paid {s.amount_paid} {s.currency or ''}")
        workflow.set_current_details("\n\n".join(lines))

    def _event(self, kind: str, detail: str, actor: str | None = None) -> None:
        self._s.events.append(OrderEvent(at=workflow.now(), kind=kind, detail=detail, actor=actor))

    def _result(self) -> OrderToCashResult:
        s = self._s
        return OrderToCashResult(
            order_id=s.order_id,
            status=s.status,
            reason=s.reason,
            erp_customer_id=s.erp_customer_id,
            erp_order_number=s.erp_order_number,
            invoice_number=s.invoice_number,
            total=s.total,
            amount_paid=s.amount_paid,
            needs_attention=s.needs_attention,
            events=s.events,
        )
