"""After the sales order: wait for shipment, invoice, collect payment with dunning."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.errors import InvalidState, NotShipped
    from domain.models import (
        CrmNote,
        CrmOrderStatus,
        CrmTask,
        Invoice,
        InvoiceRequest,
        InvoiceStatus,
        SalesOrderStatus,
    )
    from domain.orders import OrderStatus
    from workflows import metrics
    from workflows.order_to_cash.base import OrderBase, OrderStopped, failure_of


class Fulfilment(OrderBase):
    """Shipment, invoice and payment steps of order-to-cash."""

    async def _await_shipment(self) -> Invoice | None:
        """Wait until the goods left; returns the invoice when a notice let it be made at once.

        A shipment notice goes straight to invoicing: the ERP refuses an unshipped order with
        ``NotShipped``, which sends the process back to waiting, so trusting the notice costs
        nothing and saves the round trip of reading the sales order first. Polls (no notice)
        read the sales order, since most of them find it still open.
        """
        s = self._s
        ref = f"{self._key}/sales-order"
        direct = self._patched("invoice-on-shipment-notice")
        # A notice that came before the sales order existed (a fast warehouse, a webhook racing
        # the workflow) still counts: check the ERP at once instead of at the next poll.
        seen = 0
        while True:
            await self._wait(
                lambda seen=seen: self._shipment_nudges != seen,
                self._in.policy.shipment_poll_every,
                "poll the ERP for shipment",
            )
            self._stop_if_cancelled()
            # Read the counter before asking the ERP: a notice arriving during the call must
            # wake the next wait instead of being lost.
            noticed, seen = self._shipment_nudges != seen, self._shipment_nudges
            refused: ActivityError | None = None
            if direct and noticed:
                try:
                    invoice = await self._calls.create_invoice(self._invoice_request())
                except ActivityError as err:
                    kind = failure_of(err)[0]
                    if kind == NotShipped.__name__:
                        continue  # an early or mistaken notice: keep waiting
                    if kind != InvalidState.__name__:
                        raise
                    # Cancelled in the ERP, or a refusal of the invoice itself: the sales
                    # order tells which.
                    refused = err
                else:
                    self._shipped(workflow.now(), s.erp_order_number or "")
                    self._invoiced(invoice)
                    return invoice
            so = await self._calls.sales_order(ref)
            if so is not None and so.status in (
                SalesOrderStatus.SHIPPED,
                SalesOrderStatus.INVOICED,
            ):
                if refused is not None:
                    self._shipped(so.shipped_at or workflow.now(), so.number)
                    raise refused
                break
            if so is not None and so.status is SalesOrderStatus.CANCELLED:
                raise OrderStopped(
                    OrderStatus.CANCELLED,
                    f"sales order {so.number} cancelled in the ERP",
                    cause="cancelled-in-erp",
                )
            await self._maybe_continue_as_new()
        self._shipped(so.shipped_at or workflow.now(), so.number)
        return None

    def _shipped(self, at: datetime, number: str) -> None:
        self._s.shipped_at = at
        # Shipped stock is consumed and a shipped order cannot be cancelled: nothing left to undo.
        self._s.compensations = []
        self._set(OrderStatus.SHIPPED, f"{number} shipped")
        self._crm_later(CrmOrderStatus.SHIPPED, "shipped")

    def _invoice_request(self) -> InvoiceRequest:
        s = self._s
        assert s.erp_order_number is not None
        return InvoiceRequest(
            reference=f"{self._key}/invoice",
            sales_order_number=s.erp_order_number,
            payment_terms_days=s.payment_terms_days,
            invoice_date=workflow.now().date(),
        )

    async def _invoice(self) -> Invoice:
        invoice = await self._calls.create_invoice(self._invoice_request())
        self._invoiced(invoice)
        return invoice

    def _invoiced(self, invoice: Invoice) -> None:
        s = self._s
        s.invoice_number, s.due_date = invoice.number, invoice.due_date
        self._event("invoiced", f"{invoice.number}: {invoice.total} {invoice.currency}")
        self._crm_later(CrmOrderStatus.INVOICED, "invoiced", invoice_number=invoice.number)
        self._set(OrderStatus.AWAITING_PAYMENT, f"{invoice.number} due {invoice.due_date}")

    async def _collect_payment(self, fresh: Invoice | None = None) -> None:
        """Wait until the invoice is paid; ``fresh`` is the invoice just created, if any."""
        s, policy = self._s, self._in.policy
        assert s.invoice_number is not None and s.due_date is not None
        # Payable through the whole due date; reminders start the day after.
        overdue_from = datetime.combine(s.due_date + timedelta(days=1), time.min, tzinfo=UTC)
        while True:
            # Read the counter before the call, so a notice during it is not lost. The invoice
            # just created predates any payment notice, so with it every notice so far counts.
            seen = 0 if fresh is not None else self._payment_nudges
            invoice = fresh or await self._calls.invoice(s.invoice_number)
            fresh = None
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
        if self._patched("crm-outbox-batches"):
            # Closed goes with any change still queued, in one call.
            self._crm_later(CrmOrderStatus.CLOSED, "closed")
            await self._crm_drain()
        else:
            await self._crm_drain()
            await self._crm_status(CrmOrderStatus.CLOSED, "closed")
        self._set(OrderStatus.COMPLETED, f"paid {s.amount_paid} {s.currency}")
        metrics.order_completed()

    async def _remind(self, outstanding: Decimal, currency: str) -> None:
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
            self._crm_later(CrmOrderStatus.OVERDUE, "overdue")
        self._set(OrderStatus.OVERDUE, subject)

    # --- compensation ------------------------------------------------------------------------
