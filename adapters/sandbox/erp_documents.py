"""Sales orders, shipments, invoices and payments of the sandbox ERP.

Each function is one transaction's worth of work on an ``AsyncSession``; ``SandboxERP`` runs it
through ``Database.run``, which commits it and re-runs it when a concurrent call committed the
same reference first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sandbox.erp_records import (
    SYSTEM,
    invoice_record,
    lock_stock_rows,
    next_number,
    not_found,
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
    StockRow,
    WarehouseRow,
)
from adapters.sandbox.statements import Executor, row_by, table_of
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


# Built once: building a statement costs more than running it on SQLite. An INSERT or UPDATE
# without values sets the columns named in the parameters it is executed with.
_STOCK = table_of(StockRow)
_RESERVATIONS = table_of(ReservationRow)
_LINKS = table_of(SalesOrderReservationRow)
_ORDERS = table_of(SalesOrderRow)
_CUSTOMER = select(CustomerRow.customer_id).where(CustomerRow.customer_id == bindparam("c"))
_KNOWN_SKUS = select(ProductRow.sku).where(ProductRow.sku.in_(bindparam("skus", expanding=True)))
_LEAD_DAYS = (
    select(WarehouseRow.lead_days)
    .join(ReservationLineRow, ReservationLineRow.warehouse == WarehouseRow.code)
    .join(ReservationRow, ReservationRow.id == ReservationLineRow.reservation_id)
    .where(ReservationRow.reference.in_(bindparam("refs", expanding=True)))
)
_ADD_ORDER = insert(_ORDERS)
_ADD_ORDER_LINES = insert(table_of(SalesOrderLineRow))
_ORDER_LINES_OF = (
    select(table_of(SalesOrderLineRow))
    .where(table_of(SalesOrderLineRow).c.sales_order_number == bindparam("n"))
    .order_by(table_of(SalesOrderLineRow).c.position)
)
_ADD_ORDER_RESERVATIONS = insert(_LINKS)
_SET_ORDER = update(_ORDERS).where(_ORDERS.c.number == bindparam("n"))
_ACTIVE_RESERVATIONS = (
    select(_RESERVATIONS.c.id, _RESERVATIONS.c.sku)
    .where(
        _RESERVATIONS.c.reference.in_(
            select(_LINKS.c.reservation_reference).where(
                _LINKS.c.sales_order_number == bindparam("number")
            )
        ),
        _RESERVATIONS.c.status == ReservationStatus.ACTIVE.value,
    )
    .order_by(_RESERVATIONS.c.reference)
    .with_for_update()
)
_DRAWN = select(
    ReservationLineRow.reservation_id, ReservationLineRow.warehouse, ReservationLineRow.quantity
).where(ReservationLineRow.reservation_id.in_(bindparam("ids", expanding=True)))
_SET_LEVELS = update(_STOCK).where(
    _STOCK.c.sku == bindparam("s"), _STOCK.c.warehouse == bindparam("w")
)
_CONSUME = (
    update(_RESERVATIONS)
    .where(_RESERVATIONS.c.id.in_(bindparam("ids", expanding=True)))
    .values(status=ReservationStatus.CONSUMED.value)
)
_ADD_INVOICE = insert(table_of(InvoiceRow))
_SET_INVOICE = update(table_of(InvoiceRow)).where(table_of(InvoiceRow).c.number == bindparam("n"))
_ADD_PAYMENT = insert(table_of(PaymentRow))


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


async def _same_sales_order(session: Executor, row: Row[Any], request: SalesOrderRequest) -> bool:
    """Whether ``request`` asks for the order already stored under its reference."""
    stored = await session.execute(_ORDER_LINES_OF, {"n": row.number})
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


async def _lead_days(session: Executor, reservation_refs: list[str]) -> int:
    """The longest lead time of the warehouses the given reservations draw on."""
    if not reservation_refs:
        return DEFAULT_LEAD_DAYS
    lead = await session.scalars(_LEAD_DAYS, {"refs": reservation_refs})
    return max(lead, default=DEFAULT_LEAD_DAYS)


async def create_sales_order(session: Executor, request: SalesOrderRequest) -> SalesOrder:
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
    if await session.scalar(_CUSTOMER, {"c": request.customer_id}) is None:
        raise not_found("customer", request.customer_id)
    problems = _line_problems(request)
    if problems:
        raise InvalidRecord(
            f"sales order {request.reference} is invalid", problems=problems, system=SYSTEM
        )
    skus = {line.sku for line in request.lines}
    known = set(await session.scalars(_KNOWN_SKUS, {"skus": sorted(skus)}))
    unknown = sorted(skus - known)
    if unknown:
        raise not_found("product", unknown[0])

    net = sum((_net(line, request.currency) for line in request.lines), ZERO)
    tax = round_money(net * request.tax_pct / HUNDRED)
    order_date = request.order_date or today()
    refs = list(dict.fromkeys(request.reservation_refs))
    promised = order_date + timedelta(days=await _lead_days(session, refs))
    order = SalesOrder(
        # Last of the reads: the number range stays locked until the commit (PostgreSQL).
        number=await next_number(session, "sales_order", "SO-", SalesOrderRow),
        reference=request.reference,
        customer_id=request.customer_id,
        currency=request.currency,
        status=SalesOrderStatus.OPEN,
        net=net,
        tax=tax,
        total=net + tax,
        promised_date=promised,
        shipped_at=None,
    )
    # A concurrent create with the same reference fails here on the unique key, and
    # ``Database.run_core`` re-runs this, which then finds the winner's order.
    await session.execute(
        _ADD_ORDER,
        {
            **order.model_dump(),
            "status": order.status.value,
            "crm_order_id": request.crm_order_id,
            "tax_pct": request.tax_pct,
            "order_date": order_date,
            "created_at": datetime.now(UTC),
        },
    )
    await session.execute(
        _ADD_ORDER_LINES,
        [
            {"sales_order_number": order.number, "position": position, **line.model_dump()}
            for position, line in enumerate(request.lines)
        ],
    )
    if refs:
        await session.execute(
            _ADD_ORDER_RESERVATIONS,
            [{"sales_order_number": order.number, "reservation_reference": ref} for ref in refs],
        )
    return order


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
    await session.execute(_SET_ORDER, {"n": row.number, "status": SalesOrderStatus.CANCELLED.value})
    return sales_order_record(row).model_copy(update={"status": SalesOrderStatus.CANCELLED})


async def ship(session: Executor, number: str) -> SalesOrder:
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

    active = (await session.execute(_ACTIVE_RESERVATIONS, {"number": number})).all()
    sku_of = {r.id: r.sku for r in active}
    drawn = (await session.execute(_DRAWN, {"ids": list(sku_of)})).all()
    stock = await lock_stock_rows(session, sku_of.values())
    levels = {key: (row.on_hand, row.reserved) for key, row in stock.items()}
    for line in drawn:
        key = (sku_of[line.reservation_id], line.warehouse)
        on_hand, reserved = levels[key]
        # reserved <= on_hand always holds, so neither can drop below zero here.
        levels[key] = (on_hand - line.quantity, reserved - line.quantity)
    changed_levels = [
        {"s": sku, "w": warehouse, "on_hand": on_hand, "reserved": reserved}
        for (sku, warehouse), (on_hand, reserved) in levels.items()
        if (on_hand, reserved)
        != (stock[(sku, warehouse)].on_hand, stock[(sku, warehouse)].reserved)
    ]
    if changed_levels:
        await session.execute(_SET_LEVELS, changed_levels)
    if sku_of:
        await session.execute(_CONSUME, {"ids": list(sku_of)})
    shipped_at = datetime.now(UTC)
    await session.execute(
        _SET_ORDER,
        {"n": number, "status": SalesOrderStatus.SHIPPED.value, "shipped_at": shipped_at},
    )
    return sales_order_record(order).model_copy(
        update={"status": SalesOrderStatus.SHIPPED, "shipped_at": shipped_at}
    )


async def create_invoice(session: Executor, request: InvoiceRequest) -> Invoice:
    """See ``SandboxERP.create_invoice``."""
    found = await session.execute(row_by(InvoiceRow, "reference"), {"v": request.reference})
    existing = found.first()
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
    if order.status == SalesOrderStatus.INVOICED.value:
        # A concurrent call with the same reference may have invoiced it while this one waited
        # for the order's lock (PostgreSQL): its invoice is the answer, not a refusal.
        found = await session.execute(row_by(InvoiceRow, "reference"), {"v": request.reference})
        if (winner := found.first()) is not None:
            return invoice_record(winner)
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
    invoice = Invoice(
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
        status=InvoiceStatus.PAID if order.total <= ZERO else InvoiceStatus.OPEN,
    )
    # A concurrent invoice with the same reference fails here on the unique key, and
    # ``Database.run_core`` re-runs this, which then finds the winner's invoice.
    await session.execute(_ADD_INVOICE, {**invoice.model_dump(), "status": invoice.status.value})
    await session.execute(
        _SET_ORDER, {"n": order.number, "status": SalesOrderStatus.INVOICED.value}
    )
    return invoice


async def record_payment(
    session: Executor, invoice_number: str, amount: Decimal, reference: str
) -> Invoice:
    """See ``SandboxERP.record_payment``."""
    existing = (await session.execute(row_by(PaymentRow, "reference"), {"v": reference})).first()
    if existing is not None:
        if existing.invoice_number != invoice_number or existing.amount != amount:
            raise IdempotencyConflict(
                f"payment {reference} was recorded as {existing.amount} on invoice "
                f"{existing.invoice_number}, not {amount} on {invoice_number}",
                reference=reference,
                system=SYSTEM,
            )
        found = await session.execute(row_by(InvoiceRow, "number"), {"v": invoice_number})
        recorded = found.first()
        if recorded is None:  # pragma: no cover - the foreign key keeps the invoice
            raise not_found("invoice", invoice_number)
        return invoice_record(recorded)
    if amount <= ZERO:
        raise InvalidRecord(
            f"payment {reference}: amount must be positive, got {amount}",
            problems=[f"amount: must be positive, got {amount}"],
            system=SYSTEM,
        )
    found = await session.execute(row_by(InvoiceRow, "number", True), {"v": invoice_number})
    invoice = found.first()
    if invoice is None:
        raise not_found("invoice", invoice_number)
    paid = invoice.amount_paid + amount
    status = InvoiceStatus.PAID if paid >= invoice.total else InvoiceStatus(invoice.status)
    await session.execute(
        _SET_INVOICE, {"n": invoice_number, "amount_paid": paid, "status": status.value}
    )
    # A concurrent payment with the same reference fails here on the unique key, and
    # ``Database.run_core`` re-runs this, which then finds the payment recorded.
    await session.execute(
        _ADD_PAYMENT,
        {
            "reference": reference,
            "invoice_number": invoice_number,
            "amount": amount,
            "received_at": datetime.now(UTC),
        },
    )
    return invoice_record(invoice).model_copy(update={"amount_paid": paid, "status": status})
