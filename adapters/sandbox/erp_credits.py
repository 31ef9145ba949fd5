"""Credit notes and refunds for returned goods in the sandbox ERP.

Each public function is one transaction's worth of work on an ``AsyncSession``; the sandbox runs
it through ``Database.run``. A credit note locks the sales order, then the RMA: the credits of
all returns of one order are priced one after the other, pro rata of the invoice
(``domain.return_rules.credit_amounts``), and never credit more than was received.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sandbox.erp_records import (
    next_number,
    not_found,
    sales_order_by,
    today,
)
from adapters.sandbox.erp_returns import (
    check_quantities,
    conflict,
    received_rma,
    returnable_order,
    rma_by,
    state_error,
)
from adapters.sandbox.erp_schema import (
    CreditNoteLineRow,
    CreditNoteRow,
    InvoiceRow,
    RefundRow,
)
from domain.models import InvoiceStatus
from domain.return_quantities import summed
from domain.return_rules import credit_amounts
from domain.returns import (
    CreditNote,
    CreditNoteLine,
    CreditNoteRequest,
    CreditNoteStatus,
    Refund,
    RefundRequest,
)


async def credit_note_record(session: AsyncSession, row: CreditNoteRow) -> CreditNote:
    """The port's view of a credit note row, with its lines."""
    lines = await session.scalars(
        select(CreditNoteLineRow)
        .where(CreditNoteLineRow.credit_note_number == row.number)
        .order_by(CreditNoteLineRow.position)
    )
    return CreditNote(
        number=row.number,
        reference=row.reference,
        rma_number=row.rma_number,
        invoice_number=row.invoice_number,
        sales_order_number=row.sales_order_number,
        customer_id=row.customer_id,
        currency=row.currency,
        lines=[
            CreditNoteLine(
                line_no=x.line_no,
                sku=x.sku,
                quantity=x.quantity,
                unit_price=x.unit_price,
                discount_pct=x.discount_pct,
                net=x.net,
            )
            for x in lines
        ],
        net=row.net,
        tax=row.tax,
        total=row.total,
        issued_on=row.issued_on,
        status=CreditNoteStatus(row.status),
    )


async def _existing_credit(session: AsyncSession, request: CreditNoteRequest) -> CreditNote | None:
    row = await session.scalar(
        select(CreditNoteRow).where(CreditNoteRow.reference == request.reference)
    )
    if row is None:
        return None
    record = await credit_note_record(session, row)
    stored = {x.line_no: x.quantity for x in record.lines}
    asked = summed([(x.line_no, x.quantity) for x in request.lines])
    if record.rma_number != request.rma_number or stored != asked:
        raise conflict("credit note", row.number, request.reference)
    return record


async def _credited(session: AsyncSession, rma_number: str) -> dict[int, Decimal]:
    rows = await session.execute(
        select(CreditNoteLineRow.line_no, CreditNoteLineRow.quantity)
        .join(CreditNoteRow, CreditNoteRow.number == CreditNoteLineRow.credit_note_number)
        .where(
            CreditNoteRow.rma_number == rma_number,
            CreditNoteRow.status != CreditNoteStatus.CANCELLED.value,
        )
    )
    return summed([(n, q) for n, q in rows])


