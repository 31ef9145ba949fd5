"""Stock of the sandbox ERP: levels, replenishment, reservations and their release.

Each function is one transaction's worth of work on an ``AsyncSession``; ``SandboxERP`` runs it
through ``Database.run``. Stock rows are always locked through ``lock_stock`` before they are
read for a decision, which is what keeps concurrent reservations from overselling.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sandbox.erp_records import (
    SYSTEM,
    lock_stock,
    not_found,
    reservation_by_reference,
    reservation_lines,
    reservation_record,
    warehouses_in_order,
)
from adapters.sandbox.erp_schema import (
    ProductRow,
    ReservationLineRow,
    ReservationRow,
    StockRow,
    WarehouseRow,
)
from domain.errors import IdempotencyConflict, InsufficientStock, InvalidRecord, InvalidState
from domain.models import Reservation, ReservationRequest, ReservationStatus, StockLevel
from domain.money import ZERO
from domain.rules import allocate


async def stock_levels(session: AsyncSession, skus: Sequence[str]) -> list[StockLevel]:
    """See ``SandboxERP.get_stock``."""
    wanted = list(dict.fromkeys(skus))
    order = {w.code: i for i, w in enumerate(await warehouses_in_order(session))}
    rows = list(await session.scalars(select(StockRow).where(StockRow.sku.in_(wanted))))
    rank = {sku: i for i, sku in enumerate(wanted)}
    rows.sort(key=lambda r: (rank[r.sku], order.get(r.warehouse, len(order))))
    return [
        StockLevel(sku=r.sku, warehouse=r.warehouse, on_hand=r.on_hand, reserved=r.reserved)
        for r in rows
    ]


async def set_stock(session: AsyncSession, sku: str, warehouse: str, on_hand: Decimal) -> None:
    """See ``SandboxERP.set_stock``."""
    if await session.get(ProductRow, sku) is None:
        raise not_found("product", sku)
    if await session.get(WarehouseRow, warehouse) is None:
        raise not_found("warehouse", warehouse)
    row = (await lock_stock(session, [sku])).get((sku, warehouse))
    reserved = row.reserved if row is not None else ZERO
    if on_hand < reserved:
        raise InvalidState(
            f"stock of {sku} in {warehouse} cannot go to {on_hand}: {reserved} is reserved",
            kind="stock",
            key=f"{sku}@{warehouse}",
            state=f"reserved={reserved}",
            system=SYSTEM,
        )
    if row is None:
        session.add(StockRow(sku=sku, warehouse=warehouse, on_hand=on_hand, reserved=ZERO))
    else:
        row.on_hand = on_hand


async def reserve(session: AsyncSession, request: ReservationRequest) -> Reservation:
    """See ``SandboxERP.reserve``."""
    existing = await reservation_by_reference(session, request.reference)
    if existing is None and request.quantity <= ZERO:
        raise InvalidRecord(
            f"reservation {request.reference}: quantity must be positive",
            problems=[f"quantity: must be positive, got {request.quantity}"],
            system=SYSTEM,
        )
    if existing is None:
        stock = await lock_stock(session, [request.sku])
        # A concurrent call with the same reference may have committed while this one waited
        # for the stock locks (PostgreSQL, read committed): look again before allocating.
        existing = await reservation_by_reference(session, request.reference)
    if existing is not None:
        if existing.sku != request.sku or existing.quantity != request.quantity:
            raise IdempotencyConflict(
                f"reservation {request.reference} exists for {existing.quantity} "
                f"{existing.sku}, not {request.quantity} {request.sku}",
                reference=request.reference,
                system=SYSTEM,
            )
        return await reservation_record(session, existing)

    available = [
        (w.code, level.on_hand - level.reserved)
        for w in await warehouses_in_order(session)
        if (level := stock.get((request.sku, w.code))) is not None
    ]
    lines = allocate(request.quantity, available, list(dict.fromkeys(request.warehouses)))
    if lines is None:
        total = sum((max(quantity, ZERO) for _, quantity in available), ZERO)
        raise InsufficientStock(
            f"only {total} of {request.quantity} {request.sku} available",
            sku=request.sku,
            requested=str(request.quantity),
            available=str(total),
            system=SYSTEM,
        )
    for line in lines:
        row = stock[(request.sku, line.warehouse)]
        row.reserved = row.reserved + line.quantity
    reservation = ReservationRow(
        reference=request.reference,
        sku=request.sku,
        quantity=request.quantity,
        status=ReservationStatus.ACTIVE.value,
        created_at=datetime.now(UTC),
    )
    session.add(reservation)
    await session.flush()  # raises on a concurrent duplicate reference: Database.run re-runs
    session.add_all(
        ReservationLineRow(
            reservation_id=reservation.id,
            position=position,
            warehouse=line.warehouse,
            quantity=line.quantity,
        )
        for position, line in enumerate(lines)
    )
    return Reservation(
        reference=request.reference,
        sku=request.sku,
        quantity=request.quantity,
        lines=lines,
        status=ReservationStatus.ACTIVE,
    )


async def release(session: AsyncSession, reference: str) -> Reservation | None:
    """See ``SandboxERP.release``."""
    row = await reservation_by_reference(session, reference, lock=True)
    if row is None:
        return None
    if row.status == ReservationStatus.CONSUMED.value:
        raise InvalidState(
            f"reservation {reference} is consumed (shipped)",
            kind="reservation",
            key=reference,
            state=row.status,
            system=SYSTEM,
        )
    if row.status == ReservationStatus.ACTIVE.value:
        stock = await lock_stock(session, [row.sku])
        for line in await reservation_lines(session, row):
            level = stock[(row.sku, line.warehouse)]
            level.reserved = level.reserved - line.quantity
        row.status = ReservationStatus.RELEASED.value
    return await reservation_record(session, row)
