"""Records exchanged with the CRM and the ERP, in business words.

These are what the ports speak. They are deliberately loose where real systems are loose (a CRM
order may carry a negative quantity: rejecting it is a rule in ``domain.rules``, not a parse error),
and strict where a wrong type would be a bug (money is ``Decimal``, never float).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Record(BaseModel):
    """Base of every record: unknown fields are refused so typos surface early."""

    model_config = ConfigDict(extra="forbid")


# --- CRM -------------------------------------------------------------------------------------


class CrmOrderStatus(StrEnum):
    """The order status as the CRM shows it to sales people."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    AWAITING_APPROVAL = "awaiting_approval"
    AWAITING_STOCK = "awaiting_stock"
    CONFIRMED = "confirmed"
    SHIPPED = "shipped"
    INVOICED = "invoiced"
    OVERDUE = "overdue"
    CLOSED = "closed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class CrmAccount(Record):
    """A customer account in the CRM."""

    account_id: str
    name: str
    tax_id: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    segment: str | None = None
    erp_customer_id: str | None = None


class CrmUser(Record):
    """A CRM user who may act on orders (sales rep, manager …)."""

    user_id: str
    name: str
    roles: list[str] = Field(default_factory=list)
    active: bool = True


class CrmOrderLine(Record):
    """One line of a CRM order."""

    line_no: int
    sku: str
    quantity: Decimal
    unit_price: Decimal
    currency: str
    discount_pct: Decimal = Decimal("0")


class CrmOrder(Record):
    """A sales order as the CRM holds it."""

    order_id: str
    account_id: str | None
    owner: str
    currency: str
    lines: list[CrmOrderLine]
    tax_pct: Decimal = Decimal("0")
    payment_terms_days: int = 30
    preferred_warehouse: str | None = None
    status: CrmOrderStatus = CrmOrderStatus.NEW
    erp_order_number: str | None = None
    invoice_number: str | None = None
    promised_date: date | None = None


class CrmStatusUpdate(Record):
    """A change of a CRM order's status, idempotent on ``key``."""

    key: str
    order_id: str
    status: CrmOrderStatus
    reason: str | None = None
    erp_order_number: str | None = None
    invoice_number: str | None = None
    promised_date: date | None = None


class CrmNote(Record):
    """A note on a CRM order's timeline, idempotent on ``key``.

    With ``case_id`` it belongs to that case (a return) of the order ``order_id``.
    """

    key: str
    order_id: str
    subject: str
    body: str = ""
    case_id: str | None = None


class CrmTask(Record):
    """A to-do for a CRM user or group, idempotent on ``key``."""

    key: str
    order_id: str
    subject: str
    body: str = ""
    assignee: str
    due: date | None = None
    case_id: str | None = None  # the case (of order ``order_id``) the task is about, if any


# --- ERP -------------------------------------------------------------------------------------


class CustomerData(Record):
    """What the ERP needs to create a customer; ``external_ref`` is the CRM account id."""

    external_ref: str
    name: str
    tax_id: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    currency: str


class ErpCustomer(Record):
    """A customer in the ERP."""

    customer_id: str
    external_ref: str | None = None
    name: str
    tax_id: str | None = None
    email: str | None = None
    currency: str
    credit_limit: Decimal
    blocked: bool = False


class CreditStatus(Record):
    """A customer's exposure: what it may owe and what it owes now."""

    customer_id: str
    currency: str
    credit_limit: Decimal
    open_receivables: Decimal
    blocked: bool = False


class ErpProduct(Record):
    """A product (material, item) in the ERP."""

    sku: str
    name: str
    unit: str = "pcs"
    list_price: Decimal
    currency: str
    category: str | None = None
    active: bool = True


class StockLevel(Record):
    """Stock of one product in one warehouse."""

    sku: str
    warehouse: str
    on_hand: Decimal
    reserved: Decimal

    @property
    def available(self) -> Decimal:
        """Available to promise: on hand less what is reserved."""
        return self.on_hand - self.reserved


class ReservationRequest(Record):
    """Reserve ``quantity`` of ``sku``; idempotent on ``reference``.

    ``warehouses`` is the order of preference; warehouses not named are tried after, in the ERP's
    own order.
    """

    reference: str
    sku: str
    quantity: Decimal
    warehouses: list[str] = Field(default_factory=list)


class ReservationStatus(StrEnum):
    ACTIVE = "active"
    RELEASED = "released"
    CONSUMED = "consumed"


class ReservationLine(Record):
    """The part of a reservation held in one warehouse."""

    warehouse: str
    quantity: Decimal


class Reservation(Record):
    """Stock held for an order line."""

    reference: str
    sku: str
    quantity: Decimal
    lines: list[ReservationLine]
    status: ReservationStatus = ReservationStatus.ACTIVE


class SalesOrderLine(Record):
    """One line of an ERP sales order."""

    line_no: int
    sku: str
    quantity: Decimal
    unit_price: Decimal
    discount_pct: Decimal = Decimal("0")


class SalesOrderRequest(Record):
    """Create a sales order; idempotent on ``reference``."""

    reference: str
    customer_id: str
    currency: str
    lines: list[SalesOrderLine]
    tax_pct: Decimal = Decimal("0")
    reservation_refs: list[str] = Field(default_factory=list)
    crm_order_id: str | None = None
    order_date: date | None = None  # the ERP's own today when None


class SalesOrderStatus(StrEnum):
    OPEN = "open"
    SHIPPED = "shipped"
    INVOICED = "invoiced"
    CANCELLED = "cancelled"


class SalesOrder(Record):
    """A sales order in the ERP."""

    number: str
    reference: str
    customer_id: str
    currency: str
    status: SalesOrderStatus
    net: Decimal
    tax: Decimal
    total: Decimal
    promised_date: date
    shipped_at: datetime | None = None


class InvoiceRequest(Record):
    """Invoice a shipped sales order; idempotent on ``reference``."""

    reference: str
    sales_order_number: str
    payment_terms_days: int = 30
    invoice_date: date | None = None  # the ERP's own today when None


class InvoiceStatus(StrEnum):
    OPEN = "open"
    PAID = "paid"


class Invoice(Record):
    """A customer invoice and how much of it is paid."""

    number: str
    reference: str
    sales_order_number: str
    customer_id: str
    currency: str
    net: Decimal
    tax: Decimal
    total: Decimal
    amount_paid: Decimal
    issued_on: date
    due_date: date
    status: InvoiceStatus

    @property
    def outstanding(self) -> Decimal:
        """What the customer still owes on this invoice."""
        return self.total - self.amount_paid