async def create_credit_note(session: AsyncSession, request: CreditNoteRequest) -> CreditNote:
    """See ``SandboxERP.create_credit_note``."""
    existing = await _existing_credit(session, request)
    if existing is not None:
        return existing
    found = await rma_by(session, number=request.rma_number, lock=False)
    if found is None:
        raise not_found("return_authorization", request.rma_number)
    # The order first: credits of all its returns are priced one after the other.
    order = await sales_order_by(session, number=found.sales_order_number, lock=True)
    if order is None:  # pragma: no cover - the foreign key keeps the order
        raise not_found("sales_order", found.sales_order_number)
    rma = await received_rma(session, request.rma_number)
    existing = await _existing_credit(session, request)
    if existing is not None:
        return existing
    invoice = await session.scalar(
        select(InvoiceRow).where(InvoiceRow.sales_order_number == order.number)
    )
    if invoice is None:
        raise state_error(
            "sales_order",
            order.number,
            order.status,
            f"sales order {order.number} is not invoiced: there is nothing to credit",
        )
    asked = [(line.line_no, line.quantity) for line in request.lines]
    used = await _credited(session, rma.number)
    await check_quantities(
        session, f"credit note {request.reference}", rma, asked, used, "credited"
    )
    amounts = credit_amounts(await returnable_order(session, order), summed(asked))
    row = CreditNoteRow(
        number=await next_number(session, "credit_note", "CN-", CreditNoteRow),
        reference=request.reference,
        rma_number=rma.number,
        invoice_number=invoice.number,
        sales_order_number=order.number,
        customer_id=order.customer_id,
        currency=order.currency,
        net=amounts.net,
        tax=amounts.tax,
        total=amounts.total,
        issued_on=request.credit_date or today(),
        status=CreditNoteStatus.OPEN.value,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    await session.flush()  # raises on a concurrent duplicate reference: Database.run re-runs
    session.add_all(
        CreditNoteLineRow(credit_note_number=row.number, position=position, **line.model_dump())
        for position, line in enumerate(amounts.lines)
    )
    await session.flush()
    return await credit_note_record(session, row)


async def _credit_note_locked(session: AsyncSession, **where: str) -> CreditNoteRow | None:
    query = select(CreditNoteRow).filter_by(**where)
    return await session.scalar(query.with_for_update().execution_options(populate_existing=True))


async def cancel_credit_note(session: AsyncSession, reference: str) -> CreditNote | None:
    """See ``SandboxERP.cancel_credit_note``."""
    row = await _credit_note_locked(session, reference=reference)
    if row is None:
        return None
    if row.status == CreditNoteStatus.REFUNDED.value:
        raise state_error(
            "credit_note",
            reference,
            row.status,
            f"credit note {row.number} was refunded and cannot be cancelled",
        )
    row.status = CreditNoteStatus.CANCELLED.value
    return await credit_note_record(session, row)


def _refund_record(row: RefundRow) -> Refund:
    return Refund(
        number=row.number,
        reference=row.reference,
        credit_note_number=row.credit_note_number,
        invoice_number=row.invoice_number,
        customer_id=row.customer_id,
        currency=row.currency,
        amount=row.amount,
        refunded_on=row.refunded_on,
    )


async def refund_credit_note(session: AsyncSession, request: RefundRequest) -> Refund:
    """See ``SandboxERP.refund_credit_note``."""
    existing = await session.scalar(
        select(RefundRow).where(RefundRow.reference == request.reference)
    )
    if existing is not None:
        if existing.credit_note_number != request.credit_note_number:
            raise conflict("refund", existing.number, request.reference)
        return _refund_record(existing)
    note = await _credit_note_locked(session, number=request.credit_note_number)
    if note is None:
        raise not_found("credit_note", request.credit_note_number)
    if note.status != CreditNoteStatus.OPEN.value:
        raise state_error(
            "credit_note",
            note.number,
            note.status,
            f"credit note {note.number} is {note.status}: it cannot be refunded",
        )
    invoice = await session.get(InvoiceRow, note.invoice_number)
    if invoice is None or invoice.status != InvoiceStatus.PAID.value:
        raise state_error(
            "invoice",
            note.invoice_number,
            invoice.status if invoice is not None else "missing",
            f"invoice {note.invoice_number} is not paid: the credit is offset, not refunded",
        )
    row = RefundRow(
        number=await next_number(session, "refund", "RF-", RefundRow),
        reference=request.reference,
        credit_note_number=note.number,
        invoice_number=note.invoice_number,
        customer_id=note.customer_id,
        currency=note.currency,
        amount=note.total,
        refunded_on=today(),
        created_at=datetime.now(UTC),
    )
    note.status = CreditNoteStatus.REFUNDED.value
    session.add(row)
    await session.flush()  # raises on a concurrent duplicate reference: Database.run re-runs
    return _refund_record(row)
