"""Order-to-cash: a CRM order becomes a reserved, approved, shipped, invoiced and paid ERP order.

Steps (each visible in the Temporal UI as the current details and as activity summaries):
read and validate → resolve customer → credit check → reserve stock → approval (when a rule
triggers) → ERP sales order → wait for shipment → invoice → collect payment (with dunning).

Cancellation (Update ``cancel``, or cancelling the run from the UI) and any permanent failure after
a reservation run the registered compensations in reverse order, then set the CRM status.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from domain.models import (
        CrmOrder,
        CrmOrderStatus,
        ErpProduct,
        SalesOrderLine,
        SalesOrderRequest,
        SalesOrderStatus,
    )
    from domain.orders import OrderStatus
    from domain.rules import check_credit, order_totals, validate_order
    from workflows import metrics
    from workflows import search_attributes as sa
    from workflows.order_to_cash.approval import Approval
    from workflows.order_to_cash.base import OrderStopped, failure_of
    from workflows.order_to_cash.intake import Intake
    from workflows.order_to_cash.models import (
        ORDER_TO_CASH_VERSION,
        CancelInput,
        CancelResult,
        CompensationKind,
        OrderState,
        OrderToCashInput,
        OrderToCashResult,
        PaymentNotice,
        ShipmentNotice,
        StockNotice,
    )


T = TypeVar("T")


async def _value(value: T) -> T:
    """An awaitable of a value already known, to sit in a gather beside real calls."""
    return value


@workflow.defn
class OrderToCashWorkflow(Approval, Intake):
    """One CRM order from receipt to payment; its workflow id is ``order-<crm order id>``."""

    @workflow.init
    def __init__(self, input: OrderToCashInput) -> None:
        self._setup(input)

    # --- the process -------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: OrderToCashInput) -> OrderToCashResult:
        if input.version > ORDER_TO_CASH_VERSION:
            # Started by newer code: failing the workflow task (not the run) leaves the run for a
            # worker that knows this version, instead of running it the wrong way.
            raise RuntimeError(
                f"order-to-cash version {input.version} is newer than this worker's "
                f"{ORDER_TO_CASH_VERSION}: a newer worker must run it"
            )
        if self._s.received_at is None:
            self._s.received_at = workflow.now()
            # Counted on a first start only: a run continued from one that began before this
            # field existed was counted (or not) by the code of its time.
            if input.resume is None:
                metrics.order_started()
        try:
            await self._process()
        except OrderStopped as stop:
            await self._shielded(self._unwind(stop.status, stop.reason, stop.cause))
        except (ActivityError, asyncio.CancelledError) as err:
            if is_cancelled_exception(err):
                # Cancelled from the Temporal UI or API, possibly while an activity ran.
                await self._shielded(self._cancelled_from_temporal())
                raise
            assert isinstance(err, ActivityError)
            kind, message = failure_of(err)
            if self._s.shipped_at is not None:
                # Goods have left: nothing can be undone, a person must look at it.
                await self._needs_attention(f"{kind}: {message}")
                metrics.order_stopped("NEEDS_ATTENTION", kind, compensated=False)
                raise ApplicationError(
                    f"order {input.order_id} needs attention: {message}",
                    type=kind,
                    non_retryable=True,
                ) from err
            await self._shielded(self._unwind(OrderStatus.REJECTED, f"{kind}: {message}", kind))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._result()

    async def _cancelled_from_temporal(self) -> None:
        if self._s.shipped_at is None:
            await self._unwind(OrderStatus.CANCELLED, "cancelled from Temporal", "cancelled")
            return
        # After shipment there is nothing to undo and the invoice stays open: never pretend the
        # order was cancelled, flag it instead.
        await self._needs_attention(
            f"run cancelled from Temporal after shipment; invoice {self._s.invoice_number or '-'} "
            f"still open ({self._s.amount_paid} paid)"
        )
        metrics.order_stopped("NEEDS_ATTENTION", "cancelled-after-shipment", compensated=False)

    async def _process(self) -> None:
        s = self._s
        if s.erp_order_number is None:
            await self._prepare()
        fresh = await self._await_shipment() if s.shipped_at is None else None
        if s.invoice_number is None:
            fresh = await self._invoice()
        await self._collect_payment(fresh)

    async def _prepare(self) -> None:
        s, calls = self._s, self._calls
        self._set(OrderStatus.RECEIVED, "reading the order from the CRM")
        try:
            fetched = await calls.fetch_order(s.order_id)
        except ActivityError as err:
            if is_cancelled_exception(err):
                raise
            kind, message = failure_of(err)
            raise OrderStopped(OrderStatus.REJECTED, f"{kind}: {message}", cause=kind) from err
        order, account = fetched.order, fetched.account
        self._crm_order_known = True
        s.account_id, s.currency = order.account_id, order.currency
        s.requester = s.requester or order.owner
        s.payment_terms_days = order.payment_terms_days
        skus = sorted({line.sku for line in order.lines})
        linked = account.erp_customer_id if account else None
        # Independent reads run side by side: an order reaches the ERP in fewer round trips.
        found, credit = await asyncio.gather(
            calls.products(skus) if skus else _value(list[ErpProduct]()),
            calls.credit_status(linked) if linked else _value(None),
        )
        problems = validate_order(order, {p.sku: p for p in found})
        if fetched.account_problem:
            problems.append(fetched.account_problem)
        if problems:
            raise OrderStopped(
                OrderStatus.REJECTED,
                "invalid order: " + "; ".join(problems),
                cause="invalid-order",
            )
        totals = order_totals(order)
        s.total = totals.total
        self._index(
            sa.CUSTOMER_ID.value_set(order.account_id or ""),
            sa.ORDER_TOTAL.value_set(float(totals.total)),
        )
        self._set(
            OrderStatus.VALIDATED, f"{len(order.lines)} lines, {totals.total} {totals.currency}"
        )
        self._crm_later(CrmOrderStatus.IN_PROGRESS, "in-progress")
        self._stop_if_cancelled()

        assert account is not None  # validation refuses an order without one
        customer_id = await self._resolve_customer(order, account)
        check = check_credit(totals.total, credit or await calls.credit_status(customer_id))
        if check.blocked:
            raise OrderStopped(
                OrderStatus.REJECTED,
                f"customer {customer_id} is blocked in the ERP",
                cause="customer-blocked",
            )
        rules = self._in.policy.approval
        if not check.within_limit and not rules.approve_credit_excess:
            raise OrderStopped(
                OrderStatus.REJECTED,
                f"credit limit exceeded by {check.exceeded_by}",
                cause="credit-limit",
            )
        self._set(OrderStatus.CREDIT_CHECKED, f"exposure {check.exposure} of {check.credit_limit}")
        self._stop_if_cancelled()

        categories = sorted({p.category for p in found if p.category})
        # The policy's answer does not depend on the reservations: ask while they are made.
        # Both finish before either outcome counts, so a failure never leaves one in flight.
        reserved, plan = await asyncio.gather(
            self._reserve_all(order),
            self._approval_plan(totals, check, account.segment, categories),
            return_exceptions=True,
        )
        for outcome in (reserved, plan):
            if isinstance(outcome, BaseException):
                raise outcome
        assert not isinstance(plan, BaseException)
        verdict = await self._approval(order, plan)
        self._stop_if_cancelled()
        if verdict not in ("approved", "not needed"):
            reasons = s.approval.reasons if s.approval else []
            raise OrderStopped(
                OrderStatus.REJECTED,
                f"approval {verdict}: " + "; ".join(reasons),
                cause=f"approval-{verdict}",
            )
        await self._create_sales_order(order, customer_id)

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
        if s.received_at is not None:
            metrics.crm_to_erp(workflow.now() - s.received_at)
        self._index(sa.ERP_ORDER_NUMBER.value_set(so.number))
        self._event("erp-order", f"{so.number}, promised {so.promised_date}")
        self._crm_later(
            CrmOrderStatus.CONFIRMED,
            "confirmed",
            erp_order_number=so.number,
            promised_date=so.promised_date,
        )
        self._set(OrderStatus.AWAITING_SHIPMENT, f"{so.number} promised for {so.promised_date}")

    @workflow.query
    def status(self) -> OrderState:
        """The full state: step, reservations, ERP ids, approval (its chain's id), events."""
        return self._s

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
