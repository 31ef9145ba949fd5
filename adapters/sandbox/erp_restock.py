"""Restocks and write-offs of returned goods in the sandbox ERP.

Each public function is one transaction's worth of work on an ``AsyncSession``; the sandbox runs
it through ``Database.run``. The RMA row is locked before its quantities are checked, so what is
restocked plus what is scrapped never exceeds what was received, however many callers race; a
restock raises on-hand stock by exactly its quantities and a reversal takes exactly them off.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sandbox.erp_records import (
    lock_stock,
    next_number,
    not_found,
)
from adapters.sandbox.erp_returns import (
    check_quantities,
    conflict,
    invalid,
    received_rma,
    state_error,
)
from adapters.sandbox.erp_schema import (
    RestockLineRow,
    RestockRow,
    StockRow,
    WarehouseRow,
    WriteOffLineRow,
    WriteOffRow,
)
from domain.money import ZERO
from domain.return_quantities import summed
from domain.returns import (
    Restock,
    RestockedLine,
    RestockRequest,
    RestockStatus,
    ScrappedLine,
    WriteOff,
    WriteOffRequest,
)


async def _disposed(session: AsyncSession, rma_number: str) -> dict[int, Decimal]:
    """What of each RMA line is restocked (not reversed) or written off already."""
    restocked = await session.execute(
        select(RestockLineRow.line_no, RestockLineRow.quantity)
        .join(RestockRow, RestockRow.number == RestockLineRow.restock_number)
        .where(RestockRow.rma_number == rma_number, RestockRow.status == RestockStatus.POSTED.value)
    )
    scrapped = await session.execute(
        select(WriteOffLineRow.line_no, WriteOffLineRow.quantity)
        .join(WriteOffRow, WriteOffRow.number == WriteOffLineRow.write_off_number)
        .where(WriteOffRow.rma_number == rma_number)
    )
    return summed([(n, q) for n, q in restocked] + [(n, q) for n, q in scrapped])


async def _restock_record(session: AsyncSession, row: RestockRow) -> Restock:
    lines = await session.scalars(
        select(RestockLineRow)
        .where(RestockLineRow.restock_number == row.number)
        .order_by(RestockLineRow.position)
    )
    return Restock(
        number=row.number,
        reference=row.reference,
        rma_number=row.rma_number,
        status=RestockStatus(row.status),
        lines=[
            RestockedLine(line_no=x.line_no, sku=x.sku, warehouse=x.warehouse, quantity=x.quantity)
            for x in lines
        ],
    )


async def _existing_restock(session: AsyncSession, request: RestockRequest) -> Restock | None:
    row = await session.scalar(select(RestockRow).where(RestockRow.reference == request.reference))
    if row is None:
        return None
    record = await _restock_record(session, row)
    stored = [(x.line_no, x.warehouse, x.quantity) for x in record.lines]
    asked = [(x.line_no, x.warehouse, x.quantity) for x in request.lines]
    if record.rma_number != request.rma_number or stored != asked:
        raise conflict("restock", row.number, request.reference)
    return record


async def restock_return(session: AsyncSession, request: RestockRequest) -> Restock:
    """See ``SandboxERP.restock_return``."""
    existing = await _existing_restock(session, request)
    if existing is not None:
        return existing
    rma = await received_rma(session, request.rma_number)
    existing = await _existing_restock(session, request)  # committed while this one waited
    if existing is not None:
        return existing
    asked = [(line.line_no, line.quantity) for line in request.lines]
    used = await _disposed(session, rma.number)
    skus = await check_quantities(
        session, f"restock {request.reference}", rma, asked, used, "restocked or scrapped"
    )
    for code in sorted({line.warehouse for line in request.lines}):
        if await session.get(WarehouseRow, code) is None:
            raise not_found("warehouse", code)
    stock = await lock_stock(session, skus.values())
    row = RestockRow(
        number=await next_number(session, "restock", "RST-", RestockRow),
        reference=request.reference,
        rma_number=rma.number,
        status=RestockStatus.POSTED.value,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    await session.flush()  # raises on a concurrent duplicate reference: Database.run re-runs
    for position, line in enumerate(request.lines):
        sku = skus[line.line_no]
        level = stock.get((sku, line.warehouse))
        if level is None:
            level = StockRow(sku=sku, warehouse=line.warehouse, on_hand=ZERO, reserved=ZERO)
            session.add(level)
            stock[(sku, line.warehouse)] = level
        level.on_hand = level.on_hand + line.quantity
        session.add(
            RestockLineRow(
                restock_number=row.number,
                position=position,
                line_no=line.line_no,
                sku=sku,
                warehouse=line.warehouse,
                quantity=line.quantity,
            )
        )
    await session.flush()
    return await _restock_record(session, row)


async def reverse_restock(session: AsyncSession, reference: str) -> Restock | None:
    """See ``SandboxERP.reverse_restock``."""
    row = await session.scalar(
        select(RestockRow)
        .where(RestockRow.reference == reference)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None:
        return None
    record = await _restock_record(session, row)
    if row.status == RestockStatus.REVERSED.value:
        return record
    stock = await lock_stock(session, {line.sku for line in record.lines})
    taken = _summed_by_place(record.lines)
    for (sku, warehouse), quantity in taken.items():
        level = stock.get((sku, warehouse))
        available = ZERO if level is None else level.on_hand - level.reserved
        if available < quantity:
            raise state_error(
                "stock",
                f"{sku}@{warehouse}",
                f"available={available}",
                f"restock {reference} cannot be reversed: only {available} {sku} available in "
                f"{warehouse}, {quantity} were restocked",
            )
    for (sku, warehouse), quantity in taken.items():
        level = stock[(sku, warehouse)]
        level.on_hand = level.on_hand - quantity
    row.status = RestockStatus.REVERSED.value
    return record.model_copy(update={"status": RestockStatus.REVERSED})


def _summed_by_place(lines: Sequence[RestockedLine]) -> dict[tuple[str, str], Decimal]:
    total: dict[tuple[str, str], Decimal] = {}
    for line in lines:
        key = (line.sku, line.warehouse)
        total[key] = total.get(key, ZERO) + line.quantity
    return total


async def _write_off_record(session: AsyncSession, row: WriteOffRow) -> WriteOff:
    lines = await session.scalars(
        select(WriteOffLineRow)
        .where(WriteOffLineRow.write_off_number == row.number)
        .order_by(WriteOffLineRow.position)
    )
    return WriteOff(
        number=row.number,
        reference=row.reference,
        rma_number=row.rma_number,
        lines=[
            ScrappedLine(line_no=x.line_no, sku=x.sku, quantity=x.quantity, reason=x.reason)
            for x in lines
        ],
    )


async def _existing_write_off(session: AsyncSession, request: WriteOffRequest) -> WriteOff | None:
    row = await session.scalar(
        select(WriteOffRow).where(WriteOffRow.reference == request.reference)
    )
    if row is None:
        return None
    record = await _write_off_record(session, row)
    stored = [(x.line_no, x.quantity, x.reason) for x in record.lines]
    asked = [(x.line_no, x.quantity, x.reason) for x in request.lines]
    if record.rma_number != request.rma_number or stored != asked:
        raise conflict("write-off", row.number, request.reference)
    return record


async def write_off_return(session: AsyncSession, request: WriteOffRequest) -> WriteOff:
    """See ``SandboxERP.write_off_return``."""
    existing = await _existing_write_off(session, request)
    if existing is not None:
        return existing
    rma = await received_rma(session, request.rma_number)
    existing = await _existing_write_off(session, request)
    if existing is not None:
        return existing
    unexplained = [
        f"lines[{line.line_no}].reason: scrap needs a reason"
        for line in request.lines
        if not line.reason.strip()
    ]
    if unexplained:
        raise invalid(f"write-off {request.reference}", unexplained)
    asked = [(line.line_no, line.quantity) for line in request.lines]
    used = await _disposed(session, rma.number)
    skus = await check_quantities(
        session, f"write-off {request.reference}", rma, asked, used, "restocked or scrapped"
    )
    row = WriteOffRow(
        number=await next_number(session, "write_off", "WO-", WriteOffRow),
        reference=request.reference,
        rma_number=rma.number,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    await session.flush()  # raises on a concurrent duplicate reference: Database.run re-runs
    session.add_all(
        WriteOffLineRow(
            write_off_number=row.number,
            position=position,
            line_no=line.line_no,
            sku=skus[line.line_no],
            quantity=line.quantity,
            reason=line.reason,
        )
        for position, line in enumerate(request.lines)
    )
    await session.flush()
    return await _write_off_record(session, row)
