"""Tables of the sandbox ERP.

Every document the integration creates (reservation, sales order, invoice, payment) carries the
caller's external reference under a unique constraint: that constraint, not a read-then-write
check, is what finally makes the writes idempotent under concurrency.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from adapters.sandbox.db import ExactDecimal, UtcDateTime


class ErpBase(DeclarativeBase):
    """Declarative base of the ERP's tables."""

    type_annotation_map = {Decimal: ExactDecimal, datetime: UtcDateTime}


class CounterRow(ErpBase):
    """Number ranges ("SO-000001" …); a row lock per range keeps the numbers gapless."""

    __tablename__ = "number_ranges"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class WarehouseRow(ErpBase):
    __tablename__ = "warehouses"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    lead_days: Mapped[int] = mapped_column(Integer)
    # The ERP's own order of warehouses, used after the caller's preferences when allocating.
    sort_order: Mapped[int] = mapped_column(Integer)


class ProductRow(ErpBase):
    __tablename__ = "products"

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    unit: Mapped[str] = mapped_column(String(16))
    list_price: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    category: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean)


class StockRow(ErpBase):
    __tablename__ = "stock"

    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"), primary_key=True)
    warehouse: Mapped[str] = mapped_column(ForeignKey("warehouses.code"), primary_key=True)
    on_hand: Mapped[Decimal]
    reserved: Mapped[Decimal]


class CustomerRow(ErpBase):
    __tablename__ = "customers"

    customer_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    tax_id: Mapped[str | None] = mapped_column(String(64), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(String(3))
    credit_limit: Mapped[Decimal]
    blocked: Mapped[bool] = mapped_column(Boolean)
    # Receivables from before this ERP's invoices (a migrated ledger balance).
    opening_receivables: Mapped[Decimal]


class ReservationRow(ErpBase):
    __tablename__ = "reservations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(200), unique=True)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"))
    quantity: Mapped[Decimal]
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


class ReservationLineRow(ErpBase):
    __tablename__ = "reservation_lines"

    reservation_id: Mapped[int] = mapped_column(
        ForeignKey("reservations.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    warehouse: Mapped[str] = mapped_column(ForeignKey("warehouses.code"))
    quantity: Mapped[Decimal]


class SalesOrderRow(ErpBase):
    __tablename__ = "sales_orders"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    reference: Mapped[str] = mapped_column(String(200), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"))
    crm_order_id: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    tax_pct: Mapped[Decimal]
    net: Mapped[Decimal]
    tax: Mapped[Decimal]
    total: Mapped[Decimal]
    order_date: Mapped[date] = mapped_column(Date)
    promised_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    shipped_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class SalesOrderLineRow(ErpBase):
    __tablename__ = "sales_order_lines"

    sales_order_number: Mapped[str] = mapped_column(
        ForeignKey("sales_orders.number", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"))
    quantity: Mapped[Decimal]
    unit_price: Mapped[Decimal]
    discount_pct: Mapped[Decimal]


class SalesOrderReservationRow(ErpBase):
    """The reservations a sales order draws on; shipping consumes the active ones."""

    __tablename__ = "sales_order_reservations"

    sales_order_number: Mapped[str] = mapped_column(
        ForeignKey("sales_orders.number", ondelete="CASCADE"), primary_key=True
    )
    # By reference, not foreign key: the ERP accepts the reference as the caller states it.
    reservation_reference: Mapped[str] = mapped_column(String(200), primary_key=True)


class InvoiceRow(ErpBase):
    __tablename__ = "invoices"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    reference: Mapped[str] = mapped_column(String(200), unique=True)
    sales_order_number: Mapped[str] = mapped_column(ForeignKey("sales_orders.number"), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    net: Mapped[Decimal]
    tax: Mapped[Decimal]
    total: Mapped[Decimal]
    amount_paid: Mapped[Decimal]
    issued_on: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))


class PaymentRow(ErpBase):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(200), unique=True)
    invoice_number: Mapped[str] = mapped_column(ForeignKey("invoices.number"), index=True)
    amount: Mapped[Decimal]
    received_at: Mapped[datetime]


# --- returns ---------------------------------------------------------------------------------


class ReturnAuthorizationRow(ErpBase):
    """An RMA. The sales order row is locked while one is created, so the authorizations of an
    order never add up to more than it shipped."""

    __tablename__ = "return_authorizations"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    reference: Mapped[str] = mapped_column(String(200), unique=True)
    sales_order_number: Mapped[str] = mapped_column(ForeignKey("sales_orders.number"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    crm_case_id: Mapped[str | None] = mapped_column(String(64))
    authorized_on: Mapped[date] = mapped_column(Date)
    receipt_reference: Mapped[str | None] = mapped_column(String(200), unique=True)
    received_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class ReturnAuthorizationLineRow(ErpBase):
    __tablename__ = "return_authorization_lines"

    rma_number: Mapped[str] = mapped_column(
        ForeignKey("return_authorizations.number", ondelete="CASCADE"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"))
    quantity: Mapped[Decimal]
    received: Mapped[Decimal]


class RestockRow(ErpBase):
    __tablename__ = "restocks"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    reference: Mapped[str] = mapped_column(String(200), unique=True)
    rma_number: Mapped[str] = mapped_column(ForeignKey("return_authorizations.number"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


class RestockLineRow(ErpBase):
    __tablename__ = "restock_lines"

    restock_number: Mapped[str] = mapped_column(
        ForeignKey("restocks.number", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"))
    warehouse: Mapped[str] = mapped_column(ForeignKey("warehouses.code"))
    quantity: Mapped[Decimal]


class WriteOffRow(ErpBase):
    __tablename__ = "write_offs"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    reference: Mapped[str] = mapped_column(String(200), unique=True)
    rma_number: Mapped[str] = mapped_column(ForeignKey("return_authorizations.number"), index=True)
    created_at: Mapped[datetime]


class WriteOffLineRow(ErpBase):
    __tablename__ = "write_off_lines"

    write_off_number: Mapped[str] = mapped_column(
        ForeignKey("write_offs.number", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"))
    quantity: Mapped[Decimal]
    reason: Mapped[str] = mapped_column(Text)


class CreditNoteRow(ErpBase):
    __tablename__ = "credit_notes"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    reference: Mapped[str] = mapped_column(String(200), unique=True)
    rma_number: Mapped[str] = mapped_column(ForeignKey("return_authorizations.number"), index=True)
    invoice_number: Mapped[str] = mapped_column(ForeignKey("invoices.number"))
    sales_order_number: Mapped[str] = mapped_column(ForeignKey("sales_orders.number"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"))
    currency: Mapped[str] = mapped_column(String(3))
    net: Mapped[Decimal]
    tax: Mapped[Decimal]
    total: Mapped[Decimal]
    issued_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


class CreditNoteLineRow(ErpBase):
    __tablename__ = "credit_note_lines"

    credit_note_number: Mapped[str] = mapped_column(
        ForeignKey("credit_notes.number", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"))
    quantity: Mapped[Decimal]
    unit_price: Mapped[Decimal]
    discount_pct: Mapped[Decimal]
    net: Mapped[Decimal]


class RefundRow(ErpBase):
    __tablename__ = "refunds"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    reference: Mapped[str] = mapped_column(String(200), unique=True)
    # One refund per credit note, whatever reference a retry brings.
    credit_note_number: Mapped[str] = mapped_column(ForeignKey("credit_notes.number"), unique=True)
    invoice_number: Mapped[str] = mapped_column(ForeignKey("invoices.number"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal]
    refunded_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime]
