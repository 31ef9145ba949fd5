"""Sales orders, shipments, invoices and payments of the sandbox ERP.

Each function is one transaction's worth of work on an ``AsyncSession``; ``SandboxERP`` runs it
through ``Database.run``, which commits it and re-runs it when a concurrent call committed the
same reference first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sandbox.erp_records import (
    SYSTEM,
    invoice_record,
    lock_stock,
    next_number,
    not_found,
    reservation_lines,
    sales_order_by,
    sales_order_record,
    today,
)
from adapters.sandbox.erp_schema import (
    CustomerRow,
    InvoiceRow,
    PaymentRow,
    ProductRow,
    ReservationLineRow,
    ReservationRow,
    SalesOrderLineRow,
    SalesOrderReservationRow,
    SalesOrderRow,
    WarehouseRow,
)
from domain.errors import IdempotencyConflict, InvalidRecord, InvalidState, NotShipped
from domain.models import (
    CrmOrderLine,
    Invoice,
    InvoiceRequest,
    InvoiceStatus,
    ReservationStatus,
    SalesOrder,
    SalesOrderLine,
    SalesOrderRequest,
    SalesOrderStatus,
)
from domain.money import HUNDRED, ZERO, round_money
from domain.rules import line_net, sales_order_problems

DEFAULT_LEAD_DAYS = 1
"""Days from order to promised delivery when an order draws on no reservation."""


def _net(line: SalesOrderLine, currency: str) -> Decimal:
    """A line's net value, computed exactly as the CRM side computes order totals."""
    return line_net(
        CrmOrderLine(
            line_no=line.line_no,
            sku=line.sku,
            quantity=line.quantity,
            unit_price=line.unit_price,
            currency=currency,
            discount_pct=line.discount_pct,
        )
    )


def _line_problems(request: SalesOrderRequest) -> list[str]:
    return sales_order_problems(request.lines)


async def _same_sales_order(
    session: AsyncSession, row: SalesOrderRow, request: SalesOrderRequest
) -> bool:
    """Whether ``request`` asks for the order already stored under its reference."""
    stored = await session.scalars(
        select(SalesOrderLineRow)
        .where(SalesOrderLineRow.sales_order_number == row.number)
        .order_by(SalesOrderLineRow.position)
    )
    stored_lines = [(s.line_no, s.sku, s.quantity, s.unit_price, s.discount_pct) for s in stored]
    asked_lines = [
        (a.line_no, a.sku, a.quantity, a.unit_price, a.discount_pct) for a in request.lines
    ]
    return (
        row.customer_id == request.customer_id
        and row.currency == request.currency
        and row.tax_pct == request.tax_pct
        and stored_lines == asked_lines
    )


async def _lead_days(session: AsyncSession, reservation_refs: list[str]) -> int:
    """The longest lead time of the warehouses the given reservations draw on."""
    if not reservation_refs:
        return DEFAULT_LEAD_DAYS
    lead = await session.scalars(
        select(WarehouseRow.lead_days)
        .join(ReservationLineRow, ReservationLineRow.warehouse == WarehouseRow.code)
        .join(ReservationRow, ReservationRow.id == ReservationLineRow.reservation_id)
        .where(ReservationRow.reference.in_(reservation_refs))
    )
    return max(lead, default=DEFAULT_LEAD_DAYS)


