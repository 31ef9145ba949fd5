"""The sandbox ERP: a small but real ERP on SQLAlchemy, implementing ``ERPPort``.

It holds warehouses, products, stock per warehouse, customers with credit limits, reservations,
sales orders, invoices and payments, and returns (RMAs, restocks, write-offs, credit notes,
refunds: ``erp_returns_port``). Stock is reserved atomically and never oversold, even under
many concurrent callers on SQLite or PostgreSQL. Besides the port it offers admin methods that
stand for what happens inside a real ERP without the integration: replenishing stock, shipping,
recording incoming payments.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from adapters.ports import ERPPort
from adapters.sandbox import erp_documents as documents
from adapters.sandbox import erp_stock as stock
from adapters.sandbox.db import SandboxSystem
from adapters.sandbox.erp_records import (
    FIND_CUSTOMER,
    OPEN_INVOICES,
    PRODUCTS,
    SYSTEM,
    count_by_prefix,
    customer_record,
    invoice_record,
    next_number,
    not_found,
    product_record,
    sales_order_by,
    sales_order_record,
)
from adapters.sandbox.erp_returns_port import SandboxReturns
from adapters.sandbox.erp_schema import (
    CustomerRow,
    ErpBase,
    InvoiceRow,
    PaymentRow,
    ProductRow,
    ReservationRow,
    SalesOrderRow,
    StockRow,
    WarehouseRow,
)
from adapters.sandbox.statements import row_by, table_of
from domain.models import (
    CreditStatus,
    CustomerData,
    ErpCustomer,
    ErpProduct,
    Invoice,
    InvoiceRequest,
    Reservation,
    ReservationRequest,
    SalesOrder,
    SalesOrderRequest,
    StockLevel,
)
from domain.money import ZERO

__all__ = ["SandboxERP"]


class SandboxERP(SandboxReturns, SandboxSystem, ERPPort):
    """The embedded ERP.

    Args:
        url: SQLAlchemy URL of its own database, e.g. ``sqlite+aiosqlite:///erp.db``.
        latency: Seconds every port call waits first, to behave like a remote system.

    Raises:
        ValueError: ``url`` is malformed or names a missing or non-async driver.
    """

    system = SYSTEM
    metadata = ErpBase.metadata

    # -- admin (not part of the port) -----------------------------------------------------------

    async def upsert_warehouse(self, code: str, name: str, lead_days: int = 1) -> None:
        """Add or change a warehouse; a new one comes after the existing ones in ERP order."""

        async def op(session: AsyncSession) -> None:
            row = await session.get(WarehouseRow, code, with_for_update=True)
            if row is None:
                last = await session.scalar(select(func.max(WarehouseRow.sort_order)))
                session.add(
                    WarehouseRow(
                        code=code, name=name, lead_days=lead_days, sort_order=(last or 0) + 1
                    )
                )
            else:
                row.name = name
                row.lead_days = lead_days

        await self._db.run(op)

    async def upsert_product(self, product: ErpProduct) -> None:
        """Add a product, or overwrite every field of an existing one."""

        async def op(session: AsyncSession) -> None:
            row = await session.get(ProductRow, product.sku, with_for_update=True)
            if row is None:
                session.add(ProductRow(**product.model_dump()))
            else:
                for field, value in product.model_dump().items():
                    setattr(row, field, value)

        await self._db.run(op)

    async def set_stock(self, sku: str, warehouse: str, on_hand: Decimal) -> None:
        """Set what is physically on hand (a goods receipt or a stock count).

        Raises:
            RecordNotFound: Unknown product or warehouse.
            InvalidState: ``on_hand`` would be less than what is reserved there.
        """

        await self._db.run(lambda session: stock.set_stock(session, sku, warehouse, on_hand))

    async def upsert_customer(
        self, customer: ErpCustomer, opening_receivables: Decimal = Decimal(0)
    ) -> None:
        """Add a customer, or overwrite an existing one, with its opening receivables."""

        async def op(session: AsyncSession) -> None:
            row = await session.get(CustomerRow, customer.customer_id, with_for_update=True)
            fields = {**customer.model_dump(), "opening_receivables": opening_receivables}
            if row is None:
                session.add(CustomerRow(**fields))
            else:
                for field, value in fields.items():
                    setattr(row, field, value)

        await self._db.run(op)

    async def ship(self, sales_order_number: str) -> SalesOrder:
        """Ship an open sales order (a goods issue); idempotent.

        The order's active reservations are consumed: in each warehouse both on-hand and reserved
        stock go down by the reserved quantity.

        Raises:
            RecordNotFound: Unknown sales order.
            InvalidState: The order is cancelled.
        """
        return await self._db.run_core(lambda conn: documents.ship(conn, sales_order_number))

    async def record_payment(self, invoice_number: str, amount: Decimal, reference: str) -> Invoice:
        """Record an incoming payment on an invoice; idempotent on ``reference``.

        Raises:
            RecordNotFound: Unknown invoice.
            InvalidRecord: ``amount`` is not positive.
            IdempotencyConflict: ``reference`` was used for another invoice or amount.
        """
        return await self._db.run_core(
            lambda conn: documents.record_payment(conn, invoice_number, amount, reference)
        )

    async def stock_snapshot(self) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
        """``(sku, warehouse) -> (on_hand, reserved)`` for every stock row."""

        async def op(session: AsyncSession) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
            rows = await session.scalars(
                select(StockRow).order_by(StockRow.sku, StockRow.warehouse)
            )
            return {(r.sku, r.warehouse): (r.on_hand, r.reserved) for r in rows}

        return await self._db.run(op, write=False)

    async def count_documents(self, reference_prefix: str) -> dict[str, int]:
        """How many documents of each kind carry a reference starting with ``reference_prefix``.

        Returns:
            Counts under the keys "reservations", "sales_orders", "invoices" and "payments".
        """
        tables = {
            "reservations": ReservationRow.reference,
            "sales_orders": SalesOrderRow.reference,
            "invoices": InvoiceRow.reference,
            "payments": PaymentRow.reference,
        }

        return await self._db.run(
            lambda session: count_by_prefix(session, tables, reference_prefix), write=False
        )

    async def customers_count(self) -> int:
        """How many customers the ERP holds."""

        async def op(session: AsyncSession) -> int:
            return int(await session.scalar(select(func.count()).select_from(CustomerRow)) or 0)

        return await self._db.run(op, write=False)

    # -- port: customers ------------------------------------------------------------------------

    async def find_customer(
        self, *, external_ref: str | None, tax_id: str | None, email: str | None
    ) -> ErpCustomer | None:
        """The customer with this external reference, else this tax id, else this e-mail.

        E-mail addresses are compared case-insensitively; several matches of one kind resolve
        to the lowest customer id.
        """
        await self._remote_call()
        candidates = [
            (query, value)
            for query, value in zip(
                FIND_CUSTOMER, (external_ref, tax_id, email and email.lower()), strict=True
            )
            if value is not None
        ]

        async def op(session: AsyncSession) -> ErpCustomer | None:
            for query, value in candidates:
                row = await session.scalar(query, {"v": value})
                if row is not None:
                    return customer_record(row)
            return None

        return await self._db.run(op, write=False)

    async def create_customer(self, data: CustomerData) -> ErpCustomer:
        """Create a customer numbered "C-000001" …; idempotent on ``data.external_ref``.

        A new customer starts unblocked with a credit limit of zero, as a credit manager has not
        looked at it yet.
        """
        await self._remote_call()

        async def op(session: AsyncSession) -> ErpCustomer:
            existing = await session.scalar(
                select(CustomerRow).where(CustomerRow.external_ref == data.external_ref)
            )
            if existing is not None:
                return customer_record(existing)
            # Looked up first, not inserted first: the customer number must not be taken for
            # a reference that already has one, or the range would have a gap.
            customer = ErpCustomer(
                customer_id=await next_number(session, "customer", "C-", CustomerRow),
                **data.model_dump(exclude={"phone", "address"}),
                credit_limit=ZERO,
                blocked=False,
            )
            # A concurrent create with the same reference fails on the unique key, and
            # ``Database.run`` re-runs this, which then finds the winner's customer.
            await session.execute(
                insert(table_of(CustomerRow)).values(
                    **customer.model_dump(),
                    phone=data.phone,
                    address=data.address,
                    opening_receivables=ZERO,
                )
            )
            return customer

        return await self._db.run(op)

    async def get_credit_status(self, customer_id: str) -> CreditStatus:
        """Credit limit and open receivables (opening balance plus what open invoices still owe).

        Raises:
            RecordNotFound: Unknown customer.
        """
        await self._remote_call()

        async def op(conn: AsyncConnection) -> CreditStatus:
            found = await conn.execute(row_by(CustomerRow, "customer_id"), {"v": customer_id})
            customer = found.first()
            if customer is None:
                raise not_found("customer", customer_id)
            invoices = await conn.execute(OPEN_INVOICES, {"c": customer_id})
            owed = sum((total - paid for total, paid in invoices), ZERO)
            return CreditStatus(
                customer_id=customer.customer_id,
                currency=customer.currency,
                credit_limit=customer.credit_limit,
                open_receivables=customer.opening_receivables + owed,
                blocked=customer.blocked,
            )

        return await self._db.run_core(op, write=False)

    # -- port: products and stock ---------------------------------------------------------------

    async def get_products(self, skus: Sequence[str]) -> list[ErpProduct]:
        """The known products among ``skus``, in the order asked, each once."""
        await self._remote_call()
        wanted = list(dict.fromkeys(skus))

        async def op(conn: AsyncConnection) -> list[ErpProduct]:
            rows = await conn.execute(PRODUCTS, {"skus": wanted})
            by_sku = {row.sku: row for row in rows}
            return [product_record(by_sku[sku]) for sku in wanted if sku in by_sku]

        return await self._db.run_core(op, write=False)

    async def get_stock(self, skus: Sequence[str]) -> list[StockLevel]:
        """Stock of each of ``skus`` per warehouse, products in the order asked, warehouses in
        the ERP's order."""
        await self._remote_call()
        return await self._db.run(lambda session: stock.stock_levels(session, skus), write=False)

    async def reserve(self, request: ReservationRequest) -> Reservation:
        """Reserve stock atomically; idempotent on ``request.reference``.

        Warehouses named in ``request.warehouses`` are drawn from first, then the others in the
        ERP's order; available stock (on hand less reserved) never drops below zero.

        Raises:
            InsufficientStock: All warehouses together hold less than requested.
            IdempotencyConflict: The reference was used for another product or quantity.
            InvalidRecord: The quantity is not positive.
        """
        await self._remote_call()
        return await self._db.run_core(lambda conn: stock.reserve(conn, request))

    async def release(self, reference: str) -> Reservation | None:
        """Release a reservation, giving its stock back; idempotent.

        Returns:
            The reservation (released), or None when none has this reference.

        Raises:
            InvalidState: The reservation was consumed by a shipment.
        """
        await self._remote_call()

        return await self._db.run(lambda session: stock.release(session, reference))

    # -- port: sales orders and invoices --------------------------------------------------------

    async def create_sales_order(self, request: SalesOrderRequest) -> SalesOrder:
        """Create a sales order numbered "SO-000001" …; idempotent on ``request.reference``.

        Its promised date is the order date plus the longest lead time of the warehouses its
        reservations draw on (one day when it has none).

        Raises:
            RecordNotFound: Unknown customer or product.
            InvalidRecord: A line with a quantity that is not positive or a negative price.
            IdempotencyConflict: The reference was used for a different order.
        """
        await self._remote_call()
        return await self._db.run_core(lambda conn: documents.create_sales_order(conn, request))

    async def get_sales_order(self, reference: str) -> SalesOrder | None:
        """The sales order created under ``reference``, or None."""
        await self._remote_call()

        async def op(session: AsyncSession) -> SalesOrder | None:
            row = await sales_order_by(session, reference=reference, lock=False)
            return None if row is None else sales_order_record(row)

        return await self._db.run(op, write=False)

    async def cancel_sales_order(self, reference: str) -> SalesOrder | None:
        """Cancel an open sales order; idempotent. Its reservations are left to the caller.

        Returns:
            The cancelled order, or None when none has this reference.

        Raises:
            InvalidState: The order has shipped or is invoiced.
        """
        await self._remote_call()
        return await self._db.run(lambda session: documents.cancel_sales_order(session, reference))

    async def create_invoice(self, request: InvoiceRequest) -> Invoice:
        """Invoice a shipped sales order, numbered "INV-000001" …; idempotent on the reference.

        Raises:
            RecordNotFound: Unknown sales order.
            InvalidState: The order has not shipped, is cancelled or is already invoiced.
            IdempotencyConflict: The reference was used for another sales order.
        """
        await self._remote_call()
        return await self._db.run_core(lambda conn: documents.create_invoice(conn, request))

    async def get_invoice(self, number: str) -> Invoice:
        """An invoice with what has been paid on it.

        Raises:
            RecordNotFound: Unknown invoice.
        """
        await self._remote_call()

        async def op(conn: AsyncConnection) -> Invoice:
            row = (await conn.execute(row_by(InvoiceRow, "number"), {"v": number})).first()
            if row is None:
                raise not_found("invoice", number)
            return invoice_record(row)

        return await self._db.run_core(op, write=False)
