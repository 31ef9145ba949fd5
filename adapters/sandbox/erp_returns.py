"""Shared parts of the sandbox ERP's returns: reading RMAs and what an order can return, and the
checks every return document makes.

Lock order of the returns, within the ERP's (see ``erp_records``): sales order, then RMA, then
restock or credit note, then stock rows, then a number range. Each document is idempotent on its
external reference under a unique constraint.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sandbox.erp_records import (
    SYSTEM,
    not_found,
    sales_order_by,
)
from adapters.sandbox.erp_schema import (
    CreditNoteLineRow,
    CreditNoteRow,
    InvoiceRow,
    ProductRow,
    ReturnAuthorizationLineRow,
    ReturnAuthorizationRow,
    SalesOrderLineRow,
)
from domain.errors import IdempotencyConflict, InvalidRecord, InvalidState
from domain.models import InvoiceStatus, SalesOrderStatus
from domain.money import ZERO
from domain.return_quantities import received_use_problems
from domain.returns import (
    CreditNoteStatus,
    ReturnableLine,
    ReturnableOrder,
    ReturnAuthorization,
    ReturnAuthorizationLine,
    ReturnAuthorizationStatus,
)

SHIPPED_STATES = (SalesOrderStatus.SHIPPED.value, SalesOrderStatus.INVOICED.value)


def invalid(what: str, problems: list[str]) -> InvalidRecord:
    """The ``InvalidRecord`` of a return document."""
    return InvalidRecord(f"{what} is invalid", problems=problems, system=SYSTEM)


def state_error(kind: str, key: str, state: str, message: str) -> InvalidState:
    """The ``InvalidState`` of a return document."""
    return InvalidState(message, kind=kind, key=key, state=state, system=SYSTEM)


def conflict(kind: str, number: str, reference: str) -> IdempotencyConflict:
    """The ``IdempotencyConflict`` of a return document."""
    return IdempotencyConflict(
        f"{kind} {number} was created under {reference} with other content",
        reference=reference,
        system=SYSTEM,
    )


async def rma_by(
    session: AsyncSession, *, number: str | None = None, reference: str | None = None, lock: bool
) -> ReturnAuthorizationRow | None:
    """The RMA with the given number or reference, locked for update when asked."""
    query = select(ReturnAuthorizationRow)
    if number is not None:
        query = query.where(ReturnAuthorizationRow.number == number)
    if reference is not None:
        query = query.where(ReturnAuthorizationRow.reference == reference)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


async def rma_lines(session: AsyncSession, number: str) -> list[ReturnAuthorizationLineRow]:
    """The lines of an RMA, by order line number."""
    rows = await session.scalars(
        select(ReturnAuthorizationLineRow)
        .where(ReturnAuthorizationLineRow.rma_number == number)
        .order_by(ReturnAuthorizationLineRow.line_no)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def rma_record(session: AsyncSession, row: ReturnAuthorizationRow) -> ReturnAuthorization:
    """The port's view of an RMA row, with its lines."""
    return ReturnAuthorization(
        number=row.number,
        reference=row.reference,
        sales_order_number=row.sales_order_number,
        customer_id=row.customer_id,
        currency=row.currency,
        status=ReturnAuthorizationStatus(row.status),
        lines=[
            ReturnAuthorizationLine(
                line_no=line.line_no, sku=line.sku, quantity=line.quantity, received=line.received
            )
            for line in await rma_lines(session, row.number)
        ],
        reason=row.reason,
        crm_case_id=row.crm_case_id,
        authorized_on=row.authorized_on,
        received_at=row.received_at,
    )


async def rma_or_not_found(session: AsyncSession, number: str) -> ReturnAuthorizationRow:
    """The RMA numbered ``number``, locked; RecordNotFound when there is none."""
    row = await rma_by(session, number=number, lock=True)
    if row is None:
        raise not_found("return_authorization", number)
    return row


async def received_rma(session: AsyncSession, number: str) -> ReturnAuthorizationRow:
    """The RMA, locked, which must have received its goods."""
    rma = await rma_or_not_found(session, number)
    if rma.status != ReturnAuthorizationStatus.RECEIVED.value:
        raise state_error(
            "return_authorization",
            number,
            rma.status,
            f"return authorization {number} is {rma.status}: its goods have not been received",
        )
    return rma


