"""The machinery every order-to-cash run shares: its state, the UI details and search
attributes, the waits, the CRM outbox, and compensation. No business step lives here."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from domain.models import CrmNote, CrmOrderStatus, CrmStatusUpdate
    from domain.orders import OrderEvent, OrderStatus
    from workflows import metrics
    from workflows import search_attributes as sa
    from workflows.order_to_cash.calls import Calls
    from workflows.order_to_cash.models import (
        CancelInput,
        Compensation,
        CompensationKind,
        OrderState,
        OrderToCashInput,
        OrderToCashResult,
        workflow_id,
    )


class OrderStopped(Exception):
    """Ends the order early with a final status (rejected or cancelled) and a reason.

    ``cause`` is the reason's kind from a closed set (``credit-limit``, ``out-of-stock``, an
    error type…): the label the metrics count by, where ``reason`` is free text for people.
    """

    def __init__(self, status: OrderStatus, reason: str, *, cause: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.cause = cause


def failure_of(err: ActivityError) -> tuple[str, str]:
    """(error type, readable message) of a failed activity."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        message = cause.message
        details = cause.details[0] if cause.details else None
        if isinstance(details, dict) and details.get("problems"):
            message += ": " + "; ".join(str(p) for p in details["problems"])
        return cause.type or "ApplicationError", message
    return type(cause).__name__ if cause else "ActivityError", str(cause or err)


