"""The in-memory ERP's sales orders, shipments, invoices and payments, as a mixin of
``InMemoryERP`` (``tests/fakes.py``), whose records they read and change."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.errors import (
    IdempotencyConflict,
    InvalidRecord,
    InvalidState,
    NotShipped,
    RecordNotFound,
)
from domain.models import (
    CrmOrderLine,
    ErpCustomer,
    ErpProduct,
    Invoice,
    InvoiceRequest,
    InvoiceStatus,
    Reservation,
    ReservationStatus,
    SalesOrder,
    SalesOrderRequest,
    SalesOrderStatus,
)
from domain.money import HUNDRED, ZERO, round_money
from domain.rules import line_net, sales_order_problems
from tests.fakes_records import (
    DEFAULT_LEAD_DAYS,
    _Counters,
    _Payment,
    _SalesOrderRow,
    _Stock,
    _Warehouse,
)
from tests.fault_injection import FaultInjection, _copy, _port

__all__ = ["InMemoryDocuments"]


class InMemoryDocuments(FaultInjection):
    """Sales orders, shipments, invoices and payments."""

    # InMemoryERP's records and lookups.
    _today: Callable[[], date]
    _now: Callable[[], datetime]
    _warehouses: dict[str, _Warehouse]
    _products: dict[str, ErpProduct]
    _stock: dict[tuple[str, str], _Stock]
    _reservations: dict[str, Reservation]
    _sales_orders: dict[str, _SalesOrderRow]
    _so_by_number: dict[str, str]
    _invoices: dict[str, Invoice]
    _invoice_by_ref: dict[str, str]
    _payments: dict[str, _Payment]
    _counters: _Counters
    _customer: Callable[[str], ErpCustomer]
    _row_by_number: Callable[[str], _SalesOrderRow]
    _invoice: Callable[[str], Invoice]

    # -- admin ------------------------------------------------------------------------------

    async def ship(self, sales_order_number: str) -> SalesOrder:
        """Ship an open sales order, consuming its reservations; idempotent."""
        row = self._row_by_number(sales_order_number)
        status = row.order.status
        if status is SalesOrderStatus.CANCELLED:
            raise InvalidState(
                f"sales order {sales_order_number} is cancelled",
                kind="sales_order",
                key=sales_order_number,
                state=status.value,
                system="erp",
            )
        if status is not SalesOrderStatus.OPEN:  # shipped or invoiced already
            return _copy(row.order)
        for ref in row.reservation_refs:
            reservation = self._reservations.get(ref)
            if reservation is None or reservation.status is not ReservationStatus.ACTIVE:
                continue
            for line in reservation.lines:
                stock = self._stock[(reservation.sku, line.warehouse)]
                stock.on_hand -= line.quantity
                stock.reserved -= line.quantity
            reservation.status = ReservationStatus.CONSUMED
        row.order.status = SalesOrderStatus.SHIPPED
        row.order.shipped_at = self._now()
        return _copy(row.order)

    async def record_payment(self, invoice_number: str, amount: Decimal, reference: str) -> Invoice:
        """Record a payment on an invoice; idempotent on ``reference``."""
        done = self._payments.get(reference)
        if done is not None:
            if done.invoice_number != invoice_number or done.amount != amount:
                raise IdempotencyConflict(
                    f"payment {reference} was recorded as {done.amount} on invoice "
                    f"{done.invoice_number}, not {amount} on {invoice_number}",
                    reference=reference,
                    system="erp",
                )
            return _copy(self._invoice(invoice_number))
        if amount <= ZERO:
            raise InvalidRecord(
                f"payment {reference}: amount must be positive, got {amount}",
                problems=[f"amount: must be positive, got {amount}"],
                system="erp",
            )
        invoice = self._invoice(invoice_number)
        invoice.amount_paid += amount
        if invoice.amount_paid >= invoice.total:
            invoice.status = InvoiceStatus.PAID
        self._payments[reference] = _Payment(invoice_number=invoice_number, amount=amount)
        return _copy(invoice)

    # -- port: sales orders and invoices ----------------------------------------------------

    @staticmethod
    def _same_sales_order(stored: SalesOrderRequest, asked: SalesOrderRequest) -> bool:
        def lines(r: SalesOrderRequest) -> list[tuple[Any, ...]]:
            return [(x.line_no, x.sku, x.quantity, x.unit_price, x.discount_pct) for x in r.lines]

        return (
            stored.customer_id == asked.customer_id
            and stored.currency == asked.currency
            and stored.tax_pct == asked.tax_pct
            and lines(stored) == lines(asked)
        )

    @staticmethod
    def _line_problems(request: SalesOrderRequest) -> list[str]:
        return sales_order_problems(request.lines)

    @_port
    async def create_sales_order(self, request: SalesOrderRequest) -> SalesOrder:
        existing = self._sales_orders.get(request.reference)
        if existing is not None:
            if not self._same_sales_order(existing.request, request):
                raise IdempotencyConflict(
                    f"sales order {existing.order.number} was created under {request.reference} "
                    "with a different customer, currency, tax or lines",
                    reference=request.reference,
                    system="erp",
                )
            return _copy(existing.order)
        self._customer(request.customer_id)
        problems = self._line_problems(request)
        if problems:
            raise InvalidRecord(
                f"sales order {request.reference} is invalid", problems=problems, system="erp"
            )
        unknown = sorted({line.sku for line in request.lines} - set(self._products))
        if unknown:
            raise RecordNotFound(
                f"ERP product {unknown[0]!r} not found",
                kind="product",
                key=unknown[0],
                system="erp",
            )
        net = sum(
            (
                line_net(
                    CrmOrderLine(
                        line_no=line.line_no,
                        sku=line.sku,
                        quantity=line.quantity,
                        unit_price=line.unit_price,
                        currency=request.currency,
                        discount_pct=line.discount_pct,
                    )
                )
                for line in request.lines
            ),
            ZERO,
        )
        tax = round_money(net * request.tax_pct / HUNDRED)
        refs = list(dict.fromkeys(request.reservation_refs))
        lead_days = max(
            (
                self._warehouses[line.warehouse].lead_days
                for ref in refs
                if ref in self._reservations
                for line in self._reservations[ref].lines
            ),
            default=DEFAULT_LEAD_DAYS,
        )
        order_date = request.order_date or self._today()
        self._counters.sales_order += 1
        order = SalesOrder(
            number=f"SO-{self._counters.sales_order:06d}",
            reference=request.reference,
            customer_id=request.customer_id,
            currency=request.currency,
            status=SalesOrderStatus.OPEN,
            net=net,
            tax=tax,
            total=net + tax,
            promised_date=order_date + timedelta(days=lead_days),
        )
        self._sales_orders[request.reference] = _SalesOrderRow(
            order=order, request=_copy(request), reservation_refs=refs
        )
        self._so_by_number[order.number] = request.reference
        return _copy(order)

    @_port
    async def get_sales_order(self, reference: str) -> SalesOrder | None:
        row = self._sales_orders.get(reference)
        return None if row is None else _copy(row.order)

    @_port
    async def cancel_sales_order(self, reference: str) -> SalesOrder | None:
        row = self._sales_orders.get(reference)
        if row is None:
            return None
        status = row.order.status
        if status in (SalesOrderStatus.SHIPPED, SalesOrderStatus.INVOICED):
            raise InvalidState(
                f"sales order {row.order.number} is {status.value} and cannot be cancelled",
                kind="sales_order",
                key=reference,
                state=status.value,
                system="erp",
            )
        row.order.status = SalesOrderStatus.CANCELLED
        return _copy(row.order)

    @_port
    async def create_invoice(self, request: InvoiceRequest) -> Invoice:
        number = self._invoice_by_ref.get(request.reference)
        if number is not None:
            existing = self._invoices[number]
            if existing.sales_order_number != request.sales_order_number:
                raise IdempotencyConflict(
                    f"invoice {existing.number} was created under {request.reference} for sales "
                    f"order {existing.sales_order_number}, not {request.sales_order_number}",
                    reference=request.reference,
                    system="erp",
                )
            return _copy(existing)
        if request.payment_terms_days < 0:
            raise InvalidRecord(
                f"invoice {request.reference} is invalid",
                problems=[f"payment_terms_days: {request.payment_terms_days} is negative"],
                system="erp",
            )
        row = self._row_by_number(request.sales_order_number)
        order = row.order
        if order.status is not SalesOrderStatus.SHIPPED:
            not_yet = order.status is SalesOrderStatus.OPEN
            raise (NotShipped if not_yet else InvalidState)(
                f"sales order {order.number} is {order.status.value}, not shipped",
                kind="sales_order",
                key=order.number,
                state=order.status.value,
                system="erp",
            )
        issued_on = request.invoice_date or self._today()
        self._counters.invoice += 1
        invoice = Invoice(
            number=f"INV-{self._counters.invoice:06d}",
            reference=request.reference,
            sales_order_number=order.number,
            customer_id=order.customer_id,
            currency=order.currency,
            net=order.net,
            tax=order.tax,
            total=order.total,
            amount_paid=ZERO,
            issued_on=issued_on,
            due_date=issued_on + timedelta(days=request.payment_terms_days),
            # Nothing to collect on a zero invoice: it is settled when issued.
            status=InvoiceStatus.PAID if order.total <= ZERO else InvoiceStatus.OPEN,
        )
        self._invoices[invoice.number] = invoice
        self._invoice_by_ref[request.reference] = invoice.number
        order.status = SalesOrderStatus.INVOICED
        return _copy(invoice)

    @_port
    async def get_invoice(self, number: str) -> Invoice:
        return _copy(self._invoice(number))