async def check_quantities(
    session: AsyncSession,
    what: str,
    rma: ReturnAuthorizationRow,
    asked: Sequence[tuple[int, Decimal]],
    used: dict[int, Decimal],
    use: str,
) -> dict[int, str]:
    """InvalidRecord unless each asked quantity is positive and fits in what was received.

    Returns:
        The SKU of each RMA line.
    """
    lines = {line.line_no: line for line in await rma_lines(session, rma.number)}
    received = {line_no: line.received for line_no, line in lines.items()}
    problems = received_use_problems(rma.number, received, asked, used, use)
    if problems:
        raise invalid(what, problems)
    return {line_no: line.sku for line_no, line in lines.items()}


async def returnable_order(session: AsyncSession, order: Row[Any]) -> ReturnableOrder:
    """What shipped on ``order``, its prices and what came back of it so far."""
    lines = list(
        await session.scalars(
            select(SalesOrderLineRow)
            .where(SalesOrderLineRow.sales_order_number == order.number)
            .order_by(SalesOrderLineRow.position)
        )
    )
    product_rows = await session.execute(
        select(ProductRow.sku, ProductRow.category).where(
            ProductRow.sku.in_({line.sku for line in lines})
        )
    )
    categories = {sku: category for sku, category in product_rows}
    authorized: dict[int, Decimal] = {}
    returned: dict[int, Decimal] = {}
    rows = await session.execute(
        select(ReturnAuthorizationRow.status, ReturnAuthorizationLineRow)
        .join(
            ReturnAuthorizationLineRow,
            ReturnAuthorizationLineRow.rma_number == ReturnAuthorizationRow.number,
        )
        .where(ReturnAuthorizationRow.sales_order_number == order.number)
    )
    for status, rma_line in rows:
        if status == ReturnAuthorizationStatus.AUTHORIZED.value:
            authorized[rma_line.line_no] = (
                authorized.get(rma_line.line_no, ZERO) + rma_line.quantity
            )
        elif status == ReturnAuthorizationStatus.RECEIVED.value:
            returned[rma_line.line_no] = returned.get(rma_line.line_no, ZERO) + rma_line.received
    credited: dict[int, Decimal] = {}
    credit_rows = await session.execute(
        select(CreditNoteLineRow.line_no, CreditNoteLineRow.quantity)
        .join(CreditNoteRow, CreditNoteRow.number == CreditNoteLineRow.credit_note_number)
        .where(
            CreditNoteRow.sales_order_number == order.number,
            CreditNoteRow.status != CreditNoteStatus.CANCELLED.value,
        )
    )
    for line_no, quantity in credit_rows:
        credited[line_no] = credited.get(line_no, ZERO) + quantity
    invoice = await session.scalar(
        select(InvoiceRow).where(InvoiceRow.sales_order_number == order.number)
    )
    return ReturnableOrder(
        sales_order_number=order.number,
        customer_id=order.customer_id,
        currency=order.currency,
        status=SalesOrderStatus(order.status),
        tax_pct=order.tax_pct,
        delivered_on=order.shipped_at.date() if order.shipped_at is not None else None,
        invoice_number=invoice.number if invoice is not None else None,
        invoice_paid=invoice is not None and invoice.status == InvoiceStatus.PAID.value,
        lines=[
            ReturnableLine(
                line_no=line.line_no,
                sku=line.sku,
                category=categories.get(line.sku),
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount_pct=line.discount_pct,
                authorized=authorized.get(line.line_no, ZERO),
                returned=returned.get(line.line_no, ZERO),
                credited=credited.get(line.line_no, ZERO),
            )
            for line in lines
        ],
    )


async def get_returnable(session: AsyncSession, number: str) -> ReturnableOrder:
    """See ``SandboxERP.get_returnable``."""
    order = await sales_order_by(session, number=number, lock=False)
    if order is None:
        raise not_found("sales_order", number)
    return await returnable_order(session, order)