async def create_sales_order(session: AsyncSession, request: SalesOrderRequest) -> SalesOrder:
    """See ``SandboxERP.create_sales_order``."""
    existing = await sales_order_by(session, reference=request.reference, lock=False)
    if existing is not None:
        if not await _same_sales_order(session, existing, request):
            raise IdempotencyConflict(
                f"sales order {existing.number} was created under {request.reference} "
                "with a different customer, currency, tax or lines",
                reference=request.reference,
                system=SYSTEM,
            )
        return sales_order_record(existing)
    if await session.get(CustomerRow, request.customer_id) is None:
        raise not_found("customer", request.customer_id)
    problems = _line_problems(request)
    if problems:
        raise InvalidRecord(
            f"sales order {request.reference} is invalid", problems=problems, system=SYSTEM
        )
    skus = {line.sku for line in request.lines}
    known = set(await session.scalars(select(ProductRow.sku).where(ProductRow.sku.in_(skus))))
    unknown = sorted(skus - known)
    if unknown:
        raise not_found("product", unknown[0])

    net = sum((_net(line, request.currency) for line in request.lines), ZERO)
    tax = round_money(net * request.tax_pct / HUNDRED)
    order_date = request.order_date or today()
    refs = list(dict.fromkeys(request.reservation_refs))
    row = SalesOrderRow(
        number=await next_number(session, "sales_order", "SO-", SalesOrderRow),
        reference=request.reference,
        customer_id=request.customer_id,
        crm_order_id=request.crm_order_id,
        currency=request.currency,
        tax_pct=request.tax_pct,
        net=net,
        tax=tax,
        total=net + tax,
        order_date=order_date,
        promised_date=order_date + timedelta(days=await _lead_days(session, refs)),
        status=SalesOrderStatus.OPEN.value,
        shipped_at=None,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    await session.flush()  # raises on a concurrent duplicate reference: Database.run re-runs
    session.add_all(
        SalesOrderLineRow(sales_order_number=row.number, position=position, **line.model_dump())
        for position, line in enumerate(request.lines)
    )
    session.add_all(
        SalesOrderReservationRow(sales_order_number=row.number, reservation_reference=ref)
        for ref in refs
    )
    return sales_order_record(row)


async def cancel_sales_order(session: AsyncSession, reference: str) -> SalesOrder | None:
    """See ``SandboxERP.cancel_sales_order``."""
    row = await sales_order_by(session, reference=reference, lock=True)
    if row is None:
        return None
    if row.status in (SalesOrderStatus.SHIPPED.value, SalesOrderStatus.INVOICED.value):
        raise InvalidState(
            f"sales order {row.number} is {row.status} and cannot be cancelled",
            kind="sales_order",
            key=reference,
            state=row.status,
            system=SYSTEM,
        )
    row.status = SalesOrderStatus.CANCELLED.value
    return sales_order_record(row)


async def ship(session: AsyncSession, number: str) -> SalesOrder:
    """See ``SandboxERP.ship``."""
    order = await sales_order_by(session, number=number, lock=True)
    if order is None:
        raise not_found("sales_order", number)
    if order.status == SalesOrderStatus.CANCELLED.value:
        raise InvalidState(
            f"sales order {number} is cancelled",
            kind="sales_order",
            key=number,
            state=order.status,
            system=SYSTEM,
        )
    if order.status != SalesOrderStatus.OPEN.value:  # shipped or invoiced already
        return sales_order_record(order)

    refs = select(SalesOrderReservationRow.reservation_reference).where(
        SalesOrderReservationRow.sales_order_number == number
    )
    reservations = list(
        await session.scalars(
            select(ReservationRow)
            .where(
                ReservationRow.reference.in_(refs),
                ReservationRow.status == ReservationStatus.ACTIVE.value,
            )
            .order_by(ReservationRow.reference)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    stock = await lock_stock(session, [r.sku for r in reservations])
    for reservation in reservations:
        for line in await reservation_lines(session, reservation):
            level = stock[(reservation.sku, line.warehouse)]
            # reserved <= on_hand always holds, so neither can drop below zero here.
            level.on_hand = level.on_hand - line.quantity
            level.reserved = level.reserved - line.quantity
        reservation.status = ReservationStatus.CONSUMED.value
    order.status = SalesOrderStatus.SHIPPED.value
    order.shipped_at = datetime.now(UTC)
    return sales_order_record(order)


async def create_invoice(session: AsyncSession, request: InvoiceRequest) -> Invoice:
    """See ``SandboxERP.create_invoice``."""
    existing = await session.scalar(
        select(InvoiceRow).where(InvoiceRow.reference == request.reference)
    )
    if existing is not None:
        if existing.sales_order_number != request.sales_order_number:
            raise IdempotencyConflict(
                f"invoice {existing.number} was created under {request.reference} for sales "
                f"order {existing.sales_order_number}, not {request.sales_order_number}",
                reference=request.reference,
                system=SYSTEM,
            )
        return invoice_record(existing)
    if request.payment_terms_days < 0:
        raise InvalidRecord(
            f"invoice {request.reference} is invalid",
            problems=[f"payment_terms_days: {request.payment_terms_days} is negative"],
            system=SYSTEM,
        )
    order = await sales_order_by(session, number=request.sales_order_number, lock=True)
    if order is None:
        raise not_found("sales_order", request.sales_order_number)
    if order.status != SalesOrderStatus.SHIPPED.value:
        not_yet = order.status == SalesOrderStatus.OPEN.value
        raise (NotShipped if not_yet else InvalidState)(
            f"sales order {order.number} is {order.status}, not shipped",
            kind="sales_order",
            key=order.number,
            state=order.status,
            system=SYSTEM,
        )
    issued_on = request.invoice_date or today()
    row = InvoiceRow(
        number=await next_number(session, "invoice", "INV-", InvoiceRow),
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
        status=(InvoiceStatus.PAID if order.total <= ZERO else InvoiceStatus.OPEN).value,
    )
    session.add(row)
    order.status = SalesOrderStatus.INVOICED.value
    await session.flush()  # raises on a concurrent duplicate reference: Database.run re-runs
    return invoice_record(row)


async def record_payment(
    session: AsyncSession, invoice_number: str, amount: Decimal, reference: str
) -> Invoice:
    """See ``SandboxERP.record_payment``."""
    existing = await session.scalar(select(PaymentRow).where(PaymentRow.reference == reference))
    if existing is not None:
        if existing.invoice_number != invoice_number or existing.amount != amount:
            raise IdempotencyConflict(
                f"payment {reference} was recorded as {existing.amount} on invoice "
                f"{existing.invoice_number}, not {amount} on {invoice_number}",
                reference=reference,
                system=SYSTEM,
            )
        paid = await session.get(InvoiceRow, invoice_number)
        if paid is None:  # pragma: no cover - the foreign key keeps the invoice
            raise not_found("invoice", invoice_number)
        return invoice_record(paid)
    if amount <= ZERO:
        raise InvalidRecord(
            f"payment {reference}: amount must be positive, got {amount}",
            problems=[f"amount: must be positive, got {amount}"],
            system=SYSTEM,
        )
    invoice = await session.get(InvoiceRow, invoice_number, with_for_update=True)
    if invoice is None:
        raise not_found("invoice", invoice_number)
    invoice.amount_paid = invoice.amount_paid + amount
    if invoice.amount_paid >= invoice.total:
        invoice.status = InvoiceStatus.PAID.value
    session.add(
        PaymentRow(
            reference=reference,
            invoice_number=invoice_number,
            amount=amount,
            received_at=datetime.now(UTC),
        )
    )
    await session.flush()  # raises on a concurrent duplicate reference: Database.run re-runs
    return invoice_record(invoice)
