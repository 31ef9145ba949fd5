"""Records of return-to-restock, in business words: the CRM case and the ERP's return documents.

A return starts as a case in the CRM (a return request on a delivered order) and goes through
these ERP documents, each created idempotently under the caller's external reference:

* a return authorization (RMA) for what the customer may send back;
* its goods receipt (what arrived), recorded by the warehouse or reported to the ERP;
* a restock (goods back on hand in a warehouse) and a write-off (scrap, with a reason);
* a credit note for the accepted value, and a refund when the invoice had been paid.

The rules over these records (eligibility, inspection, credit value) are in
``domain.return_rules``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import Field, model_validator

from domain.models import Record, SalesOrderStatus
from domain.money import ZERO

# --- CRM -------------------------------------------------------------------------------------


class CrmCaseStatus(StrEnum):
    """A return case's status as the CRM shows it to service agents."""

    NEW = "new"
    IN_REVIEW = "in_review"
    AWAITING_APPROVAL = "awaiting_approval"
    AUTHORIZED = "authorized"  # an RMA exists; the goods are expected
    RECEIVED = "received"
    NEEDS_ATTENTION = "needs_attention"  # open, for a person to take over
    RESOLVED = "resolved"  # credited or refunded
    CLOSED = "closed"  # ended without credit: see the case's outcome


TERMINAL_CASE_STATUSES = frozenset({CrmCaseStatus.RESOLVED, CrmCaseStatus.CLOSED})
"""Statuses only ``CRMPort.close_case`` sets; a case in one of them no longer changes."""


class CrmCaseOutcome(StrEnum):
    """How a case ended."""

    RESOLVED = "resolved"  # goods back, credit note (or refund) issued
    INELIGIBLE = "ineligible"  # refused by the return rules
    REJECTED = "rejected"  # refused by an approver
    NOT_RECEIVED = "not_received"  # the goods did not arrive before the deadline


class CrmCaseLine(Record):
    """What the customer wants to return from one line of the original order."""

    line_no: int  # the order line, as numbered on the CRM order (and so on the ERP sales order)
    sku: str
    quantity: Decimal
    reason: str = ""


class CrmCase(Record):
    """A return request in the CRM, on an order the customer received."""

    case_id: str
    order_id: str
    account_id: str | None = None
    owner: str  # the service agent responsible for the case
    subject: str = ""
    description: str = ""
    requested_on: date  # when the customer asked: what the return window is checked against
    lines: list[CrmCaseLine]
    status: CrmCaseStatus = CrmCaseStatus.NEW
    outcome: CrmCaseOutcome | None = None
    answer: str | None = None  # the last answer given to the customer (a reason, instructions)
    rma_number: str | None = None
    instructions: str | None = None
    credit_note_number: str | None = None


class CrmCaseUpdate(Record):
    """A change of an open case, idempotent on ``key``; fields left None keep their value."""

    key: str
    case_id: str
    status: CrmCaseStatus
    answer: str | None = None
    rma_number: str | None = None
    instructions: str | None = None

    @model_validator(mode="after")
    def _open_status(self) -> CrmCaseUpdate:
        if self.status in TERMINAL_CASE_STATUSES:
            raise ValueError(f"status {self.status.value!r} is set by a CrmCaseClosure")
        return self


class CrmCaseClosure(Record):
    """Resolve or close a case with its outcome and the answer to the customer; once per ``key``.

    The case becomes ``resolved`` for the outcome ``resolved`` and ``closed`` otherwise.
    """

    key: str
    case_id: str
    outcome: CrmCaseOutcome
    answer: str
    credit_note_number: str | None = None

    @property
    def status(self) -> CrmCaseStatus:
        """The status the case ends in."""
        if self.outcome is CrmCaseOutcome.RESOLVED:
            return CrmCaseStatus.RESOLVED
        return CrmCaseStatus.CLOSED


# --- ERP: what can be returned ---------------------------------------------------------------


class ReturnableLine(Record):
    """One line of a shipped sales order, with its price data and what came back of it."""

    line_no: int
    sku: str
    category: str | None = None  # the product's category, for the return window
    quantity: Decimal  # shipped (and invoiced) quantity
    unit_price: Decimal
    discount_pct: Decimal = ZERO
    authorized: Decimal = ZERO  # on return authorizations whose goods have not arrived yet
    returned: Decimal = ZERO  # received on earlier returns
    credited: Decimal = ZERO  # on credit notes that are not cancelled

    @property
    def returnable(self) -> Decimal:
        """What may still be authorized for return."""
        return self.quantity - self.authorized - self.returned


class ReturnableOrder(Record):
    """A sales order seen from returns: what shipped, how it was invoiced, what came back."""

    sales_order_number: str
    customer_id: str
    currency: str
    status: SalesOrderStatus
    tax_pct: Decimal
    delivered_on: date | None = None  # None while it has not shipped
    invoice_number: str | None = None
    invoice_paid: bool = False
    lines: list[ReturnableLine]


# --- ERP: return authorization and receipt ---------------------------------------------------


