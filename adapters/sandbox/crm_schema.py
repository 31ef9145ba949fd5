"""Tables of the sandbox CRM, how an order row reads back, and the statements its hot path runs.

The CRM is deliberately loose, like the systems it stands in for: an order may lack an account,
carry duplicate line numbers or a negative quantity. Only the idempotency keys are strict.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Row,
    String,
    Text,
    bindparam,
    insert,
    select,
)
from sqlalchemy import update as sql_update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from adapters.sandbox.db import ExactDecimal, UtcDateTime
from adapters.sandbox.statements import table_of


class CrmBase(DeclarativeBase):
    """Declarative base of the CRM's tables."""

    type_annotation_map = {Decimal: ExactDecimal, datetime: UtcDateTime}


class AccountRow(CrmBase):
    __tablename__ = "accounts"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    tax_id: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(Text)
    segment: Mapped[str | None] = mapped_column(String(64))
    # The cross-reference to the ERP's customer, written by the integration.
    erp_customer_id: Mapped[str | None] = mapped_column(String(64))


class UserRow(CrmBase):
    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class UserRoleRow(CrmBase):
    __tablename__ = "user_roles"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class OrderRow(CrmBase):
    __tablename__ = "orders"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # No foreign key: CRMs let an order outlive (or precede) its account.
    account_id: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(16))
    tax_pct: Mapped[Decimal]
    payment_terms_days: Mapped[int] = mapped_column(Integer)
    preferred_warehouse: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    erp_order_number: Mapped[str | None] = mapped_column(String(64))
    invoice_number: Mapped[str | None] = mapped_column(String(64))
    promised_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OrderLineRow(CrmBase):
    __tablename__ = "order_lines"

    # A surrogate key: line numbers are whatever the sales rep typed, duplicates included.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(
        ForeignKey("orders.order_id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[Decimal]
    unit_price: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(16))
    discount_pct: Mapped[Decimal]


class StatusHistoryRow(CrmBase):
    __tablename__ = "order_status_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    order_id: Mapped[str] = mapped_column(
        ForeignKey("orders.order_id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    erp_order_number: Mapped[str | None] = mapped_column(String(64))
    invoice_number: Mapped[str | None] = mapped_column(String(64))
    promised_date: Mapped[date | None] = mapped_column(Date)
    recorded_at: Mapped[datetime]


class NoteRow(CrmBase):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    order_id: Mapped[str] = mapped_column(
        ForeignKey("orders.order_id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    # The return case of the order the note belongs to, if any (no foreign key, as order_id).
    case_id: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]


class TaskRow(CrmBase):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    order_id: Mapped[str] = mapped_column(
        ForeignKey("orders.order_id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    # A user id or a group such as "role:approver"; CRMs do not check it.
    assignee: Mapped[str] = mapped_column(String(200))
    due: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(32), default="open")
    case_id: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]


def order_payload(
    row: OrderRow | Row[Any], lines: Iterable[OrderLineRow | Row[Any]]
) -> dict[str, Any]:
    """An order as plain data, to be validated into ``CrmOrder`` (which may find it unreadable)."""
    return {
        "order_id": row.order_id,
        "account_id": row.account_id,
        "owner": row.owner,
        "currency": row.currency,
        "tax_pct": row.tax_pct,
        "payment_terms_days": row.payment_terms_days,
        "preferred_warehouse": row.preferred_warehouse,
        "status": row.status,
        "erp_order_number": row.erp_order_number,
        "invoice_number": row.invoice_number,
        "promised_date": row.promised_date,
        "lines": [
            {
                "line_no": line.line_no,
                "sku": line.sku,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "currency": line.currency,
                "discount_pct": line.discount_pct,
            }
            for line in lines
        ],
    }


# --- return cases ----------------------------------------------------------------------------


class CaseRow(CrmBase):
    """A return case on an order; loose like orders (any status text is stored as it is)."""

    __tablename__ = "cases"

    case_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(
        ForeignKey("orders.order_id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text)
    requested_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(32))
    answer: Mapped[str | None] = mapped_column(Text)
    rma_number: Mapped[str | None] = mapped_column(String(64))
    instructions: Mapped[str | None] = mapped_column(Text)
    credit_note_number: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CaseLineRow(CrmBase):
    __tablename__ = "case_lines"

    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.case_id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[Decimal]
    reason: Mapped[str] = mapped_column(Text)


class CaseHistoryRow(CrmBase):
    """Every update or closure applied to a case, once per key."""

    __tablename__ = "case_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.case_id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(32))
    answer: Mapped[str | None] = mapped_column(Text)
    rma_number: Mapped[str | None] = mapped_column(String(64))
    instructions: Mapped[str | None] = mapped_column(Text)
    credit_note_number: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime]


# Built once: building a statement costs more than running it on SQLite. The UPDATE sets the
# columns named in its parameters.
STATUSES_APPLIED = select(StatusHistoryRow.key).where(
    StatusHistoryRow.key.in_(bindparam("keys", expanding=True))
)
SET_ORDER = sql_update(table_of(OrderRow)).where(table_of(OrderRow).c.order_id == bindparam("oid"))
ADD_HISTORY = insert(table_of(StatusHistoryRow))
_LINES = table_of(OrderLineRow)
ORDER_LINES = select(_LINES).where(_LINES.c.order_id == bindparam("o")).order_by(_LINES.c.position)