class OrderBase:
    """State and shared mechanics of one order-to-cash run."""

    def _setup(self, input: OrderToCashInput) -> None:
        self._in = input
        self._s = input.resume or OrderState(order_id=input.order_id, requester=input.requested_by)
        self._calls = Calls(input.crm_task_queue, input.erp_task_queue)
        self._key = workflow_id(input.order_id)
        self._cancel: CancelInput | None = None
        self._shipment_nudges = 0
        self._payment_nudges = 0
        self._stock_nudges = 0
        self._crm_order_known = input.resume is not None

        self._crm_tail: asyncio.Task[None] | None = None
        self._crm_queued: list[CrmStatusUpdate] = []
        # Version 2 on: the changes version 1 gates with ``workflow.patched`` are always on, and
        # search attributes learnt between resting statuses wait for the next one (``_index``).
        self._lean = input.version >= 2
        self._unindexed: list[SearchAttributeUpdate[Any]] = []
        # Version 3 on: a resting status is written (search attributes, CRM) only once the run
        # really waits in it (``_rest``); one whose wait is over before it begins is skipped.
        self._rest_first = input.version >= 3
        self._unsettled = False

    def _patched(self, patch_id: str) -> bool:
        """``workflow.patched`` for version 1 runs; version 2 has every such change built in."""
        return self._lean or workflow.patched(patch_id)

    def _index(self, *updates: SearchAttributeUpdate[Any]) -> None:
        """Set search attributes: at once in version 1, with the next resting status in 2.

        Each upsert is a visibility write on the server. The steps between two resting statuses
        take milliseconds; only while one of them retries against a system that is down does
        the order wait with ``OrderStatus`` RECEIVED and these attributes not yet written
        (docs/operations.md).
        """
        if self._lean:
            self._unindexed.extend(updates)
        else:
            workflow.upsert_search_attributes(list(updates))

    @staticmethod
    async def _shielded(step: Coroutine[Any, Any, None]) -> None:
        """Run clean-up to its end even if the workflow is cancelled (again) meanwhile."""
        await asyncio.shield(asyncio.ensure_future(step))

    def _register(self, kind: CompensationKind, reference: str, label: str) -> None:
        self._s.compensations.append(Compensation(kind=kind, reference=reference, label=label))

    async def _unwind(self, status: OrderStatus, reason: str, cause: str) -> None:
        """Run the compensations in reverse, set the CRM status, end with ``status``."""
        s = self._s
        s.reason = reason
        compensated = bool(s.compensations)
        await self._crm_drain()  # earlier CRM changes land before the final one
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
                kind, message = failure_of(err)
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
                s.needs_attention.append(f"CRM status not set: {failure_of(err)[1]}")
        self._set(status, reason)
        metrics.order_stopped(status.value, cause, compensated=compensated)

    async def _needs_attention(self, problem: str) -> None:
        if self._rest_first and (
            self._unsettled or self._unindexed or not self._s.status.is_resting
        ):
            # The run ends here: what version 3 held for a rest is written, so the order is
            # found by its customer and ERP number, in the status it got to.
            self._write_index()
        if self._lean:
            # Changes still held for the next resting status (version 2) reach the CRM first:
            # the run ends here, and the CRM must show how far the order got.
            await self._crm_drain()
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

    # --- helpers ------------------------------------------------------------------------------

    async def _wait(self, done: Callable[..., bool], timeout: timedelta, summary: str) -> bool:
        """Wait until ``done()`` or a cancel request; False when the timeout passed first."""
        self._rest(done)
        try:
            await workflow.wait_condition(
                lambda: done() or self._cancel is not None,
                timeout=max(timeout, timedelta(seconds=1)),
                timeout_summary=summary,
            )
            return True
        except TimeoutError:
            return False

    def _stop_if_cancelled(self) -> None:
        if self._cancel is not None:
            raise OrderStopped(
                OrderStatus.CANCELLED,
                f"{self._cancel.reason} (by {self._cancel.requested_by})",
                cause="cancelled",
            )

    async def _maybe_continue_as_new(self) -> None:
        if workflow.info().is_continue_as_new_suggested():
            if self._unsettled:
                self._settle()
            await self._crm_drain()
            await workflow.wait_condition(workflow.all_handlers_finished)
            if self._unindexed:  # the next run starts with the search attributes of this one
                workflow.upsert_search_attributes(self._unindexed)
            workflow.continue_as_new(self._in.model_copy(update={"resume": self._s}))

    def _crm_later(self, status: CrmOrderStatus, step: str, **fields: object) -> None:
        """Send a CRM status change in the background, in order after the ones before it.

        The CRM only mirrors progress, so the process does not wait for it; a change that still
        fails after its retries is recorded as needing attention instead of stopping the order.
        """
        if self._patched("crm-outbox-batches"):
            # Changes that queued up while one was on its way go out together, in order. From
            # version 2 on, changes made between two resting statuses wait for the next one
            # (``_set``), so an order that goes straight through sends fewer, fuller batches.
            # From version 3 on they go out only when the run waits (``_rest``) or ends.
            self._crm_queued.append(self._crm_update(status, step, **fields))
            if not self._lean or (self._s.status.is_resting and not self._rest_first):
                self._crm_flush()
            return
        previous = self._crm_tail

        async def send() -> None:
            if previous is not None:
                await previous
            try:
                await self._crm_status(status, step, **fields)
            except ActivityError as err:
                if is_cancelled_exception(err):
                    return
                problem = f"CRM status {status.value} not set: {failure_of(err)[1]}"
                self._s.needs_attention.append(problem)
                self._event("needs-attention", problem)

        self._crm_tail = asyncio.ensure_future(send())

    def _crm_flush(self) -> None:
        """Start sending the queued CRM changes, unless a sender is at it already."""
        if self._crm_queued and (self._crm_tail is None or self._crm_tail.done()):
            self._crm_tail = asyncio.ensure_future(self._crm_send_queued())

    async def _crm_send_queued(self) -> None:
        while self._crm_queued:
            batch, self._crm_queued = self._crm_queued, []
            try:
                await self._calls.set_status(*batch)
            except ActivityError as err:
                if is_cancelled_exception(err):
                    return
                statuses = ", ".join(u.status.value for u in batch)
                problem = f"CRM status {statuses} not set: {failure_of(err)[1]}"
                self._s.needs_attention.append(problem)
                self._event("needs-attention", problem)

    async def _crm_drain(self) -> None:
        """Wait until every queued CRM status change went out."""
        if self._lean:
            self._crm_flush()
        # The sender stays the tail while it runs, so a change queued during the wait joins it
        # instead of starting a second sender that could overtake it.
        while self._crm_tail is not None and not self._crm_tail.done():
            # A change cut short by a cancellation of the run must not abort the clean-up.
            await asyncio.gather(self._crm_tail, return_exceptions=True)

    def _crm_update(self, status: CrmOrderStatus, step: str, **fields: object) -> CrmStatusUpdate:
        return CrmStatusUpdate.model_validate(
            {"key": f"{self._key}/{step}", "order_id": self._s.order_id, "status": status, **fields}
        )

    async def _crm_status(self, status: CrmOrderStatus, step: str, **fields: object) -> None:
        await self._calls.set_status(self._crm_update(status, step, **fields))

    def _set(self, status: OrderStatus, detail: str) -> None:
        s = self._s
        changed = s.status is not status
        s.status, s.detail = status, detail
        if self._rest_first and status.awaits_event:
            # Written by ``_rest`` if the run waits here; an order whose next event is already
            # in saves a visibility write and a CRM call per status it passes through.
            # COMPENSATING is written at once: the run may sit in it while a system is down.
            self._unsettled = self._unsettled or changed
        else:
            if changed and status.is_resting:
                self._write_index()
            if self._lean and status.is_resting:
                self._crm_flush()  # the CRM shows where the order rests
        self._event("status", f"{status.value}: {detail}")
        # The SDK's logger is silent while a history replays, so each change is logged once.
        workflow.logger.info("order %s: %s", status.value, detail)
        lines = [f"**{status.value}** — {detail}"]
        if s.erp_order_number:
            lines.append(f"ERP order {s.erp_order_number}")
        if s.invoice_number:
            lines.append(f"invoice {s.invoice_number}, paid {s.amount_paid} {s.currency or ''}")
        workflow.set_current_details("\n\n".join(lines))

    def _rest(self, done: Callable[[], bool]) -> None:
        """Before a wait: from version 3 on, write the resting status unless ``done()`` already."""
        if self._rest_first and not (done() or self._cancel is not None):
            self._settle()

    def _settle(self) -> None:
        """Write the status the run rests in, with what it holds back: search attributes and
        CRM changes."""
        if self._unsettled:
            self._write_index()
        self._crm_flush()

    def _write_index(self) -> None:
        """Upsert the search attributes held back, with ``OrderStatus`` the current status."""
        self._unsettled = False
        updates, self._unindexed = self._unindexed, []
        workflow.upsert_search_attributes(
            [*updates, sa.ORDER_STATUS.value_set(self._s.status.value)]
        )

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
