"""Return authorizations (RMAs) and their goods receipts in the sandbox ERP.

Each public function is one transaction's worth of work on an ``AsyncSession``; the sandbox runs
it through ``Database.run``. Creating an RMA locks its sales order row first, so concurrent
returns of one order are decided one after the other and never authorize more than shipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sandbox.erp_records import (
    SYSTEM,
    next_number,
    not_found,
    sales_order_by,
    today,
)
from adapters.sandbox.erp_returns import (
    SHIPPED_STATES,
    invalid,
    returnable_order,
    rma_by,
    rma_lines,
    rma_or_not_found,
    rma_record,
    state_error,
)
from adapters.sandbox.erp_schema import (
    ReturnAuthorizationLineRow,
    ReturnAuthorizationRow,
)
from domain.errors import IdempotencyConflict
from domain.money import ZERO
from domain.return_quantities import receipt_quantities
from domain.returns import (
    ReturnableOrder,
    ReturnAuthorization,
    ReturnAuthorizationRequest,
    ReturnAuthorizationStatus,
    ReturnReceiptRequest,
)


def _authorization_problems(
    request: ReturnAuthorizationRequest, order: ReturnableOrder
) -> list[str]:
    """What keeps the request from being authorized against the order as it stands."""
    problems = [] if request.lines else ["lines: a return authorization needs at least one line"]
    by_line = {line.line_no: line for line in order.lines}
    seen: set[int] = set()
    for asked in request.lines:
        where = f"lines[{asked.line_no}]"
        line = by_line.get(asked.line_no)
        if line is None:
            problems.append(f"{where}: sales order {order.sales_order_number} has no such line")
        elif asked.line_no in seen:
            problems.append(f"{where}: named twice")
        elif line.sku != asked.sku:
            problems.append(f"{where}.sku: the line is {line.sku}, not {asked.sku}")
        elif asked.quantity <= ZERO:
            problems.append(f"{where}.quantity: must be positive, got {asked.quantity}")
        elif asked.quantity > line.returnable:
            problems.append(
                f"{where}.quantity: {asked.quantity} {line.sku} exceeds the {line.returnable} "
                f"still returnable ({line.quantity} shipped, {line.returned} returned, "
                f"{line.authorized} authorized)"
            )
        seen.add(asked.line_no)
    return problems


def _same_lines(
    stored: Sequence[ReturnAuthorizationLineRow], request: ReturnAuthorizationRequest
) -> bool:
    asked = sorted((a.line_no, a.sku, a.quantity) for a in request.lines)
    return [(s.line_no, s.sku, s.quantity) for s in stored] == asked


async def _existing_rma(
    session: AsyncSession, request: ReturnAuthorizationRequest
) -> ReturnAuthorization | None:
    row = await rma_by(session, reference=request.reference, lock=False)
    if row is None:
        return None
    if row.sales_order_number != request.sales_order_number or not _same_lines(
        await rma_lines(session, row.number), request
    ):
        raise IdempotencyConflict(
            f"return authorization {row.number} was created under {request.reference} for "
            "another sales order or other lines",
            reference=request.reference,
            system=SYSTEM,
        )
    return await rma_record(session, row)


async def create_return_authorization(
    session: AsyncSession, request: ReturnAuthorizationRequest
) -> ReturnAuthorization:
    """See ``SandboxERP.create_return_authorization``."""
    existing = await _existing_rma(session, request)
    if existing is not None:
        return existing
    order = await sales_order_by(session, number=request.sales_order_number, lock=True)
    if order is None:
        raise not_found("sales_order", request.sales_order_number)
    # A concurrent call with the same reference may have committed while this one waited for
    # the order's lock (PostgreSQL, read committed): look again before authorizing.
    existing = await _existing_rma(session, request)
    if existing is not None:
        return existing
    if order.status not in SHIPPED_STATES:
        raise state_error(
            "sales_order",
            order.number,
            order.status,
            f"sales order {order.number} is {order.status}: nothing shipped to return",
        )
    problems = _authorization_problems(request, await returnable_order(session, order))
    if problems:
        raise invalid(f"return authorization {request.reference}", problems)
    row = ReturnAuthorizationRow(
        number=await next_number(session, "return_authorization", "RMA-", ReturnAuthorizationRow),
        reference=request.reference,
        sales_order_number=order.number,
        customer_id=order.customer_id,
        currency=order.currency,
        status=ReturnAuthorizationStatus.AUTHORIZED.value,
        reason=request.reason,
        crm_case_id=request.crm_case_id,
        authorized_on=request.authorized_on or today(),
        receipt_reference=None,
        received_at=None,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    await session.flush()  # raises on a concurrent duplicate reference: Database.run re-runs
    session.add_all(
        ReturnAuthorizationLineRow(
            rma_number=row.number,
            line_no=line.line_no,
            sku=line.sku,
            quantity=line.quantity,
            received=ZERO,
        )
        for line in request.lines
    )
    await session.flush()
    return await rma_record(session, row)


async def get_return_authorization(
    session: AsyncSession, reference: str
) -> ReturnAuthorization | None:
    """See ``SandboxERP.get_return_authorization``."""
    row = await rma_by(session, reference=reference, lock=False)
    return None if row is None else await rma_record(session, row)


async def cancel_return_authorization(
    session: AsyncSession, reference: str
) -> ReturnAuthorization | None:
    """See ``SandboxERP.cancel_return_authorization``."""
    row = await rma_by(session, reference=reference, lock=True)
    if row is None:
        return None
    if row.status == ReturnAuthorizationStatus.RECEIVED.value:
        raise state_error(
            "return_authorization",
            reference,
            row.status,
            f"return authorization {row.number} has received goods and cannot be cancelled",
        )
    row.status = ReturnAuthorizationStatus.CANCELLED.value
    return await rma_record(session, row)


def _receipt(
    request: ReturnReceiptRequest, lines: Sequence[ReturnAuthorizationLineRow]
) -> dict[int, Decimal]:
    """What arrived per RMA line (zero for lines not named); InvalidRecord when impossible."""
    authorized = {line.line_no: line.quantity for line in lines}
    received, problems = receipt_quantities(request.rma_number, authorized, request.lines)
    if problems:
        raise invalid(f"receipt {request.reference}", problems)
    return received


async def record_return_receipt(
    session: AsyncSession, request: ReturnReceiptRequest
) -> ReturnAuthorization:
    """See ``SandboxERP.record_return_receipt``."""
    row = await rma_or_not_found(session, request.rma_number)
    lines = await rma_lines(session, row.number)
    received = _receipt(request, lines)
    stored = {line.line_no: line.received for line in lines}
    if row.receipt_reference == request.reference or row.status == (
        ReturnAuthorizationStatus.RECEIVED.value
    ):
        if stored == received:
            return await rma_record(session, row)  # the same goods, reported again
        if row.receipt_reference == request.reference:
            raise IdempotencyConflict(
                f"receipt {request.reference} recorded other quantities on {row.number}",
                reference=request.reference,
                system=SYSTEM,
            )
    other = await session.scalar(
        select(func.count())
        .select_from(ReturnAuthorizationRow)
        .where(ReturnAuthorizationRow.receipt_reference == request.reference)
    )
    if other:
        raise IdempotencyConflict(
            f"receipt {request.reference} was recorded on another RMA",
            reference=request.reference,
            system=SYSTEM,
        )
    if row.status != ReturnAuthorizationStatus.AUTHORIZED.value:
        raise state_error(
            "return_authorization",
            row.number,
            row.status,
            f"return authorization {row.number} is {row.status}: it takes no (other) receipt",
        )
    for line in lines:
        line.received = received[line.line_no]
    row.status = ReturnAuthorizationStatus.RECEIVED.value
    row.receipt_reference = request.reference
    row.received_at = datetime.now(UTC)
    await session.flush()  # raises on a concurrent duplicate reference: Database.run re-runs
    return await rma_record(session, row)