class ReturnLineRequest(Record):
    """Authorize the return of ``quantity`` of sales order line ``line_no`` (of ``sku``)."""

    line_no: int
    sku: str
    quantity: Decimal


class ReturnAuthorizationRequest(Record):
    """Create a return authorization (RMA); idempotent on ``reference``."""

    reference: str
    sales_order_number: str
    lines: list[ReturnLineRequest]
    reason: str = ""
    crm_case_id: str | None = None
    authorized_on: date | None = None  # the ERP's own today when None


class ReturnAuthorizationStatus(StrEnum):
    AUTHORIZED = "authorized"  # goods expected
    RECEIVED = "received"  # goods arrived; restock, write-off and credit may follow
    CANCELLED = "cancelled"


class ReturnAuthorizationLine(Record):
    """One line of an RMA: what may come back, and what did."""

    line_no: int
    sku: str
    quantity: Decimal
    received: Decimal = ZERO


class ReturnAuthorization(Record):
    """A return authorization with its status; ``number`` is the RMA number."""

    number: str
    reference: str
    sales_order_number: str
    customer_id: str
    currency: str
    status: ReturnAuthorizationStatus
    lines: list[ReturnAuthorizationLine]
    reason: str = ""
    crm_case_id: str | None = None
    authorized_on: date
    received_at: datetime | None = None


class ReceiptLine(Record):
    """What arrived of one RMA line (zero when nothing did)."""

    line_no: int
    quantity: Decimal


class ReturnReceiptRequest(Record):
    """Record the goods that arrived for an RMA; idempotent on ``reference``.

    An RMA has one receipt: RMA lines not named received nothing.
    """

    reference: str
    rma_number: str
    lines: list[ReceiptLine]


# --- ERP: restock and write-off --------------------------------------------------------------


class RestockLine(Record):
    """Put ``quantity`` of an RMA line back on hand in ``warehouse``."""

    line_no: int
    warehouse: str
    quantity: Decimal


class RestockRequest(Record):
    """Restock received goods; idempotent on ``reference``."""

    reference: str
    rma_number: str
    lines: list[RestockLine]


class RestockStatus(StrEnum):
    POSTED = "posted"
    REVERSED = "reversed"


class RestockedLine(Record):
    line_no: int
    sku: str
    warehouse: str
    quantity: Decimal


class Restock(Record):
    """A stock receipt from a return: each line raised the warehouse's on-hand stock."""

    number: str
    reference: str
    rma_number: str
    status: RestockStatus
    lines: list[RestockedLine]


class ScrapLine(Record):
    """Write off ``quantity`` of an RMA line, for ``reason``."""

    line_no: int
    quantity: Decimal
    reason: str


class WriteOffRequest(Record):
    """Write off received goods that cannot be sold again; idempotent on ``reference``."""

    reference: str
    rma_number: str
    lines: list[ScrapLine]


class ScrappedLine(Record):
    line_no: int
    sku: str
    quantity: Decimal
    reason: str


class WriteOff(Record):
    """A scrap document; the goods never went back on hand, so stock is unchanged."""

    number: str
    reference: str
    rma_number: str
    lines: list[ScrappedLine]


# --- ERP: credit note and refund -------------------------------------------------------------


class CreditQuantity(Record):
    """Credit ``quantity`` of an RMA line."""

    line_no: int
    quantity: Decimal


class CreditNoteRequest(Record):
    """Credit accepted goods against the original invoice; idempotent on ``reference``.

    The ERP prices the credit itself, pro rata of the invoice (see
    ``domain.return_rules.credit_amounts``).
    """

    reference: str
    rma_number: str
    lines: list[CreditQuantity]
    credit_date: date | None = None  # the ERP's own today when None


class CreditNoteStatus(StrEnum):
    OPEN = "open"  # a credit the customer holds (offset against what it owes)
    REFUNDED = "refunded"  # paid out by a refund
    CANCELLED = "cancelled"


class CreditNoteLine(Record):
    """One credited line, with its net value."""

    line_no: int
    sku: str
    quantity: Decimal
    unit_price: Decimal
    discount_pct: Decimal = ZERO
    net: Decimal


class CreditNote(Record):
    """A credit note for returned goods."""

    number: str
    reference: str
    rma_number: str
    invoice_number: str
    sales_order_number: str
    customer_id: str
    currency: str
    lines: list[CreditNoteLine]
    net: Decimal
    tax: Decimal
    total: Decimal
    issued_on: date
    status: CreditNoteStatus


class RefundRequest(Record):
    """Pay out an open credit note (its invoice was paid); idempotent on ``reference``."""

    reference: str
    credit_note_number: str


class Refund(Record):
    """Money paid back to the customer for a credit note."""

    number: str
    reference: str
    credit_note_number: str
    invoice_number: str
    customer_id: str
    currency: str
    amount: Decimal
    refunded_on: date


class CreditAmounts(Record):
    """The priced lines and totals of a credit (before it is a document)."""

    currency: str
    lines: list[CreditNoteLine] = Field(default_factory=list)
    net: Decimal = ZERO
    tax: Decimal = ZERO
    total: Decimal = ZERO
